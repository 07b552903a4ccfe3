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

#if defined(__GNUC__)
#define AURORA_NOINLINE __attribute__((noinline))
#else
#define AURORA_NOINLINE
#endif
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

/* The narrow types are stored one element per byte, their bits in the low end (the layout of
 * numpy's ml_dtypes arrays); readers ignore unused high bits. Floats among them are computed in
 * float: to them, round to nearest, ties to even; `sat` clamps finite overflow and infinities to
 * the largest finite value (ONNX Cast's saturate), else overflow gives infinity or NaN as the
 * kind has them. Integers among them wrap, as ONNX Cast's integer conversions do. */
static inline float aurora_bits_to_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t aurora_f32_to_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* A minifloat magnitude (sign bit cleared) with mbits mantissa bits and exponent bias `bias`. */
static inline float aurora_mini_to_f32(uint32_t mag, int mbits, int bias)
{
    const uint32_t e = mag >> mbits, m = mag & ((1u << mbits) - 1u);
    if (e == 0) /* subnormal: m * 2^(1 - bias - mbits), exact in float */
        return (float)m * aurora_bits_to_f32((uint32_t)(127 + 1 - bias - mbits) << 23);
    return aurora_bits_to_f32(((e - (uint32_t)bias + 127u) << 23) | (m << (23 - mbits)));
}

/* v / 2^s rounded to nearest, ties to even (1 <= s <= 31). */
static inline uint32_t aurora_rne_shift(uint32_t v, int s)
{
    const uint32_t q = v >> s, r = v & ((1u << s) - 1u), half = 1u << (s - 1);
    return q + (r > half || (r == half && (q & 1u)));
}

/* |x| (finite float32 bits, sign cleared) as a minifloat code with mbits mantissa bits and bias
 * `bias`, rounded to nearest even; the code may pass the kind's largest finite one (caller checks). */
static inline uint32_t aurora_f32_to_mini(uint32_t a, int mbits, int bias)
{
    const int e32 = (int)(a >> 23);
    if (e32 == 0) return 0; /* a float32 subnormal lies below half of every minifloat's least value */
    const uint32_t full = (a & 0x7FFFFFu) | 0x800000u;
    const int et = e32 - 127 + bias;
    if (et >= 1) return ((uint32_t)(et - 1) << mbits) + aurora_rne_shift(full, 23 - mbits);
    const int s = 23 - mbits + 1 - et;
    return s > 25 ? 0 : aurora_rne_shift(full, s);
}

static inline float aurora_f8e4m3fn_to_f32(uint8_t b)
{
    const float v = (b & 0x7Fu) == 0x7Fu ? AURORA_NAN : aurora_mini_to_f32(b & 0x7Fu, 3, 7);
    return b & 0x80u ? -v : v;
}

static inline float aurora_f8e4m3fnuz_to_f32(uint8_t b)
{
    if (b == 0x80u) return AURORA_NAN;
    const float v = aurora_mini_to_f32(b & 0x7Fu, 3, 8);
    return b & 0x80u ? -v : v;
}

static inline float aurora_f8e5m2_to_f32(uint8_t b)
{
    const uint32_t mag = b & 0x7Fu;
    const float v = mag > 0x7Cu ? AURORA_NAN : (mag == 0x7Cu ? AURORA_INF : aurora_mini_to_f32(mag, 2, 15));
    return b & 0x80u ? -v : v;
}

static inline float aurora_f8e5m2fnuz_to_f32(uint8_t b)
{
    if (b == 0x80u) return AURORA_NAN;
    const float v = aurora_mini_to_f32(b & 0x7Fu, 2, 16);
    return b & 0x80u ? -v : v;
}

static inline float aurora_f8e8m0_to_f32(uint8_t b)
{
    if (b == 0xFFu) return AURORA_NAN;
    return aurora_bits_to_f32(b ? (uint32_t)b << 23 : 0x400000u); /* 2^(b - 127) */
}

static inline float aurora_f4e2m1_to_f32(uint8_t b)
{
    const float v = aurora_mini_to_f32(b & 0x7u, 1, 1);
    return b & 0x8u ? -v : v;
}

