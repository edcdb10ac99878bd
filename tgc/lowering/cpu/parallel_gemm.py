"""tgc's generated GEMM on several threads: a small C parallel runtime and the call it answers.

tgc-blas-matmul calls ``tgc_parallel_gemm_<elem>(kernel, A, B, C, Cin, transA, transB, alpha,
beta, MR, NR)`` instead of the kernel (gemm_kernel.py) itself. The driver splits C's columns
(where A is not transposed and each thread gets MIN_CHUNK of them: the kernel reads such an A in
place, so no chunk repacks anything) or else the longer of C's sides into chunks of whole register
tiles, and each chunk is one call of the unchanged kernel on subviews of A (or B), C and Cin (beta's
term: C itself, or the buffer that C would have been copied from); every call packs its own blocks
(the kernel allocates its packs per call), so chunks share nothing but the operands.

The threads (``RUNTIME_C``): persistent pthread workers that sleep on a condition variable between
calls (after one they poll for the next for at most SPIN_NS, never longer), started on the first
call that wants them. The calling thread takes part,
and chunks are handed out by an atomic counter: a worker that the scheduler has not run yet (a busy
machine) takes no chunk, the others (the caller included) take its share, and the call waits only
for chunks that were started. A GEMM's first chunk is the caller's own, a thread's share of C
(tgc_gemm_split): the caller is running, so no descheduled worker can hold it, and the rest goes
to chunks of at most half a thread's share, one chunk fewer to repack the other operand for
(2048 x 2048 on 2 threads: rows 1024 + 512 + 512, B packed 3 times instead of 4). A GEMM below
SERIAL_FLOPS, a count of 1 thread, or a call while another thread's call holds the workers runs on
the calling thread.

A one-row C (the kernel's gemv: the MLP at batch 1) splits from SERIAL_GEMV multiply-adds. With B
stored K x N it splits by K: chunk 0 writes C (beta's term included), each other chunk a row of
partial sums, which the caller adds into C in chunk order. Split by C's columns instead, each chunk
ran the kernel's sweeps over a narrower row of C: 2 chunks of 1x1024x784 on one thread took 1.14x
the time of one call, 8 took 1.8x; by K, 2 chunks 1.04x, 4 1.08x (kernel calls through ctypes,
less their 17 us each, the shared machine). With B stored N x K (tf.matmul(x, w,
transpose_b=True)) C's columns are B's rows: split as any GEMM's columns.

A run-time error in a chunk (the kernel's pack that could not be allocated) must fail the call on
its caller's thread: the error handler (tgc/runtime/_fastcall.c) unwinds to the call that entered
compiled code, which a worker does not have (it returned into the kernel, which wrote through the
null pointer), and from the caller's own chunk it left the job's other threads working on the
caller's stack. So the kernels report to ``tgc_parallel_error``: inside a job it records the first
error, stops further chunks and leaves its chunk (longjmp to the chunk loop), and the caller, once
every thread has left the job, hands the error to the handler. In-process the kernel library's
handler is connected to it (``connect_kernel_errors``); in an artifact the runtime's
``tgc_set_error_handler`` replaces the module's weak one and does the same.

The thread count is process-wide per library: ``tgc_set_threads(n)`` (n <= 0: the default, which
is TGC_NUM_THREADS, else the CPUs this process may run on). In-process code calls the copy built
once per machine into the cache (``runtime_address``) and the session's ThreadScope sets its count
for each run (tgc/runtime/blas_threads.py); an artifact links the runtime into its library, its C
API exports ``tgc_set_threads`` and ``<prefix>_set_threads`` (the name that reaches this library's
count where a program links several tgc libraries: tgc/lowering/cpu/artifact.py), and
tgc.runtime.load(threads=) sets it the same way.

Loops other than GEMMs (tgc/lowering/cpu/parallel_loops.py: the batch loops of direct
convolution, max-pool, its gradient and im2col) call ``tgc_parallel_for(body, context, total,
work)``: chunks of whole iterations of ``body(context, begin, end)``, CHUNKS_PER_THREAD per
thread, on the same pool; a loop of fewer than SERIAL_LOOP_WORK operations in all (iterations
times the compiler's estimate of one's) stays on the calling thread.

Calls nest: a chunk's body may call the GEMM driver or ``tgc_parallel_for`` (tgc-parallel-loops
outlines the im2col convolution's per-image loops, each image's GEMM inside). Such a call, on a
worker or on the caller in its own chunk, runs on that thread alone (``tgc_inside_job``): the
images are already spread over the threads, and splitting each small GEMM among threads that are
all busy would only make them wait for each other. A kernel's error there reaches the outer job
and its caller as any chunk's.

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
# The entry of outlined parallel loops (tgc/lowering/cpu/parallel_loops.py).
LOOP_ENTRY = "tgc_parallel_for"
SET_THREADS = "tgc_set_threads"
THREADS_ENVIRONMENT = "TGC_NUM_THREADS"
# Chunks per thread: more lets the others take a descheduled thread's share, fewer packs each
# operand fewer times (every chunk repacks the operand it does not split; a GEMM's caller takes
# one chunk of a whole thread's share, and the rest of C is in these chunks), and no chunk has fewer
# than MIN_CHUNK rows (or columns) unless there would be fewer chunks than threads. The process CPU
# time of a 2-thread GEMM over a 1-thread one's (what the repacking and polling add, which the
# machine's load hardly changes; /tmp benchmark on the shared machine at load 5-7), 1 / 2 chunks
# per thread: n = 256 1.15 / 1.20, 512 1.07 / 1.14, 1024 1.03 / 1.06, 2048 1.02 / 1.03.
CHUNKS_PER_THREAD = 2
MIN_CHUNK = 512
# A GEMM of fewer multiply-adds than this stays on the calling thread: waking a worker costs tens
# of microseconds (the two-layer SGD step's 6.4M-multiply-add GEMMs on 2 threads: 0.22-0.25 ms a
# step split at 2^21, 0.20 ms kept whole, as on 1 thread; quiet 2-core Xeon).
SERIAL_FLOPS = 1 << 23
# The same for one row of C (the kernel's gemv): its time is reading B, one multiply-add per value,
# so less work already outweighs a worker's wake-up (measured: see the module doc).
SERIAL_GEMV = 1 << 17
# The fewest rows of B (K) a chunk of a one-row GEMM takes (each chunk past the first adds a row of
# partial sums that the caller adds into C).
MIN_GEMV_ROWS = 64
GEMV_CHUNKS_PER_THREAD = 2
# How long a worker polls for the next job after one, and a caller for its last worker, before they
# sleep (tgc_spin_until in RUNTIME_C). Longer than the Python between two Session.run steps: a
# worker that slept between them took a step's whole length to wake on a virtual machine and joined
# no job of it (MLP batch 1 on 2 threads: 20 us, 0.27 ms a step, the 1-thread time; 50-200 us,
# 0.14 ms).
SPIN_NS = 200_000
# An outlined loop (parallel_loops.py) of fewer operations than this in all (iterations times the
# compiler's estimate of one's) runs on the calling thread.
SERIAL_LOOP_WORK = 1 << 16

RUNTIME_C = r"""
#define _GNU_SOURCE /* sched_getaffinity */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <setjmp.h>
#include <time.h>

