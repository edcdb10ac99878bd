"""tgc's generated GEMM on several threads: a small C parallel runtime and the call it answers.

tgc-blas-matmul calls ``tgc_parallel_gemm_<elem>(kernel, A, B, C, Cin, transA, transB, alpha,
beta, MR, NR)`` instead of the kernel (gemm_kernel.py) itself. The driver splits C's rows (or its
columns, when C is wider than tall) into chunks of whole register tiles, and each chunk is one call
of the unchanged kernel on subviews of A (or B), C and Cin (beta's term: C itself, or the buffer
that C would have been copied from); every call packs its own blocks (the kernel
allocates its packs per call), so chunks share nothing but the operands.

The threads (``RUNTIME_C``): persistent pthread workers that sleep on a condition variable between
calls (after one they poll for the next for at most SPIN_NS, never longer), started on the first
call that wants them. The calling thread takes part,
and chunks are handed out by an atomic counter: a worker that the scheduler has not run yet (a busy
machine) takes no chunk, the others (the caller included) take its share, and the call waits only
for chunks that were started. A GEMM below SERIAL_FLOPS, a one-row C (the kernel's gemv), a count
of 1 thread, or a call while another thread's call holds the workers runs on the calling thread.

The thread count is process-wide per library: ``tgc_set_threads(n)`` (n <= 0: the default, which
is TGC_NUM_THREADS, else the CPUs this process may run on). In-process code calls the copy built
once per machine into the cache (``runtime_address``) and the session's ThreadScope sets its count
for each run (tgc/runtime/blas_threads.py); an artifact links the runtime into its library, its C
API exports ``tgc_set_threads``, and tgc.runtime.load(threads=) sets it the same way.

An artifact's module also defines a weak serial ``tgc_parallel_gemm_<elem>`` (the kernel called on
the whole GEMM): where the runtime is not linked (its LLVM IR compiled by llvmlite, its object
linked by hand), that definition runs, on the calling thread.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading

from tgc.lowering.artifact import AotError
from tgc.runtime import blas_threads

DRIVER_PREFIX = "tgc_parallel_gemm_"
SET_THREADS = "tgc_set_threads"
THREADS_ENVIRONMENT = "TGC_NUM_THREADS"
# Chunks per thread: more lets the others take a descheduled thread's share, fewer packs each
# operand fewer times (every chunk repacks the operand it does not split), and no chunk has fewer
# than MIN_CHUNK rows (or columns) unless there would be fewer chunks than threads. The process CPU
# time of a 2-thread GEMM over a 1-thread one's (what the repacking and polling add, which the
# machine's load hardly changes; /tmp benchmark on the shared machine at load 5-7), 1 / 2 chunks
# per thread: n = 256 1.15 / 1.20, 512 1.07 / 1.14, 1024 1.03 / 1.06, 2048 1.02 / 1.03.
CHUNKS_PER_THREAD = 2
MIN_CHUNK = 512
# A GEMM of fewer multiply-adds than this stays on the calling thread (waking a worker costs tens
# of microseconds).
SERIAL_FLOPS = 1 << 21
# How long a worker polls for the next job after one, and a caller for its last worker, before they
# sleep (tgc_spin_until in RUNTIME_C): measured on benchmarks/gemm_codegen.py, see README.
SPIN_NS = 20_000

RUNTIME_C = r"""
#define _GNU_SOURCE /* sched_getaffinity */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>

#ifndef TGC_DRIVER_API /* hidden inside an artifact (its own copy); default in the cached library */
#define TGC_DRIVER_API __attribute__((visibility("hidden")))
#endif
#define TGC_MAX_WORKERS 255

/* ---- the pool: one job at a time, workers asleep between jobs ---- */

