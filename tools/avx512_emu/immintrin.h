/* Test support, never part of generated code: the AVX-512 intrinsics the avx512 target's code uses,
 * emulated in portable C by SIMDe (Debian's libsimde-dev), so that code runs on a CPU without AVX-512
 * (tests/cross.py, target avx512+simde). Put this folder first on the include path (-I) and build
 * without -mavx512f; aurora_vec.h's #include <immintrin.h> then lands here. SIMDE_NO_NATIVE keeps
 * SIMDe from including the real <immintrin.h>, which would be this file again. */
#ifndef AURORA_AVX512_EMU_H
#define AURORA_AVX512_EMU_H

#define SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_NO_NATIVE
#include <simde/x86/avx512.h>
#include <math.h>
#include <stdint.h>

typedef simde__mmask16 __mmask16;
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#endif

/* missing from SIMDe 0.7.4: int32 to float, rounding to nearest ... */
static inline simde__m512 aurora_emu_cvtepi32_ps(simde__m512i a) {
    int32_t i[16];
    float r[16];
    simde_mm512_storeu_si512(i, a);
    for (int k = 0; k < 16; k++)
        r[k] = (float)i[k];
    return simde_mm512_loadu_ps(r);
}
#define _mm512_cvtepi32_ps(a) aurora_emu_cvtepi32_ps(a)

/* ... and float to int32, rounding to nearest even; out of range and NaN give INT32_MIN (the
 * instruction's "integer indefinite") */
static inline simde__m512i aurora_emu_cvtps_epi32(simde__m512 a) {
    float f[16];
    int32_t r[16];
    simde_mm512_storeu_ps(f, a);
    for (int k = 0; k < 16; k++)
        r[k] = (f[k] >= -2147483648.0f && f[k] < 2147483648.0f) ? (int32_t)nearbyintf(f[k]) : INT32_MIN;
    return simde_mm512_loadu_si512(r);
}
#define _mm512_cvtps_epi32(a) aurora_emu_cvtps_epi32(a)

/* fused, as the instruction is (SIMDe's portable version multiplies, then adds: two roundings) */
static inline simde__m512 aurora_emu_fmadd_ps(simde__m512 a, simde__m512 b, simde__m512 c) {
    float x[16], y[16], z[16];
    simde_mm512_storeu_ps(x, a);
    simde_mm512_storeu_ps(y, b);
    simde_mm512_storeu_ps(z, c);
    for (int k = 0; k < 16; k++)
        x[k] = fmaf(x[k], y[k], z[k]);
    return simde_mm512_loadu_ps(x);
}
#undef _mm512_fmadd_ps
#define _mm512_fmadd_ps(a, b, c) aurora_emu_fmadd_ps((a), (b), (c))

#endif
