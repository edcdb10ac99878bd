/* The two-layer net from C: a training loop (the compiled SGD step of examples/c/two_layer_model.py)
 * whose loss falls, then inference with the trained weights. Links two artifacts built by
 * `tgc compile` (see CMakeLists.txt): train (fetches loss, runs the SGD step) and infer (scores).
 *
 * usage: two_layer TRAIN_ARTIFACT_DIR [DATA_DIR [STEPS]]
 *   the initial weights come from TRAIN_ARTIFACT_DIR/variables/{w1,w2}.bin; the batch from
 *   DATA_DIR/{x,y}.bin (64x1000 and 64x10 float32) if given, else from a seeded generator here.
 * Prints the loss per step, the final loss, the step time and the predicted class of 7 rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "tgc_runtime.h"
#include "train.h"

enum { N = 64, D = 1000, H = 100, C = 10 };

static float *load(const char *dir, const char *name, size_t count) {
  char path[4096];
  size_t bytes = 0;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  float *data = tgc_read_file(path, &bytes);
  if (!data || bytes != count * sizeof(float)) {
    fprintf(stderr, "two_layer: cannot read %zu floats from %s\n", count, path);
    exit(1);
  }
  return data;
}

static void make_batch(float *x, float *y) { /* a fixed, seeded batch: normal x, one-hot y */
  uint64_t s = 42;
  for (int i = 0; i < N * D; i += 2) {
    double u[2];
    for (int k = 0; k < 2; ++k) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      u[k] = ((s >> 11) + 0.5) / 9007199254740992.0;
    }
    double r = sqrt(-2.0 * log(u[0]));
    x[i] = (float)(r * cos(6.283185307179586 * u[1]));
    x[i + 1] = (float)(r * sin(6.283185307179586 * u[1]));
  }
  memset(y, 0, sizeof(float) * N * C);
  for (int i = 0; i < N; ++i) y[i * C + (i * 7) % C] = 1.0f;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: two_layer TRAIN_ARTIFACT_DIR [DATA_DIR [STEPS]]\n");
    return 2;
  }
  int steps = argc > 3 ? atoi(argv[3]) : 200;
  char vars[4096];
  snprintf(vars, sizeof vars, "%s/variables", argv[1]);
  float *x, *y;
  if (argc > 2) {
    x = load(argv[2], "x.bin", (size_t)N * D);
    y = load(argv[2], "y.bin", (size_t)N * C);
  } else {
    x = malloc(sizeof(float) * N * D);
    y = malloc(sizeof(float) * N * C);
    make_batch(x, y);
  }
  tgc_memref_float32_2d xd, yd, w1, w2;
  tgc_memref_init(&xd, x, 2, (int64_t[]){N, D});
  tgc_memref_init(&yd, y, 2, (int64_t[]){N, C});
  tgc_memref_init(&w1, load(vars, "w1.bin", (size_t)D * H), 2, (int64_t[]){D, H});
  tgc_memref_init(&w2, load(vars, "w2.bin", (size_t)H * C), 2, (int64_t[]){H, C});

  /* Training: each step returns the loss and the new weights, which replace the old ones. */
  float first = 0, last = 0;
  double start = tgc_now();
  for (int t = 0; t < steps; ++t) {
    train_results r;
    train_run(&r, &xd, &yd, &w1, &w2);
    last = *(float *)tgc_memref_data(&r.loss, sizeof(float));
    if (t == 0) first = last;
    printf("step %d loss %.6f\n", t, last);
    void *old[] = {w1.allocated, w2.allocated};
    void *loss_only[] = {&r.loss};
    void *keep[] = {r.var_w1.allocated, r.var_w2.allocated};
    tgc_release_results(loss_only, 1, keep, 2);
    w1 = r.var_w1;
    w2 = r.var_w2;
    for (int k = 0; k < 2; ++k) /* the previous weights are ours to free unless returned as-is */
      if (old[k] != w1.allocated && old[k] != w2.allocated) free(old[k]);
  }
  double step_ms = steps ? 1e3 * (tgc_now() - start) / steps : 0;
  printf("final loss %.6f (started at %.6f)\n", last, first);
  printf("step time %.3f ms (batch %d, %dx%dx%d)\n", step_ms, N, D, H, C);

  /* Inference on the first 7 rows: the batch dimension is dynamic, so any count works. */
  tgc_memref_float32_2d x7;
  tgc_memref_init(&x7, x, 2, (int64_t[]){7, D});
  infer_results s;
  infer_run(&s, &x7, &w1, &w2);
  printf("scores shape %lldx%lld\n", (long long)s.scores.sizes[0], (long long)s.scores.sizes[1]);
  printf("predicted");
  for (int i = 0; i < 7; ++i) {
    const float *row = (const float *)tgc_memref_data(&s.scores, sizeof(float)) + i * s.scores.strides[0];
    int best = 0;
    for (int c = 1; c < C; ++c)
      if (row[c] > row[best]) best = c;
    printf(" %d", best);
  }
  printf("\nscore[0][0] %.6f\n", *(float *)tgc_memref_data(&s.scores, sizeof(float)));
  void *scores[] = {&s.scores};
  void *inputs[] = {x, w1.allocated, w2.allocated};
  tgc_release_results(scores, 1, inputs, 3);
  free(w1.allocated);
  if (w2.allocated != w1.allocated) free(w2.allocated);
  free(x);
  free(y);
  return steps > 1 && !(last < first); /* exit 1 if training did not lower the loss */
}