typedef struct tgc_job tgc_job;
struct tgc_job {
  void (*run)(tgc_job *job, int64_t chunk);
  int64_t chunks;
  atomic_llong next; /* the next chunk to hand out */
  int wanted;        /* workers that may join (threads - 1) */
  atomic_int users;  /* workers inside the job (changed under the pool's lock) */
  int open;          /* workers may still join */
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, left;
  tgc_job *job;
  atomic_ulong generation; /* changed under the lock; read without it while spinning */
  int workers; /* started */
  int busy;    /* a caller owns the workers */
} tgc_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
              NULL, 0, 0, 0};

static atomic_int tgc_threads_setting; /* 0: the default */
static pthread_once_t tgc_once = PTHREAD_ONCE_INIT;

static void tgc_run_chunks(tgc_job *job) {
  for (;;) {
    int64_t chunk = atomic_fetch_add(&job->next, 1);
    if (chunk >= job->chunks) return;
    job->run(job, chunk);
  }
}

static int64_t tgc_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls `done(arg)` for at most TGC_SPIN_NS: a thread that sleeps takes tens of microseconds to
   wake on a virtual machine, longer than the wait this saves when the next job (or the last
   worker) comes right after. Never longer: a spinning thread would take a core a busy machine's
   other processes want. Returns whether `done` became true. */
static bool tgc_spin_until(bool (*done)(void *), void *arg) {
  if (TGC_SPIN_NS <= 0) return done(arg);
  int64_t end = tgc_now_ns() + TGC_SPIN_NS;
  for (int i = 0;; ++i) {
    if (done(arg)) return true;
    if ((i & 63) == 63 && tgc_now_ns() > end) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

static bool tgc_new_generation(void *seen) {
  return atomic_load(&tgc_pool.generation) != *(unsigned long *)seen;
}

static bool tgc_no_users(void *job) { return atomic_load(&((tgc_job *)job)->users) == 0; }

static void *tgc_worker(void *arg) {
  int index = (int)(intptr_t)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&tgc_pool.lock);
  for (;;) {
    if (tgc_pool.generation == seen) { /* briefly awake for a job right after the last */
      pthread_mutex_unlock(&tgc_pool.lock);
      tgc_spin_until(tgc_new_generation, &seen);
      pthread_mutex_lock(&tgc_pool.lock);
    }
    while (tgc_pool.generation == seen) pthread_cond_wait(&tgc_pool.wake, &tgc_pool.lock);
    seen = tgc_pool.generation;
    tgc_job *job = tgc_pool.job;
    if (job == NULL || !job->open || index >= job->wanted) continue;
    job->users++;
    pthread_mutex_unlock(&tgc_pool.lock);
    tgc_run_chunks(job);
    pthread_mutex_lock(&tgc_pool.lock);
    if (--job->users == 0) pthread_cond_signal(&tgc_pool.left);
  }
  return NULL;
}

/* A forked child has none of the parent's workers: it starts its own. */
static void tgc_after_fork_in_child(void) {
  pthread_mutex_init(&tgc_pool.lock, NULL);
  pthread_cond_init(&tgc_pool.wake, NULL);
  pthread_cond_init(&tgc_pool.left, NULL);
  tgc_pool.job = NULL;
  tgc_pool.workers = 0;
  tgc_pool.busy = 0;
}

static void tgc_register_fork_handler(void) {
  pthread_atfork(NULL, NULL, tgc_after_fork_in_child);
}

/* Starts workers up to `count` (under the lock); returns how many there are. Workers block every
   signal: the caller's thread (Python's main thread) keeps receiving them. */
static int tgc_start_workers(int count) {
  if (count > TGC_MAX_WORKERS) count = TGC_MAX_WORKERS;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  while (tgc_pool.workers < count) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attr, tgc_worker, (void *)(intptr_t)tgc_pool.workers);
    pthread_attr_destroy(&attr);
    if (failed) break; /* fewer threads, not an error */
    tgc_pool.workers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return tgc_pool.workers;
}

