/* aurora_rt.h - the auroragen runtime: types, error codes and constants shared by
 * every generated model. Header only: two models linked into one program share it. */
#ifndef AURORA_RT_H
#define AURORA_RT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* The clip of recurrent ops' gate pre-activations. */
static inline double aurora_rnn_clip(double v, double limit)
{
    return v < -limit ? -limit : (v > limit ? limit : v);
}

/* Reflect x into [lo, hi] (GridSample's reflection padding). */
static inline double aurora_reflect(double x, double lo, double hi)
{
    const double range = hi - lo;
    if (x < lo) {
        const double dx = lo - x;
        const long n = (long)(dx / range);
        const double r = dx - (double)n * range;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        const double dx = x - hi;
        const long n = (long)(dx / range);
        const double r = dx - (double)n * range;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

/* The four cubic-convolution weights (Keys, coefficient a) of the taps around t in [0, 1). */
static inline void aurora_cubic_coeffs(double t, double a, double w[4])
{
    const double d[4] = {t + 1, t, 1 - t, 2 - t};
    for (int k = 0; k < 4; ++k) {
        const double x = d[k];
        w[k] = x <= 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }
}

/* float16 and bfloat16 are stored as their bits (uint16_t) and computed in float.
 * Conversions to them round to nearest, ties to even; NaN stays NaN. */
static inline float aurora_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
    if (exp == 0 && man == 0) {
        bits = sign;
    } else if (exp == 0) { /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            --exp;
        }
        bits = sign | (exp << 23) | ((man & 0x3FFu) << 13);
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t aurora_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);  /* NaN */
    if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520: infinity */
    if (ax < 0x33000000u) return (uint16_t)sign;               /* < 2^-25: zero */
    if (ax < 0x38800000u) {                                    /* subnormal result */
        const uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u, shift = 126 - e;
        uint32_t q = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) ++q;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax - 0x38000000u;
    r += 0x0FFFu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

static inline float aurora_bf16_to_f32(uint16_t h)
{
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t aurora_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

#endif /* AURORA_RT_H */
