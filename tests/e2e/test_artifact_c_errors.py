"""A C program calling an artifact whose run-time check fails: the outcomes its header documents
(tgc/lowering/cpu/artifact.py, tgc/lowering/runtime_errors.py), never a signal.

Without a handler the check's line goes to stderr and the process ends with exit(1) (stdio flushed);
a handler that returns from a failed allocation gets the same end instead of the write through the
null pointer that followed (a segfault); a handler that longjmps out survives, and the library's
next call is right; a handler that returns from a shape check lets the call finish. The failed
allocation is made by an LD_PRELOAD malloc that refuses blocks of 1 MiB or more (the outer
product's [1000, 1000] float result).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

import tgc as tf

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

_REFUSING_MALLOC = r"""
#define _GNU_SOURCE
#include <stdlib.h>
extern void *__libc_malloc(size_t);
void *malloc(size_t size) { return size >= (1 << 20) ? NULL : __libc_malloc(size); }
"""

# outer(a, b) of a = 1..n as [n, 1] and b = n..2n-1 as [1, n] (or sum(a, b) of two [n] vectors);
# argv[1]: none / returns / jumps (the handler installed), argv[2]: n.
_PROGRAM = r"""
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

static jmp_buf back;
static void returns(int64_t kind, const char *message, const int64_t *values, int64_t count) {
  fprintf(stderr, "handler: kind %lld, %lld values, first %lld: %s\n", (long long)kind,
          (long long)count, (long long)(count > 0 ? values[0] : -1), message);
}
static void jumps(int64_t kind, const char *message, const int64_t *values, int64_t count) {
  returns(kind, message, values, count);
  longjmp(back, 1);
}

static void run(int64_t n) {
  float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) a[i] = (float)(i + 1), b[i] = (float)(n + i);
  model_results results;
  memset(&results, 0, sizeof results);
#ifdef OUTER
  tgc_memref_float32_2d ma = {a, a, 0, {n, 1}, {1, 1}}, mb = {b, b, 0, {1, n}, {n, 1}};
  model_run(&results, &ma, &mb);
  int64_t size = n * n;
#else
  tgc_memref_float32_1d ma = {a, a, 0, {n}, {1}}, mb = {b, b, 0, {n - 1}, {1}};
  model_run(&results, &ma, &mb);
  int64_t size = 0; /* the shapes did not broadcast: the results are not to be used */
#endif
  double sum = 0;
  for (int64_t i = 0; i < size; ++i) sum += results.out.aligned[results.out.offset + i];
  printf("sum of %lld: %.1f\n", (long long)n, sum);
  free(a), free(b);
}

int main(int argc, char **argv) {
  if (strcmp(argv[1], "returns") == 0) tgc_set_error_handler(returns);
  if (strcmp(argv[1], "jumps") == 0) tgc_set_error_handler(jumps);
  printf("before the call\n"); /* stdout is a pipe, so buffered: exit() must flush it */
  if (setjmp(back) == 0) {
    run(atoll(argv[2]));
    printf("after the call\n");
  } else {
    printf("the call failed\n");
    run(3);
  }
  return 0;
}
"""

_OUTER_LINE = 'tf.matmul(a, b, name="out")'  # the op the failed allocation's error names


def _node_of_outer() -> str:
    """The error's "node": the op's name and where this file made it (the exported text keeps
    the ops' locations)."""
    lines = Path(__file__).read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == _OUTER_LINE)
    return f"out (defined at {__file__}:{line})"


_JSON = (
    '{"device": "/job:localhost/replica:0/task:0/device:CPU:0", "dtype": "float", '
    f'"node": "{_node_of_outer()}"}}'
)
_UNHANDLED = "tgc: a run-time check failed (no handler; see tgc_set_error_handler): "
_RETURNED = (
    "tgc: the error handler returned from a failed allocation or a size out of range, which the "
    "compiled code cannot survive; exiting: "
)


def _build(where, name: str, make) -> tuple:
    """Compiles the graph ``make`` builds (result "out") into an artifact and the C program
    against it; returns (program, refusing malloc)."""
    from tgc.frontend.export import export_graph
    from tgc.tools.cli import main as cli_main

    with tf.Graph().as_default():
        make()
        export_graph(["out"], ["a", "b"], path=str(where / "graph.mlir"))
    with pytest.raises(SystemExit) as done:
        cli_main(["compile", str(where / "graph.mlir"), "-o", str(where / "art")])
    assert done.value.code in (0, None)
    (where / "main.c").write_text(_PROGRAM)
    (where / "shim.c").write_text(_REFUSING_MALLOC)
    art = where / "art"
    define = ["-DOUTER"] if name == "outer" else []
    for command in (
        ["cc", *define, "-I", str(art), "main.c", "-L", str(art), "-lmodel"]
        + [f"-Wl,-rpath,{art}", "-o", "main"],
        ["cc", "-shared", "-fPIC", "-O2", "-o", "shim.so", "shim.c"],
    ):
        built = subprocess.run(command, capture_output=True, text=True, cwd=where, timeout=120)
        assert built.returncode == 0, built.stderr
    return where / "main", where / "shim.so"


