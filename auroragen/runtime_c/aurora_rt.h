/* aurora_rt.h - the auroragen runtime: types, error codes and constants shared by
 * every generated model. Header only: two models linked into one program share it. */
#ifndef AURORA_RT_H
#define AURORA_RT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define AURORA_ABI_VERSION 1

/* Return codes of P_run: 0 on success, negative on error. */
#define AURORA_OK 0
#define AURORA_E_NULL (-1)      /* a NULL input, output or (needed) arena pointer */
#define AURORA_E_ALIGN (-2)     /* the arena is not aligned to AURORA_ARENA_ALIGN bytes */
#define AURORA_E_INDEX (-3)     /* an index tensor held a value out of range */

#define AURORA_ARENA_ALIGN 64

#define AURORA_INF INFINITY
#define AURORA_NAN NAN

/* Metadata of one graph input or output. */
typedef struct {
    const char *name;     /* the ONNX name */
    int32_t dtype;        /* ONNX TensorProto.DataType value: 1 float, 7 int64, 9 bool ... */
    int32_t rank;
    const int64_t *shape; /* rank entries */
} aurora_tensor_info;

#endif /* AURORA_RT_H */
