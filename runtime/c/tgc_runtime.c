/* tgc_runtime: see tgc_runtime.h. Plain C99 + POSIX clock_gettime; no MLIR. */
#define _POSIX_C_SOURCE 199309L
#include "tgc_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TGC_CONSTANT_MARKER ((void *)0xDEADBEEF) /* MLIR's `allocated` for memrefs of globals */

void tgc_memref_init(void *descriptor, void *data, int rank, const int64_t *sizes) {
  tgc_memref_any *d = descriptor;
  d->allocated = data;
  d->aligned = data;
  d->offset = 0;
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    d->dims[i] = sizes[i];
    d->dims[rank + i] = stride;
    stride *= sizes[i];
  }
}

int64_t tgc_memref_numel(const void *descriptor, int rank) {
  const tgc_memref_any *d = descriptor;
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= d->dims[i];
  return n;
}

void *tgc_memref_data(const void *descriptor, size_t element_size) {
  const tgc_memref_any *d = descriptor;
  return (char *)d->aligned + d->offset * (int64_t)element_size;
}

static int tgc_contains(void *const *items, int n, const void *p) {
  for (int i = 0; i < n; ++i)
    if (items[i] == p) return 1;
  return 0;
}

void tgc_release_results(void *const *results, int n, void *const *keep, int n_keep) {
  for (int i = 0; i < n; ++i) {
    void *p = ((const tgc_memref_any *)results[i])->allocated;
    if (p == NULL || p == TGC_CONSTANT_MARKER || tgc_contains(keep, n_keep, p)) continue;
    int seen = 0; /* several results may share one buffer: free it at its first occurrence only */
    for (int j = 0; j < i && !seen; ++j) seen = ((const tgc_memref_any *)results[j])->allocated == p;
    if (!seen) free(p);
  }
}

void *tgc_read_file(const char *path, size_t *bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buffer = malloc(size > 0 ? (size_t)size : 1);
  if (buffer && fread(buffer, 1, (size_t)size, f) != (size_t)size) {
    free(buffer);
    buffer = NULL;
  }
  fclose(f);
  if (bytes) *bytes = (size_t)size;
  return buffer;
}

double tgc_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
