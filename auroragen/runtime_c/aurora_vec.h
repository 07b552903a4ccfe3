/* aurora_vec.h - the vector layer: one set of names over the target's SIMD registers, so kernel
 * templates are written once. The generated code defines AURORA_VEC_AVX512, AURORA_VEC_AVX2 or
 * AURORA_VEC_NEON before including it; without one of them it is plain C99 on floats (width 1). */
#ifndef AURORA_VEC_H
#define AURORA_VEC_H

#if defined(AURORA_VEC_AVX512)
#include <immintrin.h>
#define AV_WIDTH 16
typedef __m512 av_f32;
#define av_zero() _mm512_setzero_ps()
#define av_set1(x) _mm512_set1_ps(x)
#define av_load(p) _mm512_loadu_ps(p)
#define av_store(p, v) _mm512_storeu_ps((p), (v))
#define av_add(a, b) _mm512_add_ps((a), (b))
#define av_mul(a, b) _mm512_mul_ps((a), (b))
#define av_max(a, b) _mm512_max_ps((a), (b))
#define av_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c)) /* a * b + c */
#elif defined(AURORA_VEC_AVX2)
#include <immintrin.h>
#define AV_WIDTH 8
typedef __m256 av_f32;
#define av_zero() _mm256_setzero_ps()
#define av_set1(x) _mm256_set1_ps(x)
#define av_load(p) _mm256_loadu_ps(p)
#define av_store(p, v) _mm256_storeu_ps((p), (v))
#define av_add(a, b) _mm256_add_ps((a), (b))
#define av_mul(a, b) _mm256_mul_ps((a), (b))
#define av_max(a, b) _mm256_max_ps((a), (b))
#define av_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#elif defined(AURORA_VEC_NEON)
#include <arm_neon.h>
#define AV_WIDTH 4
typedef float32x4_t av_f32;
#define av_zero() vdupq_n_f32(0.0f)
#define av_set1(x) vdupq_n_f32(x)
#define av_load(p) vld1q_f32(p)
#define av_store(p, v) vst1q_f32((p), (v))
#define av_add(a, b) vaddq_f32((a), (b))
#define av_mul(a, b) vmulq_f32((a), (b))
#define av_max(a, b) vmaxq_f32((a), (b))
#define av_fma(a, b, c) vfmaq_f32((c), (a), (b))
#else
#define AV_WIDTH 1
typedef float av_f32;
#define av_zero() 0.0f
#define av_set1(x) (x)
#define av_load(p) (*(p))
#define av_store(p, v) (*(p) = (v))
#define av_add(a, b) ((a) + (b))
#define av_mul(a, b) ((a) * (b))
#define av_max(a, b) ((a) > (b) ? (a) : (b))
#define av_fma(a, b, c) ((a) * (b) + (c))
#endif

#endif /* AURORA_VEC_H */