#ifndef TGC_DRIVER_API /* hidden inside an artifact (its own copy); default in the cached library */
#define TGC_DRIVER_API __attribute__((visibility("hidden")))
#define TGC_IN_ARTIFACT
#endif
#define TGC_MAX_WORKERS 255
#define TGC_MAX_ERROR_VALUES 256 /* as the runtime's handler (tgc/runtime/_fastcall.c) keeps */

/* ---- the pool: one job at a time, workers asleep between jobs ---- */

typedef struct tgc_job tgc_job;
struct tgc_job {
  void (*run)(tgc_job *job, int64_t chunk);
  int64_t chunks;
  atomic_llong next; /* the next chunk to hand out */
  bool caller_first; /* chunk 0 is the caller's own: workers are handed chunks 1 on */
  int wanted;        /* workers that may join (threads - 1) */
  atomic_int users;  /* workers inside the job (changed under the pool's lock) */
  int open;          /* workers may still join */
  atomic_int failed; /* a chunk reported a run-time error: no further chunk starts */
  int caller_cpu;    /* the CPU the caller ran on when it handed the job out (-1: unknown) */
  int64_t error_kind, error_count; /* the first error, raised on the caller's thread at the end */
  const char *error_message;
  int64_t error_values[TGC_MAX_ERROR_VALUES];
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, left;
  tgc_job *job;
  atomic_ulong generation; /* changed under the lock; read without it while spinning */
  int workers;  /* started */
  int busy;     /* a caller owns the workers */
  int sleeping; /* workers waiting on `wake` (not polling) */
} tgc_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
              NULL, 0, 0, 0, 0};