/* Runs every chunk of `job` on the calling thread and up to threads - 1 workers. */
static void tgc_parallel_run(tgc_job *job, int threads) {
  pthread_once(&tgc_once, tgc_register_fork_handler);
  atomic_store(&job->next, 0);
  pthread_mutex_lock(&tgc_pool.lock);
  int helpers = threads - 1;
  if (!tgc_pool.busy && helpers > 0) {
    int started = tgc_start_workers(helpers);
    helpers = started < helpers ? started : helpers;
  }
  if (tgc_pool.busy || helpers < 1) { /* another call holds the workers: this one alone */
    pthread_mutex_unlock(&tgc_pool.lock);
    tgc_run_chunks(job);
    return;
  }
  tgc_pool.busy = 1;
  job->wanted = helpers;
  job->users = 0;
  job->open = 1;
  tgc_pool.job = job;
  tgc_pool.generation++;
  pthread_cond_broadcast(&tgc_pool.wake);
  pthread_mutex_unlock(&tgc_pool.lock);
  tgc_run_chunks(job);
  /* Every chunk is handed out: close the job and wait for the workers still running one. */
  tgc_spin_until(tgc_no_users, job);
  pthread_mutex_lock(&tgc_pool.lock);
  job->open = 0;
  tgc_pool.job = NULL;
  while (job->users > 0) pthread_cond_wait(&tgc_pool.left, &tgc_pool.lock);
  tgc_pool.busy = 0;
  pthread_mutex_unlock(&tgc_pool.lock);
}

/* ---- the thread count ---- */

static int tgc_default_threads(void) {
  const char *text = getenv("TGC_NUM_THREADS");
  if (text != NULL && atoi(text) > 0) return atoi(text);
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 0)
    return CPU_COUNT(&cpus);
  return 1;
}

/* The threads each later GEMM of this library may use (n <= 0: TGC_NUM_THREADS, else the CPUs
   this process may run on); returns the count it replaced. */
int tgc_set_threads(int threads) {
  int old = atomic_exchange(&tgc_threads_setting, threads > 0 ? threads : 0);
  return old > 0 ? old : tgc_default_threads();
}

static int tgc_threads(void) {
  int threads = atomic_load(&tgc_threads_setting);
  if (threads <= 0) {
    threads = tgc_default_threads();
    atomic_store(&tgc_threads_setting, threads);
  }
  return threads;
}

/* ---- the GEMM driver: C's rows (or columns) in chunks of whole register tiles ---- */

static int64_t tgc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Rows (or columns) per chunk, a multiple of `unit`: TGC_CHUNKS_PER_THREAD chunks per thread, but
   none under TGC_MIN_CHUNK unless that leaves fewer chunks than threads (each chunk repacks the
   whole operand it does not split). */
static int64_t tgc_span(int64_t total, int64_t unit, int threads) {
  int64_t span = tgc_ceil_div(total, (int64_t)threads * TGC_CHUNKS_PER_THREAD);
  int64_t per_thread = tgc_ceil_div(total, threads);
  if (span < TGC_MIN_CHUNK) span = per_thread < TGC_MIN_CHUNK ? per_thread : TGC_MIN_CHUNK;
  return tgc_ceil_div(span, unit) * unit;
}

/* A 2-d memref as the kernel takes it: allocated and aligned pointers, offset, sizes, strides. */
#define TGC_VIEW(T, p) T *p##alloc, T *p##align, int64_t p##off, int64_t p##rows, \
                       int64_t p##cols, int64_t p##ld, int64_t p##inner
#define TGC_EXPAND(v) (v).alloc, (v).align, (v).off, (v).rows, (v).cols, (v).ld, (v).inner

