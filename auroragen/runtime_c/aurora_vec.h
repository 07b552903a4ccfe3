/* aurora_vec.h - the vector layer: one set of names over the target's SIMD registers, so kernel
 * templates are written once. The generated code defines AURORA_VEC_AVX512, AURORA_VEC_AVX2 or
 * AURORA_VEC_NEON before including it; without one of them it is plain C99 on floats (width 1).
 *
 * Each ISA section defines the primitives (arithmetic, comparisons giving an av_mask, av_select,
 * and the few integer operations on the bits of a float that the math functions need); the math
 * functions at the end (av_exp, av_log, av_tanh, av_sigmoid, av_erf) are written once over them.
 * Width 1 maps the math functions to libm. Maximum errors, measured by tests/test_vec_math.py over
 * every input range (coefficients from tools/fit_vec_math.py):
 *   av_exp 1.5 ulp, av_log 1 ulp, av_tanh 1.5 ulp, av_sigmoid 2.5 ulp, av_erf 2.5 ulp.
 * NaN in, NaN out; av_exp overflows to +inf and underflows through the subnormals to 0.
 * av_max(a, b) and av_min(a, b) return b when either is NaN on x86 (NEON returns NaN): pass the
 * operand whose NaN must survive second. */
#ifndef AURORA_VEC_H
#define AURORA_VEC_H

#include <math.h>
#include <stdint.h>

