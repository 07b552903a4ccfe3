/* Applies one function of aurora_vec.h to every float of a file: vec_math_probe FN IN OUT.
 * Built per target with its AURORA_VEC_<ISA> define; tests/test_vec_math.py compares the results
 * with float64 references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aurora_vec.h"

static av_f32 apply(const char *fn, av_f32 x)
{
    if (!strcmp(fn, "exp")) return av_exp(x);
    if (!strcmp(fn, "log")) return av_log(x);
    if (!strcmp(fn, "tanh")) return av_tanh(x);
    if (!strcmp(fn, "sigmoid")) return av_sigmoid(x);
    return av_erf(x);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vec_math_probe FN IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (!in || !out) {
        fprintf(stderr, "cannot open the files\n");
        return 1;
    }
    float buf[AV_WIDTH];
    size_t got;
    while ((got = fread(buf, sizeof(float), AV_WIDTH, in)) > 0) {
        for (size_t i = got; i < AV_WIDTH; ++i) buf[i] = 0.0f;
        av_store(buf, apply(argv[1], av_load(buf)));
        if (fwrite(buf, sizeof(float), got, out) != got) return 1;
    }
    return fclose(out) != 0;
}