/* The kinds with infinity and negative zero (e4m3fn, e5m2): NaN keeps its sign. */
static inline uint8_t aurora_f32_to_f8_ieee(float x, int sat, int mbits, int bias, uint32_t max, uint32_t nan,
                                            uint32_t inf)
{
    const uint32_t u = aurora_f32_to_bits(x), sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint8_t)(sign | nan);
    if (a == 0x7F800000u) return (uint8_t)(sign | (sat ? max : inf));
    const uint32_t c = aurora_f32_to_mini(a, mbits, bias);
    return (uint8_t)(sign | (c <= max ? c : (sat ? max : inf)));
}

/* The fnuz kinds: no infinity, no negative zero, NaN is 0x80. */
static inline uint8_t aurora_f32_to_f8_fnuz(float x, int sat, int mbits, int bias)
{
    const uint32_t u = aurora_f32_to_bits(x), sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return 0x80u;
    const uint32_t c = a == 0x7F800000u ? 0x80u : aurora_f32_to_mini(a, mbits, bias);
    if (c > 0x7Fu) return sat ? (uint8_t)(sign | 0x7Fu) : 0x80u;
    return (uint8_t)(c ? sign | c : 0u);
}

static inline uint8_t aurora_f32_to_f8e4m3fn(float x, int sat)
{
    return aurora_f32_to_f8_ieee(x, sat, 3, 7, 0x7Eu, 0x7Fu, 0x7Fu); /* no infinity: overflow is NaN */
}

static inline uint8_t aurora_f32_to_f8e5m2(float x, int sat)
{
    return aurora_f32_to_f8_ieee(x, sat, 2, 15, 0x7Bu, 0x7Eu, 0x7Cu);
}

static inline uint8_t aurora_f32_to_f8e4m3fnuz(float x, int sat) { return aurora_f32_to_f8_fnuz(x, sat, 3, 8); }

static inline uint8_t aurora_f32_to_f8e5m2fnuz(float x, int sat) { return aurora_f32_to_f8_fnuz(x, sat, 2, 16); }

/* float4 e2m1 has neither infinity nor NaN: overflow saturates, and NaN becomes a zero of the
 * opposite sign (what the ONNX reference, through ml_dtypes, gives). */
static inline uint8_t aurora_f32_to_f4e2m1(float x)
{
    const uint32_t u = aurora_f32_to_bits(x), sign = (u >> 28) & 0x8u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint8_t)(sign ^ 0x8u);
    const uint32_t c = a == 0x7F800000u ? 0x7u : aurora_f32_to_mini(a, 1, 1);
    return (uint8_t)(sign | (c < 0x7u ? c : 0x7u));
}

/* float8 e8m0: the power of two from x's exponent; mode 0 rounds up (any fraction), 1 down,
 * 2 to nearest. Infinity and NaN give NaN (0xFF); so does overflow unless saturating. */
static inline uint8_t aurora_f32_to_f8e8m0(float x, int sat, int mode)
{
    const uint32_t u = aurora_f32_to_bits(x), e = (u >> 23) & 0xFFu;
    if (e == 0xFFu) return 0xFFu;
    int up = 0;
    if (mode == 0) {
        up = (u & 0x7FFFFFu) != 0;
    } else if (mode == 2) {
        up = (u & 0x400000u) && ((u & 0x200000u) || (u & 0x1FFFFFu) || e > 0);
    }
    if (sat && e == 0xFEu) up = 0;
    return (uint8_t)(e + (uint32_t)up);
}

static inline int32_t aurora_i4_value(uint8_t b) { return (int32_t)((b & 0xFu) ^ 0x8u) - 8; }
static inline int32_t aurora_i2_value(uint8_t b) { return (int32_t)((b & 0x3u) ^ 0x2u) - 2; }

/* A float to an integer of at most 32 bits through int32, as ml_dtypes converts: NaN and values
 * outside int32 give 0 (then wrapped to the narrow width by the caller). */
static inline int64_t aurora_f32_trunc_i32(double x)
{
    return x > -2147483649.0 && x < 2147483648.0 ? (int64_t)(int32_t)x : 0;
}

#endif /* AURORA_RT_H */