static atomic_int tgc_threads_setting; /* 0: the default */
static pthread_once_t tgc_once = PTHREAD_ONCE_INIT;

/* The job whose chunk this thread runs (NULL outside one), and where its chunk loop unwinds to:
   tgc_parallel_error records a run-time error in the job and leaves the chunk there, instead of
   unwinding a thread that does not own the call. */
/* initial-exec: no __tls_get_addr, which would make an artifact's library need the dynamic loader
   by name (two pointers of the static TLS that glibc keeps for libraries loaded later). */
#define TGC_THREAD_LOCAL static _Thread_local __attribute__((tls_model("initial-exec")))
TGC_THREAD_LOCAL tgc_job *tgc_running_job;
TGC_THREAD_LOCAL jmp_buf *tgc_chunk_guard;

/* Whether this thread runs a job's chunk (a worker, or the caller in its own chunks). A GEMM or
   loop called there runs on this thread alone: the other threads are in the same job (the pool
   is busy), and its kernel's errors then go to the outer job (tgc_parallel_error), whose caller
   reports them, never to a nested job's report on a worker. */
static bool tgc_inside_job(void) { return tgc_running_job != NULL; }

static void tgc_run_chunks(tgc_job *job, bool own_first) {
  /* A chunk may run a job of its own (alone: the pool is busy): that one's are put back after. */
  tgc_job *outer_job = tgc_running_job;
  jmp_buf *outer_guard = tgc_chunk_guard;
  jmp_buf guard;
  tgc_running_job = job;
  tgc_chunk_guard = &guard;
  if (setjmp(guard) == 0) {
    if (own_first) job->run(job, 0);
    for (;;) {
      if (atomic_load(&job->failed)) break;
      int64_t chunk = atomic_fetch_add(&job->next, 1);
      if (chunk >= job->chunks) break;
      job->run(job, chunk);
    }
  }
  tgc_running_job = outer_job;
  tgc_chunk_guard = outer_guard;
}

/* ---- run-time errors of chunks (a failed allocation in the kernel) ---- */

typedef void (*tgc_error_fn)(int64_t kind, const char *message, const int64_t *values,
                             int64_t count);
/* The handler the runtime gave (tgc_parallel_set_error_handler): the one that records the error
   and unwinds to the call that entered compiled code, on that call's thread only. */
static _Atomic(tgc_error_fn) tgc_error_target;

/* The handler a kernel run by this runtime reports to. Outside a job it is the runtime's handler
   itself. Inside one, that handler's unwinding would leave the job's other threads running on the
   caller's stack (from the caller's own chunk), and on a worker it has no call to unwind to: it
   returned into the kernel, which wrote through the null pointer of its failed allocation. So the
   first error is recorded in the job, no further chunk starts, and this thread leaves its chunk
   for its chunk loop (tgc_run_chunks; the kernel holds no locks, its other pack leaks as on any
   failed call); tgc_parallel_run reports the error on the caller's thread once every thread has
   left the job. */
