/* braininabox.h: the whole C core in one include: float32 training kernels, int8 inference kernels and the int8 audio front end. */
#ifndef BRAININABOX_H
#define BRAININABOX_H

#include "bb_status.h"
#include "bb_threads.h"
#include "bb_matmul.h"
#include "bb_linear.h"
#include "bb_conv2d.h"
#include "bb_depthwise.h"
#include "bb_pool2d.h"
#include "bb_batchnorm.h"
#include "bb_softmax.h"
#include "bb_optim.h"
#include "bb_elementwise.h"
#include "bb_requantize.h"
#include "bb_int8.h"
#include "bb_int8_graph.h"
#include "bb_band_chain_s8.h"
#include "bb_audio.h"

#endif /* BRAININABOX_H */