#if defined(AURORA_VEC_AVX512)
#include <immintrin.h>
#define AV_WIDTH 16
typedef __m512 av_f32;
typedef __m512i av_i32;
typedef __mmask16 av_mask;
#define av_zero() _mm512_setzero_ps()
#define av_set1(x) _mm512_set1_ps(x)
#define av_load(p) _mm512_loadu_ps(p)
#define av_store(p, v) _mm512_storeu_ps((p), (v))
#define av_add(a, b) _mm512_add_ps((a), (b))
#define av_sub(a, b) _mm512_sub_ps((a), (b))
#define av_mul(a, b) _mm512_mul_ps((a), (b))
#define av_div(a, b) _mm512_div_ps((a), (b))
#define av_max(a, b) _mm512_max_ps((a), (b))
#define av_min(a, b) _mm512_min_ps((a), (b))
#define av_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c)) /* a * b + c */
#define av_sqrt(a) _mm512_sqrt_ps(a)
#define av_round(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define av_lt(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define av_eq(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define av_select(m, a, b) _mm512_mask_blend_ps((m), (b), (a)) /* m ? a : b per lane */
/* the even lanes of a then of b: a[0], a[2], ..., b[0], b[2], ... (a stride-2 load from two vectors) */
#define av_even(a, b) _mm512_permutex2var_ps((a), _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0), (b))
#define av_bits(a) _mm512_castps_si512(a)
#define av_from_bits(i) _mm512_castsi512_ps(i)
#define av_i_set1(x) _mm512_set1_epi32(x)
#define av_i_add(a, b) _mm512_add_epi32((a), (b))
#define av_i_and(a, b) _mm512_and_si512((a), (b))
#define av_i_or(a, b) _mm512_or_si512((a), (b))
#define av_i_shl(a, n) _mm512_slli_epi32((a), (n))
#define av_i_shr(a, n) _mm512_srli_epi32((a), (n)) /* logical */
#define av_i_to_f(a) _mm512_cvtepi32_ps(a)
#define av_f_to_i(a) _mm512_cvtps_epi32(a) /* rounds to nearest */
#elif defined(AURORA_VEC_AVX2)
#include <immintrin.h>
#define AV_WIDTH 8
typedef __m256 av_f32;
typedef __m256i av_i32;
typedef __m256 av_mask;
#define av_zero() _mm256_setzero_ps()
#define av_set1(x) _mm256_set1_ps(x)
#define av_load(p) _mm256_loadu_ps(p)
#define av_store(p, v) _mm256_storeu_ps((p), (v))
#define av_add(a, b) _mm256_add_ps((a), (b))
#define av_sub(a, b) _mm256_sub_ps((a), (b))
#define av_mul(a, b) _mm256_mul_ps((a), (b))
#define av_div(a, b) _mm256_div_ps((a), (b))
#define av_max(a, b) _mm256_max_ps((a), (b))
#define av_min(a, b) _mm256_min_ps((a), (b))
#define av_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define av_sqrt(a) _mm256_sqrt_ps(a)
#define av_round(a) _mm256_round_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define av_lt(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define av_eq(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define av_select(m, a, b) _mm256_blendv_ps((b), (a), (m))
#define av_even(a, b) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps((a), (b), 0x88)), 0xD8))
#define av_bits(a) _mm256_castps_si256(a)
#define av_from_bits(i) _mm256_castsi256_ps(i)
#define av_i_set1(x) _mm256_set1_epi32(x)
#define av_i_add(a, b) _mm256_add_epi32((a), (b))
#define av_i_and(a, b) _mm256_and_si256((a), (b))
#define av_i_or(a, b) _mm256_or_si256((a), (b))
#define av_i_shl(a, n) _mm256_slli_epi32((a), (n))
#define av_i_shr(a, n) _mm256_srli_epi32((a), (n))
#define av_i_to_f(a) _mm256_cvtepi32_ps(a)
#define av_f_to_i(a) _mm256_cvtps_epi32(a)
#elif defined(AURORA_VEC_NEON)
#include <arm_neon.h>
#define AV_WIDTH 4
typedef float32x4_t av_f32;
typedef int32x4_t av_i32;
typedef uint32x4_t av_mask;
#define av_zero() vdupq_n_f32(0.0f)
#define av_set1(x) vdupq_n_f32(x)
#define av_load(p) vld1q_f32(p)
#define av_store(p, v) vst1q_f32((p), (v))
#define av_add(a, b) vaddq_f32((a), (b))
#define av_sub(a, b) vsubq_f32((a), (b))
#define av_mul(a, b) vmulq_f32((a), (b))
#define av_div(a, b) vdivq_f32((a), (b))
#define av_max(a, b) vmaxq_f32((a), (b))
#define av_min(a, b) vminq_f32((a), (b))
#define av_fma(a, b, c) vfmaq_f32((c), (a), (b))
#define av_sqrt(a) vsqrtq_f32(a)
#define av_round(a) vrndnq_f32(a)
#define av_lt(a, b) vcltq_f32((a), (b))
#define av_eq(a, b) vceqq_f32((a), (b))
#define av_select(m, a, b) vbslq_f32((m), (a), (b))
#define av_even(a, b) vuzp1q_f32((a), (b))
#define av_bits(a) vreinterpretq_s32_f32(a)
#define av_from_bits(i) vreinterpretq_f32_s32(i)
#define av_i_set1(x) vdupq_n_s32(x)
#define av_i_add(a, b) vaddq_s32((a), (b))
#define av_i_and(a, b) vandq_s32((a), (b))
#define av_i_or(a, b) vorrq_s32((a), (b))
#define av_i_shl(a, n) vshlq_n_s32((a), (n))
#define av_i_shr(a, n) vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), (n)))
#define av_i_to_f(a) vcvtq_f32_s32(a)
#define av_f_to_i(a) vcvtnq_s32_f32(a)
#else
#define AV_WIDTH 1
typedef float av_f32;
#define av_zero() 0.0f
#define av_set1(x) (x)
#define av_load(p) (*(p))
#define av_store(p, v) (*(p) = (v))
#define av_add(a, b) ((a) + (b))
#define av_sub(a, b) ((a) - (b))
#define av_mul(a, b) ((a) * (b))
#define av_div(a, b) ((a) / (b))
#define av_max(a, b) ((a) > (b) ? (a) : (b))
#define av_min(a, b) ((a) < (b) ? (a) : (b))
#define av_fma(a, b, c) ((a) * (b) + (c))
#define av_sqrt(a) sqrtf(a)
#define av_abs(a) fabsf(a)
typedef int av_mask;
#define av_lt(a, b) ((a) < (b))
#define av_eq(a, b) ((a) == (b))
#define av_select(m, a, b) ((m) ? (a) : (b))
#define av_even(a, b) ((void)(b), (a))
#define av_exp(a) expf(a)
#define av_log(a) logf(a)
#define av_tanh(a) tanhf(a)
#define av_erf(a) erff(a)
#define av_sigmoid(a) (1.0f / (1.0f + expf(-(a))))
#endif

/* Square blocks of AV_TBLOCK x AV_TBLOCK floats transposed: dst[j * ds + i] = src[i * ss + j]. */
#if defined(AURORA_VEC_AVX2) || defined(AURORA_VEC_AVX512)
#define AV_TBLOCK 8
static inline void av_transpose(const float *src, long ss, float *dst, long ds)
{
    const __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ss), r2 = _mm256_loadu_ps(src + 2 * ss),
                 r3 = _mm256_loadu_ps(src + 3 * ss), r4 = _mm256_loadu_ps(src + 4 * ss), r5 = _mm256_loadu_ps(src + 5 * ss),
                 r6 = _mm256_loadu_ps(src + 6 * ss), r7 = _mm256_loadu_ps(src + 7 * ss);
    /* pairs of rows interleaved, then pairs of pairs: columns j and j + 4 of four rows per 128-bit half */
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                 t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE), s2 = _mm256_shuffle_ps(t1, t3, 0x44),
                 s3 = _mm256_shuffle_ps(t1, t3, 0xEE), s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + ds, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ds, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ds, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ds, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ds, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ds, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ds, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#elif defined(AURORA_VEC_NEON)