TGC_DRIVER_API void tgc_parallel_error(int64_t kind, const char *message, const int64_t *values,
                                       int64_t count) {
  tgc_job *job = tgc_running_job;
  if (job == NULL) {
    tgc_error_fn target = atomic_load(&tgc_error_target);
    if (target != NULL) target(kind, message, values, count);
    return;
  }
  if (!atomic_exchange(&job->failed, 1)) { /* the first error is the one reported */
    if (count < 0) count = 0;
    if (count > TGC_MAX_ERROR_VALUES) count = TGC_MAX_ERROR_VALUES;
    job->error_kind = kind, job->error_message = message, job->error_count = count;
    for (int64_t i = 0; values != NULL && i < count; ++i) job->error_values[i] = values[i];
  }
  longjmp(*tgc_chunk_guard, 1);
}

/* The error a job's chunk recorded, reported on the calling thread (where the handler may unwind:
   every thread has left the job). */
static void tgc_report_job_error(tgc_job *job) {
  if (!atomic_load(&job->failed)) return;
  tgc_error_fn target = atomic_load(&tgc_error_target);
  if (target != NULL)
    target(job->error_kind, job->error_message, job->error_values, job->error_count);
}

/* An artifact's code (its handler global and weak tgc_set_error_handler, runtime_errors.py) lives
   in the same library: the handler the loader (or a C program) sets becomes this runtime's
   target, and the code's global points at tgc_parallel_error. In-process, the kernel library's
   handler is connected the same way by Python (connect_kernel_errors). */
extern void *tgc_error_handler __attribute__((weak));

TGC_DRIVER_API void tgc_parallel_set_error_handler(void *handler) {
  atomic_store(&tgc_error_target, (tgc_error_fn)handler);
}

#ifdef TGC_IN_ARTIFACT
void tgc_set_error_handler(void *handler) {
  tgc_parallel_set_error_handler(handler);
  /* No handler: the code's own report (a line on stderr) stays. */
  if (&tgc_error_handler != NULL) tgc_error_handler = handler ? (void *)tgc_parallel_error : NULL;
}
#endif

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

/* Moves this thread off `cpu` (the caller's) when it runs there. A worker woken after a long sleep
   is placed on its waker's CPU when the kernel takes its own idle CPU for busy (a virtual machine
   whose host has descheduled that idle vCPU), and it then stays there, time-sharing the caller's
   core while the other core idles (MLP batch 1 on 2 threads: 0.30 ms a step against 0.15-0.20).
   The affinity is narrowed only to make the move and put back at once: a lasting pin would keep
   the worker on a core that another process later takes. Returns whether it moved. */
TGC_DRIVER_API bool tgc_move_off_cpu(int cpu) {
  if (cpu < 0 || sched_getcpu() != cpu) return false;
  cpu_set_t allowed, elsewhere;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(cpu, &allowed))
    return false;
  elsewhere = allowed;
  CPU_CLR(cpu, &elsewhere);
  if (CPU_COUNT(&elsewhere) == 0 || sched_setaffinity(0, sizeof elsewhere, &elsewhere) != 0)
    return false;
  sched_setaffinity(0, sizeof allowed, &allowed);
  return true;
}

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
    while (tgc_pool.generation == seen) {
      tgc_pool.sleeping++;
      pthread_cond_wait(&tgc_pool.wake, &tgc_pool.lock);
      tgc_pool.sleeping--;
    }
    seen = tgc_pool.generation;
    tgc_job *job = tgc_pool.job;
    if (job == NULL || !job->open || index >= job->wanted) continue;
    job->users++;
    pthread_mutex_unlock(&tgc_pool.lock);
    tgc_move_off_cpu(job->caller_cpu);
    tgc_run_chunks(job, false);
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
  tgc_pool.sleeping = 0;
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

/* Runs every chunk of `job` on the calling thread and up to threads - 1 workers. An error a chunk
   reported is in the job afterwards: the caller frees what the job used, then tgc_report_job_error
   (which may unwind). */