@pytest.fixture(scope="module")
def outer(tmp_path_factory):
    def make():
        a = tf.placeholder(tf.float32, [None, 1], name="a")
        b = tf.placeholder(tf.float32, [1, None], name="b")
        tf.matmul(a, b, name="out")

    return _build(tmp_path_factory.mktemp("outer"), "outer", make)


@pytest.fixture(scope="module")
def add(tmp_path_factory):
    def make():
        a = tf.placeholder(tf.float32, [None], name="a")
        b = tf.placeholder(tf.float32, [None], name="b")
        tf.add(a, b, name="out")

    return _build(tmp_path_factory.mktemp("add"), "add", make)


def _run(built, handler: str, n: int, refuse: bool = True):
    program, shim = built
    env = {"LD_PRELOAD": str(shim)} if refuse else {}
    return subprocess.run(
        [str(program), handler, str(n)], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_program_computes_the_outer_product_when_malloc_gives(outer):
    ran = _run(outer, "none", 1000, refuse=False)
    assert ran.returncode == 0, ran.stderr
    # sum(1..1000) * sum(1000..1999)
    assert ran.stdout == f"before the call\nsum of 1000: {500500 * 1499500:.1f}\nafter the call\n"


def test_without_a_handler_a_failed_allocation_is_told_and_ends_the_process(outer):
    ran = _run(outer, "none", 1000)
    assert ran.returncode == 1, ran.stderr  # not a signal (a negative returncode)
    assert ran.stderr == _UNHANDLED + _JSON + "\n"
    assert ran.stdout == "before the call\n"  # flushed by exit(); nothing after the call


def test_a_handler_that_returns_from_a_failed_allocation_is_told_and_the_process_ends(outer):
    ran = _run(outer, "returns", 1000)
    assert ran.returncode == 1, ran.stderr
    assert ran.stderr.splitlines() == [
        "handler: kind 2, 2 values, first 1000: " + _JSON,  # TGC_ERROR_OUT_OF_MEMORY, the shape
        _RETURNED + _JSON,
    ]
    assert ran.stdout == "before the call\n"


def test_a_handler_that_jumps_out_survives_and_the_next_call_is_right(outer):
    ran = _run(outer, "jumps", 1000)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == "handler: kind 2, 2 values, first 1000: " + _JSON + "\n"
    # outer([1, 2, 3], [3, 4, 5]) sums to 6 * 12
    assert ran.stdout == "before the call\nthe call failed\nsum of 3: 72.0\n"


def test_the_header_declares_the_handler_and_the_kinds(outer):
    header = (outer[0].parent / "art" / "model.h").read_text()
    assert "void tgc_set_error_handler(tgc_error_handler_fn handler);" in header
    assert "#define TGC_ERROR_OUT_OF_MEMORY 2" in header
    assert "ends the process with exit(1)" in header


def test_without_a_handler_a_shape_check_is_told_and_ends_the_process(add):
    ran = _run(add, "none", 4, refuse=False)
    assert ran.returncode == 1, ran.stderr
    assert ran.stderr.startswith(_UNHANDLED + "{")
    assert ran.stdout == "before the call\n"


def test_a_handler_that_returns_from_a_shape_check_lets_the_call_finish(add):
    ran = _run(add, "returns", 4, refuse=False)
    assert ran.returncode == 0, ran.stderr
    # TGC_ERROR_INCOMPATIBLE_SHAPES; values: 2 operands, then rank and dims of each: [4] vs. [3]
    assert ran.stderr.startswith("handler: kind 1, 5 values, first 2: {")
    assert ran.stdout == "before the call\nsum of 4: 0.0\nafter the call\n"


@pytest.fixture(scope="module")
def reshaped(tmp_path_factory):
    def make():
        a = tf.placeholder(tf.float32, [None], name="a")
        b = tf.placeholder(tf.float32, [None], name="b")
        tf.add(tf.reshape(a, [4]), tf.reshape(b, [4]), name="out")

    return _build(tmp_path_factory.mktemp("reshaped"), "reshaped", make)


def test_a_handler_that_returns_from_a_size_that_does_not_fit_is_told_and_the_process_ends(
    reshaped,
):
    """b holds 3 values for a reshape to [4]: the code after the check would read past b, so a
    returning handler ends the process as after a failed allocation."""
    ran = _run(reshaped, "returns", 4, refuse=False)
    assert ran.returncode == 1, ran.stderr
    handler_line, returned_line = ran.stderr.splitlines()
    # TGC_ERROR_RESHAPE_SIZE_MISMATCH; values: b's 3 values, the 4 asked for, no -1
    assert handler_line.startswith("handler: kind 7, 3 values, first 3: {")
    assert returned_line.startswith(_RETURNED + "{") and "Reshape_1" in returned_line
    assert ran.stdout == "before the call\n"


# ---- a failed allocation on the matmul's thread pool --------------------------------------------

# malloc refusing blocks of 4 KiB or more on tgc's workers (the only threads here that block every
# signal, SIGUSR2 included): the generated kernel's packs (tests/unit/test_parallel_gemv_errors.py's
# shim, always on).
_REFUSING_WORKER_MALLOC = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
extern void *__libc_malloc(size_t);
static int on_a_worker(void) {
  sigset_t mask;
  return pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 && sigismember(&mask, SIGUSR2) == 1;
}
void *malloc(size_t size) {
  return size >= 4096 && on_a_worker() ? NULL : __libc_malloc(size);
}
"""

# A [1500, 700] x [700, 900] matmul on 2 threads, 20 times (about 2 GFLOP a call: the worker joins);
# argv[1]: none / returns.
_MATMUL_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
static int reports;
static void returns(int64_t kind, const char *message, const int64_t *values, int64_t count) {
  if (reports++ == 0) fprintf(stderr, "handler: kind %lld: %s\n", (long long)kind, message);
}
int main(int argc, char **argv) {
  if (strcmp(argv[1], "returns") == 0) tgc_set_error_handler(returns);
  tgc_set_threads(2);
  int64_t m = 1500, k = 700, n = 900;
  float *a = calloc(m * k, sizeof(float)), *b = calloc(k * n, sizeof(float));
  tgc_memref_float32_2d ma = {a, a, 0, {m, k}, {k, 1}}, mb = {b, b, 0, {k, n}, {n, 1}};
  for (int i = 0; i < 20; ++i) {
    model_results results;
    memset(&results, 0, sizeof results);
    model_run(&results, &ma, &mb);
    free(results.out.allocated);
  }
  printf("20 calls, %d reported\n", reports);
  return 0;
}
"""


@pytest.fixture(scope="module")
def matmul(tmp_path_factory):
    from tgc.frontend.export import export_graph
    from tgc.tools.cli import main as cli_main

    where = tmp_path_factory.mktemp("matmul")
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None, None], name="a")
        b = tf.placeholder(tf.float32, [None, None], name="b")
        tf.identity(tf.matmul(a, b), name="out")
        export_graph(["out"], ["a", "b"], path=str(where / "graph.mlir"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TGC_GEMM", "codegen")  # tgc's generated GEMM, on its thread pool
        with pytest.raises(SystemExit) as done:
            cli_main(["compile", str(where / "graph.mlir"), "-o", str(where / "art")])
    assert done.value.code in (0, None)
    (where / "main.c").write_text(_MATMUL_PROGRAM)
    (where / "shim.c").write_text(_REFUSING_WORKER_MALLOC)
    art = where / "art"
    for command in (
        ["cc", "-I", str(art), "main.c", "-L", str(art), "-lmodel", f"-Wl,-rpath,{art}"]
        + ["-o", "main"],
        ["cc", "-shared", "-fPIC", "-O2", "-pthread", "-o", "shim.so", "shim.c"],
    ):
        built = subprocess.run(command, capture_output=True, text=True, cwd=where, timeout=120)
        assert built.returncode == 0, built.stderr
    return where / "main", where / "shim.so"


_PACK = '"node": "tgc_gemm_f32_'  # the kernel's pack that could not be allocated


def test_without_a_handler_a_failed_allocation_on_a_worker_ends_the_process(matmul):
    ran = _run(matmul, "none", 0)
    assert ran.returncode == 1, ran.stderr
    assert ran.stderr.startswith(_UNHANDLED + "{") and _PACK in ran.stderr, ran.stderr
    assert len(ran.stderr.splitlines()) == 1 and ran.stdout == ""


def test_a_handler_returning_from_a_workers_failed_pack_lets_the_calls_finish(matmul):
    ran = _run(matmul, "returns", 0)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.startswith("handler: kind 2: {") and _PACK in ran.stderr, ran.stderr
    reported = int(ran.stdout.split(", ")[1].split()[0])
    assert ran.stdout == f"20 calls, {reported} reported\n" and reported >= 1
