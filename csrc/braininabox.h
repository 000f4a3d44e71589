/* braininabox.h: the whole float32 C core in one include. */
#ifndef BRAININABOX_H
#define BRAININABOX_H

#include "bb_status.h"
#include "bb_matmul.h"
#include "bb_conv2d.h"
#include "bb_pool2d.h"
#include "bb_softmax.h"
#include "bb_optim.h"

#endif /* BRAININABOX_H */