static void tgc_parallel_run(tgc_job *job, int threads) {
  pthread_once(&tgc_once, tgc_register_fork_handler);
  /* A caller_first job's chunk 0 is run by the caller before it takes chunks from the counter. */
  atomic_store(&job->next, job->caller_first ? 1 : 0);
  atomic_store(&job->failed, 0);
  pthread_mutex_lock(&tgc_pool.lock);
  int helpers = threads - 1;
  if (!tgc_pool.busy && helpers > 0) {
    int started = tgc_start_workers(helpers);
    helpers = started < helpers ? started : helpers;
  }
  if (tgc_pool.busy || helpers < 1) { /* another call holds the workers: this one alone */
    pthread_mutex_unlock(&tgc_pool.lock);
    tgc_run_chunks(job, job->caller_first);
    return;
  }
  tgc_pool.busy = 1;
  job->caller_cpu = sched_getcpu();
  job->wanted = helpers;
  job->users = 0;
  job->open = 1;
  tgc_pool.job = job;
  tgc_pool.generation++;
  bool woke_sleepers = tgc_pool.sleeping > 0;
  pthread_cond_broadcast(&tgc_pool.wake);
  pthread_mutex_unlock(&tgc_pool.lock);
  /* A worker woken from its sleep may be queued on this thread's CPU (tgc_move_off_cpu), behind
     this thread, which does not block before the job is done: it would get to run only at the
     scheduler's next tick, milliseconds later, after the caller ran every chunk alone. Yielding
     once lets it run now, join and move to another CPU; with no one queued here it returns at
     once. */
  if (woke_sleepers) sched_yield();
  tgc_run_chunks(job, job->caller_first);
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

/* A GEMM's split: chunk 0, the caller's own (it is running: a worker the scheduler has not run
   cannot hold it), takes a thread's share of `total`, `first`; the rest goes to chunks of `span`
   (tgc_span over the other threads) that the workers, and the caller once done, take. One chunk
   fewer than TGC_CHUNKS_PER_THREAD chunks of every thread's share: every chunk repacks the
   operand it does not split, and no chunk a worker can be descheduled in is larger than before.
   It also evens out shares that equal chunks left uneven: 1536 rows on 2 threads were 3 chunks of
   512 (one thread ran two: 1024 rows' time for 768 rows' share), now 768 + 512 + 256. */
typedef struct { int64_t first, span, chunks; } tgc_split;

static tgc_split tgc_gemm_split(int64_t total, int64_t unit, int threads) {
  tgc_split split = {total, total, 1};
  if (threads < 2) return split;
  split.first = tgc_ceil_div(tgc_ceil_div(total, threads), unit) * unit;
  if (split.first >= total) return split;
  int64_t rest = total - split.first;
  split.span = tgc_span(rest, unit, threads - 1);
  split.chunks = 1 + tgc_ceil_div(rest, split.span);
  return split;
}

/* Whether a GEMM's chunks are C's rows (else its columns). Each chunk of rows packs the whole of
   B again, each chunk of columns reads the whole of A; A not transposed is read where it lies
   (the kernel's _DirectA: no pack), so columns then repack nothing. But a chunk of columns is
   whole NR-wide tiles (48 on AVX-512 f32) where one of rows is MR (8): a share of a few tiles
   splits unevenly (256 columns on 2 threads: 144 + 112), so columns need TGC_MIN_CHUNK of them
   per thread. Otherwise the longer side is split. Kernel alone, chunks of a 2-thread split run
   one after the other, the larger share (the critical path) / their sum, rows against columns:
   2048^3 49.6 / 97.8 ms against 46.7 / 91.2 (one call 93.1), 1024^3 6.1 / 12.1 against
   6.1 / 11.9, 512^3 0.79 / 1.57 against 0.81 / 1.46 (shared machine at load 5). */
static bool tgc_split_by_rows(int64_t m, int64_t n, bool ta, int threads) {
  if (!ta && n >= (int64_t)threads * TGC_MIN_CHUNK) return false;
  return m >= n;
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
    tgc_split split;                                                                           \
  } tgc_gemm_job_##NAME;                                                                       \
                                                                                               \
  static void tgc_gemm_chunk_##NAME(tgc_job *job, int64_t chunk) {                             \
    tgc_gemm_job_##NAME *j = (tgc_gemm_job_##NAME *)job;                                       \
    tgc_view_##NAME a = j->a, b = j->b, c = j->c, ci = j->ci;                                  \
    int64_t total = j->by_rows ? c.rows : c.cols, span = j->split.span;                        \
    int64_t begin = chunk == 0 ? 0 : j->split.first + (chunk - 1) * span;                      \
    if (chunk == 0) span = j->split.first;                                                     \
    int64_t size = total - begin < span ? total - begin : span;                                \
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
  /* One row of C times B stored K x N, split by K: chunk 0 computes C = alpha x0 B0 + beta Cin  \
     over its rows of B, chunk i > 0 its own row of partial sums alpha xi Bi, which the caller     \
     adds into C at the end in chunk order (the same sums whichever thread ran a chunk). Each      \
     chunk streams whole rows of B (split by C's columns, chunks cost more: module doc). The      \
     kernel must apply no activation (an epilogue kernel would apply it to each partial sum):    \
     tgc-blas-matmul calls the plain kernel for one row and the epilogue after it. */            \
  typedef struct {                                                                             \
    tgc_job base;                                                                              \
    tgc_kernel_##NAME kernel;                                                                  \
    tgc_view_##NAME a, b, c, ci;                                                               \
    bool ta;                                                                                   \
    T alpha, beta;                                                                             \
    int64_t span;                                                                              \
    T *partials; /* chunks - 1 rows of C's length */                                           \
  } tgc_gemv_job_##NAME;                                                                       \
                                                                                               \
  static void tgc_gemv_chunk_##NAME(tgc_job *job, int64_t chunk) {                             \
    tgc_gemv_job_##NAME *j = (tgc_gemv_job_##NAME *)job;                                       \
    tgc_view_##NAME a = j->a, b = j->b, c = j->c, ci = j->ci;                                  \
    int64_t begin = chunk * j->span;                                                           \
    int64_t size = b.rows - begin < j->span ? b.rows - begin : j->span;                        \
    if (j->ta) a.off += begin * a.ld, a.rows = size; /* x is A's column */                    \
    else a.off += begin, a.cols = size;                                                        \
    b.off += begin * b.ld, b.rows = size;                                                      \
    T beta = j->beta;                                                                          \
    if (chunk > 0) {                                                                           \
      T *row = j->partials + (chunk - 1) * c.cols;                                             \
      c = (tgc_view_##NAME){row, row, 0, 1, c.cols, c.cols, 1};                                \
      ci = c, beta = 0;                                                                        \
    }                                                                                          \
    j->kernel(TGC_EXPAND(a), TGC_EXPAND(b), TGC_EXPAND(c), TGC_EXPAND(ci), j->ta, false,        \
              j->alpha, beta);                                                                 \
  }                                                                                            \
                                                                                               \
  /* Returns false (nothing done) where K is too short to split or the partials' buffer cannot  \
     be had: the caller then runs the kernel on its own thread. */                              \
  static bool tgc_gemv_by_k_##NAME(tgc_kernel_##NAME kernel, tgc_view_##NAME a,                \
                                   tgc_view_##NAME b, tgc_view_##NAME c, tgc_view_##NAME ci,   \
                                   bool ta, T alpha, T beta, int threads) {                    \
    int64_t k = b.rows, n = c.cols;                                                            \
    int64_t span = tgc_ceil_div(k, (int64_t)threads * TGC_GEMV_CHUNKS_PER_THREAD);             \
    if (span < TGC_MIN_GEMV_ROWS) span = TGC_MIN_GEMV_ROWS;                                    \
    int64_t chunks = tgc_ceil_div(k, span);                                                    \
    if (chunks < 2) return false;                                                              \
    size_t bytes = (size_t)((chunks - 1) * n) * sizeof(T);                                     \
    T *partials = aligned_alloc(64, (bytes + 63) / 64 * 64);                                   \
    if (partials == NULL) return false;                                                        \
    tgc_gemv_job_##NAME job = {.kernel = kernel, .a = a, .b = b, .c = c, .ci = ci, .ta = ta,   \
                               .alpha = alpha, .beta = beta, .span = span,                     \
                               .partials = partials};                                          \
    job.base.run = tgc_gemv_chunk_##NAME;                                                      \
    job.base.chunks = chunks;                                                                  \
    tgc_parallel_run(&job.base, threads);                                                      \
    if (!atomic_load(&job.base.failed)) {                                                      \
      T *out = c.align + c.off;                                                                \
      for (int64_t p = 0; p < chunks - 1; ++p)                                                 \
        for (int64_t i = 0; i < n; ++i) out[i * c.inner] += partials[p * n + i];              \
    }                                                                                          \
    free(partials);                                                                            \
    tgc_report_job_error(&job.base);                                                           \
    return true;                                                                               \
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
    /* One row (the kernel's gemv, which streams B once) has a lower bar: its time is reading B, \
       one multiply-add per value. B stored K x N splits by K (tgc_gemv_by_k); B stored N x K by  \
       C's columns (B's rows). Both transposed is the kernel's packed path: on one thread. */     \
    bool one_row = m == 1;                                                                     \
    int64_t serial = one_row ? TGC_SERIAL_GEMV : TGC_SERIAL_FLOPS;                             \
    if (tgc_inside_job()) threads = 1; /* a chunk's GEMM: on its own thread (module doc) */    \
    if (threads >= 2 && one_row && !tb && k * n >= serial &&                                   \
        tgc_gemv_by_k_##NAME(kernel, va, vb, vc, vci, ta, alpha, beta, threads))               \
      return;                                                                                  \
    bool by_rows = !one_row && tgc_split_by_rows(m, n, ta, threads);                           \
    int64_t total = by_rows ? m : n, unit = by_rows ? mr : nr;                                 \
    tgc_split split = tgc_gemm_split(total, unit, threads);                                    \
    if (threads < 2 || (one_row && (ta || !tb)) || m * n * k < serial || split.chunks < 2) {   \
      kernel(TGC_EXPAND(va), TGC_EXPAND(vb), TGC_EXPAND(vc), TGC_EXPAND(vci), ta, tb, alpha,   \
             beta);                                                                            \
      return;                                                                                  \
    }                                                                                          \
    tgc_gemm_job_##NAME job = {.kernel = kernel, .a = va, .b = vb, .c = vc, .ci = vci,         \
                               .ta = ta, .tb = tb, .by_rows = by_rows, .alpha = alpha,         \
                               .beta = beta, .split = split};                                  \
    job.base.run = tgc_gemm_chunk_##NAME;                                                      \
    job.base.chunks = split.chunks;                                                            \
    job.base.caller_first = true;                                                              \
    tgc_parallel_run(&job.base, threads);                                                      \
    tgc_report_job_error(&job.base);                                                           \
  }

