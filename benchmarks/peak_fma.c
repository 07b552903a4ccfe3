/* Peak single-core FMA throughput: 12 independent accumulator chains of 8-float (AVX2) or 16-float
 * (AVX-512) vectors, enough to cover the FMA latency on every current x86 core. Prints GFLOP/s. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define W 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec;
#define W 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
static float SUM(__m256 v)
{
    float f[8], s = 0;
    _mm256_storeu_ps(f, v);
    for (int i = 0; i < 8; ++i) s += f[i];
    return s;
}
#endif

static double now(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void)
{
    const long iters = 200000000L / W;
    vec a = SET1(1.0000001f), b = SET1(0.9999999f);
    vec c[12];
    for (int i = 0; i < 12; ++i) c[i] = SET1((float)i);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const double t0 = now();
        for (long k = 0; k < iters; ++k) {
            c[0] = FMA(a, c[0], b); c[1] = FMA(a, c[1], b); c[2] = FMA(a, c[2], b); c[3] = FMA(a, c[3], b);
            c[4] = FMA(a, c[4], b); c[5] = FMA(a, c[5], b); c[6] = FMA(a, c[6], b); c[7] = FMA(a, c[7], b);
            c[8] = FMA(a, c[8], b); c[9] = FMA(a, c[9], b); c[10] = FMA(a, c[10], b); c[11] = FMA(a, c[11], b);
        }
        const double s = now() - t0, gf = 2.0 * W * 12 * iters / s * 1e-9;
        if (gf > best) best = gf;
    }
    float sink = 0;
    for (int i = 0; i < 12; ++i) sink += SUM(c[i]);
    printf("%.1f %g\n", best, sink);
    return 0;
}