#define AV_TBLOCK 4
static inline void av_transpose(const float *src, long ss, float *dst, long ds)
{
    const float32x4_t r0 = vld1q_f32(src), r1 = vld1q_f32(src + ss), r2 = vld1q_f32(src + 2 * ss), r3 = vld1q_f32(src + 3 * ss);
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1)),
                      t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
    vst1q_f32(dst, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
    vst1q_f32(dst + ds, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
    vst1q_f32(dst + 2 * ds, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
    vst1q_f32(dst + 3 * ds, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
}
#else
#define AV_TBLOCK 1
#define av_transpose(src, ss, dst, ds) (*(dst) = *(src))
#endif

#if AV_WIDTH > 1
/* c[0] x^(n-1) + c[1] x^(n-2) + ... + c[n-1], by Horner's rule (constant arrays: unrolled when inlined) */
static inline av_f32 av_poly(av_f32 x, const float *c, int n)
{
    av_f32 p = av_set1(c[0]);
    for (int i = 1; i < n; ++i) p = av_fma(p, x, av_set1(c[i]));
    return p;
}

#define av_abs(a) av_from_bits(av_i_and(av_bits(a), av_i_set1(0x7FFFFFFF)))
/* |mag| with the sign of sgn */
#define av_copysign(mag, sgn) av_from_bits(av_i_or(av_i_and(av_bits(mag), av_i_set1(0x7FFFFFFF)), \
                                                    av_i_and(av_bits(sgn), av_i_set1((int32_t)0x80000000u))))

/* 2^n for integral n in [-126, 127] */
static inline av_f32 av_pow2i(av_f32 n)
{
    return av_from_bits(av_i_shl(av_i_add(av_f_to_i(n), av_i_set1(127)), 23));
}

/* e^x = 2^n e^r, r = x - n ln 2 in [-ln2/2, ln2/2]; e^r = 1 + r + r^2 P(r). 2^n is applied as two
 * factors so that n may reach 128 (overflow to inf) and -150 (subnormal results). */
static inline av_f32 av_exp(av_f32 x)
{
    x = av_min(av_set1(88.8f), av_max(av_set1(-104.0f), x)); /* NaN is the second operand: it stays */
    const av_f32 n = av_round(av_mul(x, av_set1(1.44269504089f)));
    av_f32 r = av_fma(n, av_set1(-0.693359375f), x); /* ln 2 in two parts: n * hi is exact */
    r = av_fma(n, av_set1(2.12194440e-4f), r);
    static const float EXP_P[5] = { 0.0013751407386735082f, 0.008368915878236294f, 0.04166953265666962f, 0.166665181517601f, 0.49999988079071045f };
    av_f32 p = av_poly(r, EXP_P, 5);
    p = av_fma(p, av_mul(r, r), av_add(r, av_set1(1.0f)));
    const av_f32 half = av_round(av_mul(n, av_set1(0.5f)));
    return av_mul(av_mul(p, av_pow2i(half)), av_pow2i(av_sub(n, half)));
}

/* log x = e ln 2 + log(1 + f), x = 2^e (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)):
 * log(1 + f) = f - f^2 / 2 + f^3 P(f). Subnormals are scaled by 2^23 first. */
static inline av_f32 av_log(av_f32 x)
{
    const av_mask sub = av_lt(x, av_set1(1.17549435e-38f));
    const av_f32 xs = av_select(sub, av_mul(x, av_set1(8388608.0f)), x);
    const av_i32 bits = av_bits(xs);
    av_f32 e = av_i_to_f(av_i_add(av_i_shr(bits, 23), av_i_set1(-127)));
    e = av_select(sub, av_sub(e, av_set1(23.0f)), e);
    av_f32 m = av_from_bits(av_i_or(av_i_and(bits, av_i_set1(0x007FFFFF)), av_i_set1(0x3F800000)));
    const av_mask big = av_lt(av_set1(1.41421356f), m);
    m = av_select(big, av_mul(m, av_set1(0.5f)), m);
    e = av_select(big, av_add(e, av_set1(1.0f)), e);
    const av_f32 f = av_sub(m, av_set1(1.0f));
    static const float LOG_P[8] = { -0.07362867891788483f, 0.1262032687664032f, -0.13202103972434998f, 0.14227114617824554f, -0.16621370613574982f, 0.19999825954437256f, -0.2500085234642029f, 0.3333335518836975f };
    av_f32 p = av_poly(f, LOG_P, 8);
    const av_f32 f2 = av_mul(f, f);
    av_f32 y = av_fma(av_mul(p, f2), f, av_mul(av_set1(-0.5f), f2));
    y = av_fma(e, av_set1(-2.12194440e-4f), y);
    y = av_add(av_add(y, f), av_mul(e, av_set1(0.693359375f)));
    y = av_select(av_eq(x, av_set1(INFINITY)), x, y);
    y = av_select(av_eq(x, av_zero()), av_set1(-INFINITY), y);
    y = av_select(av_lt(x, av_zero()), av_set1(NAN), y);
    return av_select(av_eq(x, x), y, x); /* NaN in, NaN out */
}

/* tanh: x + x^3 P(x^2) below 0.625, 1 - 2 / (e^2|x| + 1) above (|x| clamped at 9.1: beyond, tanh rounds to 1 in float). */
static inline av_f32 av_tanh(av_f32 x)
{
    const av_f32 a = av_abs(x);
    const av_f32 z = av_mul(x, x);
    static const float TANH_P[6] = { 0.002148990985006094f, -0.00818466953933239f, 0.02170400321483612f, -0.05394745618104935f, 0.13333211839199066f, -0.3333333134651184f };
    av_f32 p = av_poly(z, TANH_P, 6);
    const av_f32 small = av_fma(av_mul(p, z), x, x);
    const av_f32 e = av_exp(av_mul(av_set1(2.0f), av_min(av_set1(9.1f), a)));
    const av_f32 large = av_sub(av_set1(1.0f), av_div(av_set1(2.0f), av_add(e, av_set1(1.0f))));
    return av_copysign(av_select(av_lt(a, av_set1(0.625f)), small, large), x); /* and tanh(-0) = -0 */
}

/* sigmoid: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below, so that it reaches the subnormals. */
static inline av_f32 av_sigmoid(av_f32 x)
{
    const av_f32 e = av_exp(av_sub(av_zero(), av_abs(x)));
    const av_f32 s = av_div(av_set1(1.0f), av_add(av_set1(1.0f), e));
    return av_select(av_lt(x, av_zero()), av_mul(e, s), s);
}

/* erf: x P(x^2) below 1; 1 - e^Q(x) on [1, 3.92], Q fitted to log erfc (|x| clamped there: erf is 1 in
 * float above). */
static inline av_f32 av_erf(av_f32 x)
{
    const av_f32 a = av_abs(x);
    const av_f32 z = av_mul(x, x);
    static const float ERF_SMALL[7] = { 7.898201874922961e-05f, -0.000802435155492276f, 0.0051900530233979225f, -0.026854807510972023f, 0.11283612251281738f, -0.3761262893676758f, 1.128379225730896f };
    av_f32 p = av_poly(z, ERF_SMALL, 7);
    const av_f32 small = av_mul(p, x);
    const av_f32 c = av_min(av_set1(3.92f), av_max(av_set1(1.0f), a));
    static const float ERF_LARGE[8] = { -2.1779973e-05f, 4.4248899e-04f, -4.2105434e-03f, 2.5225135e-02f, -1.0844655e-01f, -6.3319266e-01f, -1.1295929e+00f, 1.9126460e-04f };
    av_f32 q = av_poly(c, ERF_LARGE, 8);
    const av_f32 large = av_sub(av_set1(1.0f), av_exp(q));
    return av_select(av_lt(a, av_set1(1.0f)), small, av_copysign(large, x));
}
#endif

/* The sum of a vector's lanes */
static inline float av_reduce_add(av_f32 v)
{
    float lanes[AV_WIDTH], s = 0.0f;
    av_store(lanes, v);
    for (int i = 0; i < AV_WIDTH; ++i) s += lanes[i];
    return s;
}

/* y[k] = e^(x[k] - m) for k < n; returns the sum of the y[k]. x and y may be the same array. */
static inline float av_exp_shifted(const float *x, float *y, long n, float m)
{
    const long whole = n - n % AV_WIDTH; /* (a tail loop from here: gcc 12 -O3 misjudged one from k) */
    float sum = 0.0f;
#if AV_WIDTH > 1
    av_f32 acc = av_zero();
    const av_f32 vm = av_set1(m);
    for (long k = 0; k < whole; k += AV_WIDTH) {
        const av_f32 e = av_exp(av_sub(av_load(x + k), vm));
        av_store(y + k, e);
        acc = av_add(acc, e);
    }
    sum = av_reduce_add(acc);
#endif
    for (long k = whole; k < n; ++k) {
        y[k] = expf(x[k] - m);
        sum += y[k];
    }
    return sum;
}

#endif /* AURORA_VEC_H */
