/* tgc_runtime: helpers for C programs that call artifacts compiled by `tgc compile`.
 *
 * A compiled entry point takes and returns memref descriptors (see the artifact's NAME.h):
 *   { T *allocated; T *aligned; int64_t offset; int64_t sizes[rank]; int64_t strides[rank]; }
 * These helpers work on any rank through that common layout. Results come back in buffers the call
 * malloc'ed; tgc_release_results frees them by the header's ownership rule (each distinct buffer
 * once, never an input's buffer, never the 0xDEADBEEF marker of constants baked into the library).
 */
#ifndef TGC_RUNTIME_H
#define TGC_RUNTIME_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* The leading fields every descriptor shares; sizes then strides follow. */
typedef struct { void *allocated; void *aligned; int64_t offset; int64_t dims[]; } tgc_memref_any;

/* Fills a descriptor of `rank` for a contiguous row-major buffer `data` of the given sizes. */
void tgc_memref_init(void *descriptor, void *data, int rank, const int64_t *sizes);
/* Number of elements a descriptor of `rank` describes. */
int64_t tgc_memref_numel(const void *descriptor, int rank);
/* The address of the first element (aligned + offset) for elements of `element_size` bytes. */
void *tgc_memref_data(const void *descriptor, size_t element_size);
/* Frees the `allocated` buffers of `n` result descriptors (pointers to them), each distinct buffer
 * once, skipping any equal to one of the `n_keep` pointers in `keep` (inputs still in use). */
void tgc_release_results(void *const *results, int n, void *const *keep, int n_keep);
/* Reads a whole file into a new malloc'ed buffer; NULL on error. *bytes receives its size. */
void *tgc_read_file(const char *path, size_t *bytes);
/* Monotonic time in seconds. */
double tgc_now(void);

#ifdef __cplusplus
}
#endif
#endif
