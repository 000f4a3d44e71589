/* bb_status.h: the one status type every braininabox kernel returns.
 *
 * 0 is success, errors are negative (the CMSIS-NN convention). Kernels check
 * their arguments and return one of these instead of reading or writing out
 * of bounds; the Python binding turns them into exceptions with context. */
#ifndef BB_STATUS_H
#define BB_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bb_status {
    BB_OK = 0,
    BB_ERR_NULL = -1,     /* a required pointer is NULL */
    BB_ERR_SHAPE = -2,    /* a dimension is negative, zero where it may not be, or inconsistent */
    BB_ERR_ARGUMENT = -3, /* a stride, kernel size, flag or hyper-parameter is out of range */
    BB_ERR_SCRATCH = -4,  /* scratch buffer smaller than its *_scratch_size() or misaligned */
    BB_ERR_LABEL = -5,    /* a class label outside [0, classes) */
    BB_ERR_VERSION = -6,  /* a model from another format version */
    BB_ERR_ARENA = -7,    /* the arena is smaller than the model's memory plan */
    BB_ERR_CORRUPT = -8,  /* a model whose checksum does not match its contents */
    BB_ERR_ALIGN = -9     /* an arena not 4-byte aligned (the kernels' scratch needs word alignment) */
} bb_status;

/* A short human-readable description of a status; never NULL. */
const char *bb_status_message(bb_status status);

#ifdef __cplusplus
}
#endif

#endif /* BB_STATUS_H */