TGC_DEFINE_GEMM(float, f32)
TGC_DEFINE_GEMM(double, f64)

/* ---- loops: iterations [begin, end) of an outlined loop body (parallel_loops.py) ---- */

typedef void (*tgc_loop_body)(void *context, int64_t begin, int64_t end);

typedef struct {
  tgc_job base;
  tgc_loop_body body;
  void *context;
  int64_t total, span;
} tgc_loop_job;

static void tgc_loop_chunk(tgc_job *job, int64_t chunk) {
  tgc_loop_job *j = (tgc_loop_job *)job;
  int64_t begin = chunk * j->span;
  int64_t end = j->total - begin < j->span ? j->total : begin + j->span;
  j->body(j->context, begin, end);
}

/* Runs body(context, 0, total) as chunks of whole iterations on the pool; `work`: the compiler's
   estimate of one iteration's operations (a loop of fewer than TGC_SERIAL_LOOP_WORK in all runs
   on the calling thread, as does a count of 1 thread). */
TGC_DRIVER_API void tgc_parallel_for(tgc_loop_body body, void *context, int64_t total,
                                     int64_t work) {
  int threads = tgc_inside_job() ? 1 : tgc_threads();
  if (threads < 2 || total < 2 || total * work < TGC_SERIAL_LOOP_WORK) {
    if (total > 0) body(context, 0, total);
    return;
  }
  int64_t chunks = (int64_t)threads * TGC_CHUNKS_PER_THREAD;
  if (chunks > total) chunks = total;
  int64_t span = tgc_ceil_div(total, chunks);
  tgc_loop_job job = {.body = body, .context = context, .total = total, .span = span};
  job.base.run = tgc_loop_chunk;
  job.base.chunks = tgc_ceil_div(total, span);
  tgc_parallel_run(&job.base, threads);
  tgc_report_job_error(&job.base);
}
"""


def runtime_source() -> str:
    """The runtime's C source with its tuning constants."""
    return (
        f"#define TGC_CHUNKS_PER_THREAD {CHUNKS_PER_THREAD}\n"
        f"#define TGC_SERIAL_FLOPS {SERIAL_FLOPS}LL\n"
        f"#define TGC_SERIAL_GEMV {SERIAL_GEMV}LL\n"
        f"#define TGC_MIN_GEMV_ROWS {MIN_GEMV_ROWS}LL\n"
        f"#define TGC_GEMV_CHUNKS_PER_THREAD {GEMV_CHUNKS_PER_THREAD}\n"
        f"#define TGC_MIN_CHUNK {MIN_CHUNK}LL\n"
        f"#define TGC_SPIN_NS {SPIN_NS}LL\n"
        f"#define TGC_SERIAL_LOOP_WORK {SERIAL_LOOP_WORK}LL\n" + RUNTIME_C
    )


