"""Two tgc artifacts in one process (train.so and infer.so, compiled with `--name train` and
`--name infer`): each library's checks reach its own handler and its thread count is its own
(tgc/lowering/cpu/artifact.py's link step binds the library's references to itself, and its C API
exports <prefix>_set_error_handler and <prefix>_set_threads).

Before that, a C program linking both reached train's handler from infer's checks (ELF symbol
interposition: infer's calls of tgc_runtime_error bound to train's), and infer's thread count could
not be set. The program below links both and checks each outcome; the Python test loads both
artifacts after train's library was loaded globally, as a host program linking it would have.

Each graph is out = check_numerics(matmul(a, b) + c, "<prefix> logits"): a NaN in `a` fails the
check with the library's own message, a `c` whose length is not b's columns fails the shape check.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import tgc as tf
from tgc.runtime import executable

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

PREFIXES = ("train", "infer")

# argv[1], argv[2]: what each library's call gets: "ok" (a = ones[2, 3], b = ones[3, 4],
# c = ones[4]: every result 4, sum 32), "nan" (a[0] is NaN) or "shape" (c has 5 elements).
_PROGRAM = r"""
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train.h"
#include "infer.h"

static jmp_buf back;
#define HANDLER(NAME)                                                                          \
  static void NAME##_handler(int64_t kind, const char *message, const int64_t *values,         \
                             int64_t count) {                                                  \
    printf(#NAME " handler: kind %lld: %s\n", (long long)kind, message);                       \
    longjmp(back, 1);                                                                          \
  }
HANDLER(train)
HANDLER(infer)

static float a[6], b[12], c[5];
static tgc_memref_float32_2d ma = {a, a, 0, {2, 3}, {3, 1}}, mb = {b, b, 0, {3, 4}, {4, 1}};
static tgc_memref_float32_1d mc = {c, c, 0, {4}, {1}};

static void inputs(const char *how) {
  for (int i = 0; i < 6; ++i) a[i] = 1.0f;
  for (int i = 0; i < 12; ++i) b[i] = 1.0f;
  for (int i = 0; i < 5; ++i) c[i] = 1.0f;
  if (strcmp(how, "nan") == 0) a[0] = NAN;
  mc.sizes[0] = strcmp(how, "shape") == 0 ? 5 : 4;
}

#define CALL(NAME, HOW)                                                                        \
  do {                                                                                         \
    inputs(HOW);                                                                               \
    if (setjmp(back) == 0) {                                                                   \
      NAME##_results results;                                                                  \
      NAME##_run(&results, &ma, &mb, &mc);                                                     \
      float sum = 0;                                                                           \
      for (int i = 0; i < 8; ++i) sum += results.out.aligned[results.out.offset + i];         \
      printf(#NAME ": sum %.1f\n", sum);                                                       \
      free(results.out.allocated);                                                             \
    } else {                                                                                   \
      printf(#NAME ": the call failed\n");                                                     \
    }                                                                                          \
  } while (0)

int main(int argc, char **argv) {
  train_set_error_handler(train_handler);
  infer_set_error_handler(infer_handler);
  /* Each setter answers its own library's previous count (TGC_NUM_THREADS=2: the default). */
  printf("train_set_threads(3): %d\n", train_set_threads(3));
  printf("infer_set_threads(5): %d\n", infer_set_threads(5));
  printf("train_set_threads(1): %d\n", train_set_threads(1));
  printf("infer_set_threads(1): %d\n", infer_set_threads(1));
  /* The shared name reaches the first library linked (train), as the header says. */
  printf("tgc_set_threads(7): %d\n", tgc_set_threads(7));
  printf("train_set_threads(1): %d\n", train_set_threads(1));
  printf("infer_set_threads(1): %d\n", infer_set_threads(1));
  CALL(train, argv[1]);
  CALL(infer, argv[2]);
  CALL(train, "ok");
  CALL(infer, "ok");
  return 0;
}
"""

_THREADS = """train_set_threads(3): 2
infer_set_threads(5): 2
train_set_threads(1): 3
infer_set_threads(1): 5
tgc_set_threads(7): 1
train_set_threads(1): 7
infer_set_threads(1): 1
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The two artifacts and the C program linking both (train first)."""
    from tgc.tools.cli import main as cli_main

    where = tmp_path_factory.mktemp("two")
    for prefix in PREFIXES:
        _compile_named(where, prefix, cli_main)
    (where / "main.c").write_text(_PROGRAM)
    command = ["cc", "-O1", "-I", str(where / "train"), "-I", str(where / "infer"), "main.c"]
    for prefix in PREFIXES:
        art = where / prefix
        command += ["-L", str(art), f"-l{prefix}", f"-Wl,-rpath,{art}"]
    command += ["-lm", "-o", "main"]
    linked = subprocess.run(command, capture_output=True, text=True, cwd=where, timeout=120)
    assert linked.returncode == 0, linked.stderr
    return where


def _compile_named(where, prefix: str, cli_main) -> None:
    from tgc.frontend.export import export_graph

    graph_path = str(where / f"{prefix}.mlir")
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None, None], name="a")
        b = tf.placeholder(tf.float32, [None, None], name="b")
        c = tf.placeholder(tf.float32, [None], name="c")
        tf.check_numerics(tf.matmul(a, b) + c, f"{prefix} logits", name="out")
        export_graph(["out"], ["a", "b", "c"], path=graph_path)
    with pytest.raises(SystemExit) as done:
        cli_main(["compile", graph_path, "-o", str(where / prefix), "--name", prefix])
    assert done.value.code in (0, None)


def _run(where, train: str, infer: str):
    env = dict(os.environ, TGC_NUM_THREADS="2")
    return subprocess.run(
        [str(where / "main"), train, infer], capture_output=True, text=True, env=env, timeout=60
    )


def _handler_line(line: str, prefix: str) -> tuple:
    """(kind, JSON) of "<prefix> handler: kind K: <JSON>"."""
    head = f"{prefix} handler: kind "
    assert line.startswith(head), line
    kind, message = line[len(head) :].split(": ", 1)
    return int(kind), json.loads(message)


def test_each_setter_answers_its_own_librarys_thread_count(built):
    ran = _run(built, "ok", "ok")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == _THREADS + "train: sum 32.0\ninfer: sum 32.0\n" * 2


def test_the_second_librarys_failed_check_reaches_its_own_handler(built):
    ran = _run(built, "ok", "nan")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout[len(_THREADS) :].splitlines()
    assert lines[0] == "train: sum 32.0"
    kind, message = _handler_line(lines[1], "infer")
    assert kind == executable.NON_FINITE_VALUES
    assert "infer logits" in json.dumps(message)
    assert lines[2:] == ["infer: the call failed", "train: sum 32.0", "infer: sum 32.0"]


def test_each_librarys_shape_check_reaches_its_own_handler(built):
    ran = _run(built, "shape", "shape")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout[len(_THREADS) :].splitlines()
    assert _handler_line(lines[0], "train")[0] == executable.INCOMPATIBLE_SHAPES
    assert lines[1] == "train: the call failed"
    assert _handler_line(lines[2], "infer")[0] == executable.INCOMPATIBLE_SHAPES
    assert lines[3:] == ["infer: the call failed", "train: sum 32.0", "infer: sum 32.0"]


def test_the_first_librarys_failed_check_reaches_its_own_handler(built):
    ran = _run(built, "nan", "ok")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout[len(_THREADS) :].splitlines()
    kind, message = _handler_line(lines[0], "train")
    assert kind == executable.NON_FINITE_VALUES
    assert "train logits" in json.dumps(message)
    assert lines[1:] == [
        "train: the call failed",
        "infer: sum 32.0",
        "train: sum 32.0",
        "infer: sum 32.0",
    ]


def test_each_library_exports_its_prefixed_setters_and_binds_locally(built):
    for prefix in PREFIXES:
        library = str(built / prefix / f"lib{prefix}.so")
        symbols = subprocess.run(["nm", "-D", library], capture_output=True, text=True).stdout
        for name in (f"{prefix}_set_error_handler", f"{prefix}_set_threads"):
            assert f" T {name}\n" in symbols
        # The shared names stay for programs that link one tgc library.
        assert " T tgc_set_error_handler\n" in symbols and " T tgc_set_threads\n" in symbols
        dynamic = subprocess.run(["readelf", "-d", library], capture_output=True, text=True)
        assert "(SYMBOLIC)" in dynamic.stdout


def test_the_header_declares_both_names_of_each_setter(built):
    header = (built / "infer" / "infer.h").read_text()
    for declaration in (
        "int infer_set_threads(int threads);",
        "int tgc_set_threads(int threads);",
        "void infer_set_error_handler(tgc_error_handler_fn handler);",
        "void tgc_set_error_handler(tgc_error_handler_fn handler);",
    ):
        assert declaration + "\n" in header
    assert " *   infer_set_error_handler  sets it in any program, beside other tgc libraries" in (
        header
    )
    assert "links several, that name reaches the first one linked)." in header


def test_the_manifest_names_the_prefix(built):
    manifest = json.loads((built / "infer" / "manifest.json").read_text())
    assert manifest["c_prefix"] == "infer"


# Loads train's library globally first (as a program linking it would have), then both artifacts
# with tgc.runtime.load: each call's failed check raises its own library's error, and each
# artifact's thread setter is its library's own.
_PYTHON = r"""
import ctypes, sys
import numpy as np
from tgc.runtime import errors, load

where = sys.argv[1]
ctypes.CDLL(where + "/train/libtrain.so", mode=ctypes.RTLD_GLOBAL)
loaded = {prefix: load(where + "/" + prefix) for prefix in ("train", "infer")}
a, b, c = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.ones(4, np.float32)
a[0, 0] = np.nan
for prefix, art in loaded.items():
    try:
        art(a=a, b=b, c=c)
        print(prefix, "no error")
    except errors.InvalidArgumentError as exc:
        print(prefix, "raised:", exc.message.replace("\n", " | "))
    print(prefix, "setter:", art._blas_threads.runtime.__name__)
old = {prefix: art._blas_threads.runtime(3 if prefix == "train" else 5) for prefix, art in
       loaded.items()}
print("now:", [art._blas_threads.runtime(1) for art in loaded.values()])
a[0, 0] = 1.0
print("sums:", [float(art(a=a, b=b, c=c)["out"].sum()) for art in loaded.values()])
"""


def test_two_artifacts_in_one_python_process_each_raise_their_own_error(built):
    env = dict(os.environ, TGC_NUM_THREADS="2")
    ran = subprocess.run(
        [sys.executable, "-c", _PYTHON, str(built)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("train raised: ") and "train logits" in lines[0]
    assert "[[node out (defined at " in lines[0]  # the op, from the exported text's locations
    assert lines[1] == "train setter: train_set_threads"
    assert lines[2].startswith("infer raised: ") and "infer logits" in lines[2]
    assert lines[3] == "infer setter: infer_set_threads"
    assert lines[4] == "now: [3, 5]"
    assert lines[5] == "sums: [32.0, 32.0]"


def test_an_artifact_written_before_the_prefix_uses_the_shared_setters(built, tmp_path):
    from tgc.runtime import load

    copy = tmp_path / "infer"
    shutil.copytree(built / "infer", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["c_prefix"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    art = load(str(copy))
    assert art._blas_threads.runtime.__name__ == "tgc_set_threads"
    assert executable.own_setter_names(None, "threads") == ["tgc_set_threads"]
    assert executable.own_setter_names("infer", "error_handler") == [
        "infer_set_error_handler",
        "tgc_set_error_handler",
    ]


def test_the_llvm_ir_path_connects_the_prefixed_error_setter(built):
    import numpy as np

    from tgc.runtime import errors, load

    pytest.importorskip("llvmlite")
    art = load(str(built / "infer"), prefer="llvm-ir")
    assert art.backend == "llvmlite"
    a, b, c = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.ones(4, np.float32)
    a[0, 0] = np.nan
    with pytest.raises(errors.InvalidArgumentError, match="infer logits"):
        art(a=a, b=b, c=c)
    a[0, 0] = 1.0
    np.testing.assert_array_equal(art(a=a, b=b, c=c)["out"], np.full((2, 4), 4.0, np.float32))


def test_name_tgc_keeps_the_shared_setters_as_the_librarys_only_names(tmp_path):
    import numpy as np

    from tgc.runtime import errors, load
    from tgc.tools.cli import main as cli_main

    _compile_named(tmp_path, "tgc", cli_main)
    header = (tmp_path / "tgc" / "tgc.h").read_text()
    assert header.count("int tgc_set_threads(int threads);\n") == 1
    assert header.count("void tgc_set_error_handler(tgc_error_handler_fn handler);\n") == 1
    assert "Compiled with --name tgc, the library has no name of\n *   its own for it" in header
    art = load(str(tmp_path / "tgc"))
    assert art._blas_threads.runtime.__name__ == "tgc_set_threads"
    a, b, c = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.ones(4, np.float32)
    a[0, 0] = np.nan
    with pytest.raises(errors.InvalidArgumentError, match="tgc logits"):
        art(a=a, b=b, c=c)