#define TGC_DEFINE_GEMM(T, NAME)                                                               \
  typedef struct { T *alloc, *align; int64_t off, rows, cols, ld, inner; } tgc_view_##NAME;   \
  typedef void (*tgc_kernel_##NAME)(TGC_VIEW(T, a_), TGC_VIEW(T, b_), TGC_VIEW(T, c_),         \
                                      TGC_VIEW(T, ci_), bool, bool, T, T);                     \
  typedef struct {                                                                             \
    tgc_job base;                                                                              \
    tgc_kernel_##NAME kernel;                                                                  \
    tgc_view_##NAME a, b, c, ci; /* ci: beta's term (c itself, or the source of c's copy) */  \
    bool ta, tb, by_rows;                                                                      \
    T alpha, beta;                                                                             \
    int64_t span;                                                                              \
  } tgc_gemm_job_##NAME;                                                                       \
                                                                                               \
  static void tgc_gemm_chunk_##NAME(tgc_job *job, int64_t chunk) {                             \
    tgc_gemm_job_##NAME *j = (tgc_gemm_job_##NAME *)job;                                       \
    tgc_view_##NAME a = j->a, b = j->b, c = j->c, ci = j->ci;                                  \
    int64_t begin = chunk * j->span;                                                           \
    int64_t total = j->by_rows ? c.rows : c.cols;                                              \
    int64_t size = total - begin < j->span ? total - begin : j->span;                          \
    if (j->by_rows) { /* rows of C and of op(A) */                                             \
      c.off += begin * c.ld, c.rows = size;                                                    \
      ci.off += begin * ci.ld, ci.rows = size;                                                 \
      if (j->ta) a.off += begin, a.cols = size;                                                \
      else a.off += begin * a.ld, a.rows = size;                                               \
    } else { /* columns of C and of op(B) */                                                   \
      c.off += begin, c.cols = size;                                                           \
      ci.off += begin, ci.cols = size;                                                         \
      if (j->tb) b.off += begin * b.ld, b.rows = size;                                         \
      else b.off += begin, b.cols = size;                                                      \
    }                                                                                          \
    j->kernel(TGC_EXPAND(a), TGC_EXPAND(b), TGC_EXPAND(c), TGC_EXPAND(ci), j->ta, j->tb,        \
              j->alpha, j->beta);                                                              \
  }                                                                                            \
                                                                                               \
  TGC_DRIVER_API void tgc_parallel_gemm_##NAME(                                                \
      tgc_kernel_##NAME kernel, TGC_VIEW(T, a_), TGC_VIEW(T, b_), TGC_VIEW(T, c_),             \
      TGC_VIEW(T, ci_), bool ta, bool tb, T alpha, T beta, int64_t mr, int64_t nr) {           \
    tgc_view_##NAME va = {a_alloc, a_align, a_off, a_rows, a_cols, a_ld, a_inner};             \
    tgc_view_##NAME vb = {b_alloc, b_align, b_off, b_rows, b_cols, b_ld, b_inner};             \
    tgc_view_##NAME vc = {c_alloc, c_align, c_off, c_rows, c_cols, c_ld, c_inner};             \
    tgc_view_##NAME vci = {ci_alloc, ci_align, ci_off, ci_rows, ci_cols, ci_ld, ci_inner};     \
    int64_t m = c_rows, n = c_cols, k = ta ? a_rows : a_cols;                                  \
    int threads = tgc_threads();                                                               \
    bool by_rows = m >= n;                                                                     \
    int64_t total = by_rows ? m : n, unit = by_rows ? mr : nr;                                 \
    int64_t span = tgc_span(total, unit, threads);                                             \
    if (threads < 2 || m < 2 || m * n * k < TGC_SERIAL_FLOPS || span >= total) {               \
      kernel(TGC_EXPAND(va), TGC_EXPAND(vb), TGC_EXPAND(vc), TGC_EXPAND(vci), ta, tb, alpha,   \
             beta);                                                                            \
      return;                                                                                  \
    }                                                                                          \
    tgc_gemm_job_##NAME job = {.kernel = kernel, .a = va, .b = vb, .c = vc, .ci = vci,         \
                               .ta = ta, .tb = tb, .by_rows = by_rows, .alpha = alpha,         \
                               .beta = beta, .span = span};                                    \
    job.base.run = tgc_gemm_chunk_##NAME;                                                      \
    job.base.chunks = (total + span - 1) / span;                                               \
    tgc_parallel_run(&job.base, threads);                                                      \
  }