def driver_symbol(elem: str) -> str:
    return f"{DRIVER_PREFIX}{elem}"


def needs_runtime(llvm_ir: str) -> bool:
    """Whether code (its LLVM IR) calls the parallel driver or loop entry (then its library links
    the runtime)."""
    return f"@{DRIVER_PREFIX}" in llvm_ir or f"@{LOOP_ENTRY}(" in llvm_ir


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


def connect_kernel_errors(setter_address: int, handler_address: int) -> bool:
    """Gives a kernel library's ``tgc_set_error_handler`` (at ``setter_address``) the runtime's
    forwarder ``tgc_parallel_error`` and the runtime the handler ``handler_address`` (the one that
    raises on the call's thread): a kernel's failed allocation on a worker then fails the call on
    its caller's thread (RUNTIME_C). False where the runtime is unavailable (GEMMs run on the
    calling thread, which may take the handler itself)."""
    found = library()
    if found is None:
        return False
    set_target = found.tgc_parallel_set_error_handler
    set_target.argtypes, set_target.restype = [ctypes.c_void_p], None
    set_target(handler_address)
    forwarder = ctypes.cast(found.tgc_parallel_error, ctypes.c_void_p).value
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(setter_address)(forwarder)
    return True


def error_forwarder_address() -> int:
    """The loaded runtime's ``tgc_parallel_error`` (its target set to the runtime's handler), for
    a module's own checks (jit.connect_handlers); 0 where the runtime is not loaded (it is not
    built here for that: a module that calls the runtime loaded it when it was compiled)."""
    with _LOCK:
        found = _LIBRARY[0] if _LIBRARY else None
    if found is None:
        return 0
    from tgc.runtime.executable import error_handler_address

    set_target = found.tgc_parallel_set_error_handler
    set_target.argtypes, set_target.restype = [ctypes.c_void_p], None
    set_target(error_handler_address())
    return ctypes.cast(found.tgc_parallel_error, ctypes.c_void_p).value


def runtime_address(symbol: str) -> ctypes.c_void_p | None:
    """The address of the in-process runtime's ``symbol`` (a driver), or None when ``symbol`` is no
    driver or the runtime is unavailable."""
    if not symbol.startswith(DRIVER_PREFIX) and symbol != LOOP_ENTRY:
        return None
    found = library()
    if found is None or not hasattr(found, symbol):
        return None
    return ctypes.cast(getattr(found, symbol), ctypes.c_void_p)
