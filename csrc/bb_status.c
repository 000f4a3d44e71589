#include "bb_status.h"

/* A switch without a default: -Wswitch flags any enum value added without a message. */
const char *bb_status_message(bb_status status)
{
    switch (status) {
    case BB_OK: return "ok";
    case BB_ERR_NULL: return "a required pointer is NULL";
    case BB_ERR_SHAPE: return "invalid or inconsistent shape";
    case BB_ERR_ARGUMENT: return "argument out of range";
    case BB_ERR_SCRATCH: return "scratch buffer too small or misaligned";
    case BB_ERR_LABEL: return "class label out of range";
    case BB_ERR_VERSION: return "model format version mismatch";
    case BB_ERR_ARENA: return "arena smaller than the model's memory plan";
    case BB_ERR_CORRUPT: return "model checksum mismatch (corrupted model)";
    case BB_ERR_ALIGN: return "arena not 4-byte aligned (declare it as a union with a uint32_t)";
    }
    return "unknown status";
}