TGC_DEFINE_GEMM(float, f32)
TGC_DEFINE_GEMM(double, f64)
"""


def runtime_source() -> str:
    """The runtime's C source with its tuning constants."""
    return (
        f"#define TGC_CHUNKS_PER_THREAD {CHUNKS_PER_THREAD}\n"
        f"#define TGC_SERIAL_FLOPS {SERIAL_FLOPS}LL\n"
        f"#define TGC_MIN_CHUNK {MIN_CHUNK}LL\n"
        f"#define TGC_SPIN_NS {SPIN_NS}LL\n" + RUNTIME_C
    )


def driver_symbol(elem: str) -> str:
    return f"{DRIVER_PREFIX}{elem}"


def needs_runtime(llvm_ir: str) -> bool:
    """Whether code (its LLVM IR) calls the parallel driver (then its library links the
    runtime)."""
    return f"@{DRIVER_PREFIX}" in llvm_ir


# ---- the copy for in-process code ---------------------------------------------------------------

_LOCK = threading.Lock()
_LIBRARY: list = []  # [ctypes.CDLL or None], filled on the first request
# Why the runtime could not be built or loaded (in-process GEMMs then run on the calling thread).
last_error = None


def c_compiler() -> str:
    """$CC, else cc, gcc or clang on the PATH (artifacts are linked with it too)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise AotError("no C compiler (cc) to link the shared library; use --emit=obj")
    return cc


def _library_path() -> str:
    """Beside the generated kernels' libraries (gemm_library.py), named by the source's digest."""
    from tgc.lowering.cpu.gemm_tuning import cache_dir

    digest = hashlib.sha256(runtime_source().encode()).hexdigest()[:24]
    return os.path.join(cache_dir(), "kernels", f"tgc-parallel-{digest}.so")


def _build(path: str) -> None:
    """cc -O2 -shared -pthread the runtime (its driver exported) into ``path`` at once (another
    process may be reading the cache)."""
    from tgc.lowering.cpu.gemm_tuning import write_cache_file

    with tempfile.TemporaryDirectory(prefix="tgc-parallel-") as tmp:
        source, out = os.path.join(tmp, "parallel.c"), os.path.join(tmp, "parallel.so")
        with open(source, "w") as fh:
            fh.write(runtime_source())
        exported = '-DTGC_DRIVER_API=__attribute__((visibility("default")))'
        command = [c_compiler(), "-shared", "-fPIC", "-O2", "-pthread", exported, "-o", out, source]
        result = subprocess.run(command, capture_output=True)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace")[:500]
            raise AotError(f"cc failed on the parallel GEMM runtime: {message}")
        with open(out, "rb") as built:
            write_cache_file(path, built.read())


def library() -> ctypes.CDLL | None:
    """The runtime for in-process code, built into the cache on first use; None where it cannot be
    built or loaded (no C compiler, a read-only cache): GEMMs then stay on the calling thread."""
    global last_error
    with _LOCK:
        if not _LIBRARY:
            found = None
            try:
                path = _library_path()
                if not os.path.exists(path):
                    _build(path)
                found = ctypes.CDLL(path)
                set_threads = getattr(found, SET_THREADS)
                set_threads.argtypes, set_threads.restype = [ctypes.c_int], ctypes.c_int
                # Each run's ThreadScope gives it the run's thread count, as OpenBLAS.
                blas_threads.register_runtime(set_threads)
            except Exception as exc:  # noqa: BLE001 - any failure means: one thread, no error
                last_error, found = exc, None
            _LIBRARY.append(found)
    return _LIBRARY[0]


def runtime_address(symbol: str) -> ctypes.c_void_p | None:
    """The address of the in-process runtime's ``symbol`` (a driver), or None when ``symbol`` is no
    driver or the runtime is unavailable."""
    if not symbol.startswith(DRIVER_PREFIX):
        return None
    found = library()
    if found is None or not hasattr(found, symbol):
        return None
    return ctypes.cast(getattr(found, symbol), ctypes.c_void_p)
