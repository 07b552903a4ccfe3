/* A bare-metal application that embeds a compiled model: the model's library (OUT/libmodel.a),
 * one static arena, inputs from the application, outputs used by the application. Here the input is
 * a fixed test pattern and the outputs are printed through semihosting, so the example runs on QEMU's
 * mps2-an386; on a board, fill `input` from a sensor and act on `scores`. */
#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* The whole working memory of the model: no malloc anywhere. */
static unsigned char arena[MODEL_ARENA_BYTES > 0 ? MODEL_ARENA_BYTES : 1] __attribute__((aligned(AURORA_ARENA_ALIGN)));
static float input[1 * 3 * 16 * 16];
static float scores[10];

int main(void)
{
    for (int i = 0; i < (int)(sizeof input / sizeof input[0]); ++i)
        input[i] = (float)((i * 37) % 101) / 50.0f - 1.0f; /* a deterministic test pattern */
    const void *inputs[MODEL_NUM_INPUTS] = { input };
    void *outputs[MODEL_NUM_OUTPUTS] = { scores };
    const int rc = model_run(inputs, outputs, arena);
    if (rc != AURORA_OK) {
        printf("model_run failed: %d\n", rc);
        return 1;
    }
    int best = 0;
    for (int k = 0; k < 10; ++k) {
        printf("score %d %.6f\n", k, (double)scores[k]);
        if (scores[k] > scores[best]) best = k;
    }
    printf("class %d\n", best);
    return 0;
}
