"""GEMM choice per shape by measurement (tgc/lowering/cpu/gemm_tuning.py, tgc-blas-matmul's
gemm=auto): the cache on disk, its corruption, the choice reaching the call in the IR, a Session
and an artifact computing the same numbers whichever GEMM they call, ``tgc inspect`` and
``tgc tune``. The conftest gives each test an empty cache directory. No timing assertions: the
measured times are only checked to be there (benchmarks/gemm_codegen.py --callees auto compares
speeds)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from click.testing import CliRunner
from mlir import ir

import tgc as tf
from tgc.lowering.cpu import gemm_autotune, gemm_tuning
from tgc.lowering.cpu.blas import BlasMatmulPass
from tgc.lowering.cpu.gemm_autotune import GemmAutotunePass
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT

Shape = gemm_tuning.MatmulShape
SECONDS = {"blas": 2e-6, "codegen": 1e-6}


@pytest.fixture
def quick(monkeypatch):
    """Tuning within a few ms per shape: these tests check what is recorded, not the speed."""
    monkeypatch.setattr(gemm_autotune, "DEFAULT_BUDGET_S", 0.005)


def test_a_stored_choice_is_read_back_from_this_machines_file():
    shape = Shape("f32", 64, 100, 1000, trans_b=True, beta_zero=False, threads=1)
    gemm_tuning.store_choice(shape, "codegen", SECONDS)
    path = gemm_tuning.cache_path()
    assert path.startswith(os.environ[gemm_tuning.CACHE_ENVIRONMENT])
    with open(path) as fh:
        data = json.load(fh)
    assert data["machine"] == gemm_tuning.machine_identity()
    assert gemm_tuning.load_cache() == {
        shape.key(): {"shape": shape.to_json(), "callee": "codegen", "seconds": SECONDS}
    }
    choice = gemm_tuning.choose(shape)
    assert (choice.callee, choice.source, choice.seconds) == ("codegen", "cache", SECONDS)


def test_another_isa_reads_another_file(monkeypatch):
    first = gemm_tuning.cache_path()
    other = "avx2" if gemm_tuning.gemm_kernel.chosen_isa() == "avx512" else "avx512"
    monkeypatch.setenv(gemm_tuning.gemm_kernel.ISA_ENVIRONMENT, other)
    assert gemm_tuning.cache_path() != first


@pytest.mark.parametrize(
    "content, why",
    [
        ("{not json", "not JSON"),
        ('{"format": 99, "choices": {}}', "not a format-1 GEMM choice cache"),
        ('{"format": 1, "choices": {"k": {"callee": "mkl"}}}', "a choice in it is malformed"),
        (
            '{"format": 1, "choices": {"k": {"callee": "blas", "seconds": {}, "shape": 3}}}',
            "a choice",
        ),
    ],
)
def test_a_corrupt_cache_warns_and_is_rebuilt(content, why):
    path = gemm_tuning.cache_path()
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as fh:
        fh.write(content)
    shape = Shape("f32", 32, 32, 32)
    with pytest.warns(RuntimeWarning, match=f"GEMM tuning cache .* is unreadable \\({why}"):
        choice = gemm_tuning.choose(shape)
    assert (choice.callee, choice.source) == ("blas", "default")
    gemm_tuning.store_choice(shape, "codegen", SECONDS)  # rewrites the whole file
    assert list(gemm_tuning.load_cache()) == [shape.key()]


def test_unknown_dims_take_the_nearest_measured_shape_of_their_kind():
    gemm_tuning.store_choice(Shape("f32", 64, 100, 1000), "blas", SECONDS)
    gemm_tuning.store_choice(Shape("f32", 256, 256, 256), "codegen", SECONDS)
    near = gemm_tuning.choose(Shape("f32", None, 120, 900), gemm_autotune.measure)
    assert (near.callee, near.source) == ("blas", "nearest")
    assert near.measured_as == Shape("f32", 64, 100, 1000).key()
    assert gemm_tuning.choose(Shape("f32", None, 300, 200)).callee == "codegen"
    # Another kind (B transposed), or no measured shape within a factor of 2: the fallback.
    assert gemm_tuning.choose(Shape("f32", 64, 100, 1000, trans_b=True)).source == "default"
    far = gemm_tuning.choose(Shape("f32", None, 4096, 256), fallback="codegen")
    assert (far.callee, far.source) == ("codegen", "default")


@pytest.mark.parametrize(
    "m, n, k, callee",
    [
        (64, 100, 1000, "codegen"),  # the two-layer net's first layer
        (256, 1024, 784, "codegen"),  # the MLP at batch 256
        (32, 1024, 3136, "codegen"),  # the convnet's first dense layer
        (6272, 64, 800, "codegen"),  # the convnet's second convolution as a GEMM
        (256, 256, 256, "codegen"),
        (256, 10, 1024, "codegen"),  # 10 wide, but OpenBLAS would thread it
        (100, 10, 784, "codegen"),  # softmax regression: likewise (7.8e5 multiply-adds)
        (64, 64, 65, "codegen"),  # just over 2^18 multiply-adds
        # What OpenBLAS runs on the calling thread (at most 2^18 multiply-adds): OpenBLAS.
        (64, 10, 100, "blas"),  # the two-layer net's logits
        (64, 100, 10, "blas"),
        (64, 64, 64, "blas"),  # exactly 2^18
        (1, 10, 1024, "blas"),  # one row: OpenBLAS's gemv
        (1, 1024, 1024, "codegen"),  # one row that OpenBLAS would thread
        # A dim unknown: the kernel.
        (None, 100, 1000, "codegen"),
        (None, 10, 100, "codegen"),
        (1, None, 1024, "codegen"),
    ],
)
def test_an_unmeasured_shape_gets_the_generated_kernel_unless_tiny(m, n, k, callee):
    choice = gemm_tuning.choose(Shape("f32", m, n, k))
    assert (choice.callee, choice.source) == (callee, "default")
    assert gemm_tuning.default_callee(Shape("f32", m, n, k)) == callee
    assert gemm_tuning.default_callee(Shape("f64", m, n, k, trans_a=True, threads=3)) == callee


def test_the_tuner_times_both_callees_at_the_shapes_thread_count(monkeypatch, quick):
    from tgc.lowering.cpu import parallel_gemm
    from tgc.runtime.blas_threads import openblas

    runtime, blas = parallel_gemm.library(), openblas()
    if runtime is None or blas is None:
        pytest.skip("needs the parallel runtime (a C compiler) and numpy's OpenBLAS")
    probe = gemm_autotune._probe("f32", False, False, True)
    assert probe.parallel  # the generated kernel goes through the parallel driver, as in a Session
    seen = []
    timed = gemm_autotune._Probe.run

    def run(self, callee, *args, **kwargs):
        found = runtime.tgc_set_threads(1)  # answers the count it replaces
        runtime.tgc_set_threads(found)
        seen.append((callee, found, blas.get()))
        return timed(self, callee, *args, **kwargs)

    monkeypatch.setattr(gemm_autotune._Probe, "run", run)
    before = (runtime.tgc_set_threads(3), blas.get())
    runtime.tgc_set_threads(before[0])
    seconds = gemm_autotune.measure(Shape("f32", 64, 64, 64, threads=2))
    assert set(seconds) == {"blas", "codegen"}
    assert {callee for callee, _, _ in seen} == {"blas", "codegen"}
    assert {(runtime_count, blas_count) for _, runtime_count, blas_count in seen} == {(2, 2)}
    # The generated kernel first: OpenBLAS's workers spin after its calls.
    assert seen[0][0] == "codegen" and seen[-1][0] == "blas"
    # Both counts are put back.
    after = runtime.tgc_set_threads(before[0])
    assert (after, blas.get()) == before


def test_a_threaded_shape_is_timed_after_the_last_shapes_openblas_workers_went_idle(
    monkeypatch, quick
):
    naps = []
    monkeypatch.setattr(gemm_autotune.time, "sleep", naps.append)
    monkeypatch.setattr(gemm_autotune, "_openblas_timed_until", [-math.inf])  # no earlier shape
    gemm_autotune.measure(Shape("f32", 64, 64, 64, threads=2))
    gemm_autotune.measure(Shape("f32", 64, 64, 65, threads=2))
    # The second shape's kernel waits out what is left of OPENBLAS_IDLE_S after the first
    # shape's OpenBLAS calls; a one-thread shape has no workers to wait for.
    assert len(naps) == 1 and 0 < naps[0] <= gemm_autotune.OPENBLAS_IDLE_S
    gemm_autotune.measure(Shape("f32", 64, 64, 66, threads=1))
    assert len(naps) == 1


def test_openblas_wins_a_tie_within_the_margin():
    # A tie is noise: the generated kernel must be clearly faster.
    assert gemm_tuning.winner({"blas": 1.0, "codegen": 0.99}) == "blas"
    assert gemm_tuning.winner({"blas": 1.0, "codegen": 0.9}) == "codegen"
    assert gemm_tuning.winner({"blas": 0.9, "codegen": 1.0}) == "blas"


MATMUL = """func.func @f(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
"""


def _rewritten(autotune, text=MATMUL):
    from tgc.dialect.context import make_context

    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        autotune.run(module)
        BlasMatmulPass().run(module)
        attributes = module.operation.attributes
        choices = (
            attributes[gemm_tuning.CHOICES_ATTRIBUTE] if "tgc.gemm_choices" in attributes else None
        )
        return str(module), json.loads(ir.StringAttr(choices).value) if choices else []


@pytest.mark.parametrize(
    "callee, symbol", [("blas", "scipy_cblas_sgemm64_"), ("codegen", "tgc_gemm_f32")]
)
def test_the_cached_choice_is_the_function_called(callee, symbol):
    shape = Shape("f32", 4, 16, 8, threads=gemm_tuning.openblas_threads())  # beta 0: the fill
    gemm_tuning.store_choice(shape, callee, SECONDS)
    text, choices = _rewritten(GemmAutotunePass())
    assert f"call @{symbol}" in text and "linalg.matmul" not in text
    other = {"scipy_cblas_sgemm64_", "tgc_gemm_f32"} - {symbol}
    assert f"call @{other.pop()}" not in text
    assert choices == [
        {
            "matmul": choices[0]["matmul"],
            "shape": shape.to_json(),
            "callee": callee,
            "source": "cache",
            "seconds": SECONDS,
            "measured_as": None,
        }
    ]


def test_without_tuning_a_tiny_uncached_shape_calls_openblas_and_measures_nothing():
    # MATMUL is 4x16x8: 512 multiply-adds, far below what OpenBLAS would thread.
    text, choices = _rewritten(GemmAutotunePass())
    assert "call @scipy_cblas_sgemm64_" in text
    assert [(c["callee"], c["source"], c["seconds"]) for c in choices] == [("blas", "default", {})]
    assert gemm_tuning.load_cache() == {}


def test_without_tuning_a_wide_uncached_shape_calls_the_generated_kernel():
    wide = (
        MATMUL.replace("4x8xf32", "512x128xf32")
        .replace("8x16xf32", "128x64xf32")
        .replace("4x16xf32", "512x64xf32")
    )
    text, choices = _rewritten(GemmAutotunePass(), wide)
    assert "call @tgc_gemm_f32" in text and "scipy_cblas" not in text
    assert [(c["callee"], c["source"], c["seconds"]) for c in choices] == [
        ("codegen", "default", {})
    ]
    assert gemm_tuning.load_cache() == {}


def test_code_for_a_cpu_of_another_isa_is_neither_tuned_nor_read_from_this_hosts_cache():
    gemm_tuning.store_choice(
        Shape("f32", 4, 16, 8, threads=gemm_tuning.openblas_threads()), "codegen", SECONDS
    )
    other = "avx2" if gemm_tuning.gemm_kernel.chosen_isa() == "avx512" else "avx512"
    text, choices = _rewritten(GemmAutotunePass(tune=True, isa=other))
    assert "call @scipy_cblas_sgemm64_" in text
    assert [(c["callee"], c["source"]) for c in choices] == [("blas", "default")]
    assert len(gemm_tuning.load_cache()) == 1  # nothing measured
    # The host's own ISA named explicitly is the host: its cache is read.
    _, choices = _rewritten(GemmAutotunePass(isa=gemm_tuning.gemm_kernel.chosen_isa()))
    assert [(c["callee"], c["source"]) for c in choices] == [("codegen", "cache")]


def test_tuning_measures_both_callees_and_caches_the_winner(quick):
    _, choices = _rewritten(GemmAutotunePass(tune=True))
    (choice,) = choices
    assert choice["source"] == "tuned" and set(choice["seconds"]) == {"blas", "codegen"}
    assert all(s > 0 for s in choice["seconds"].values())
    assert choice["callee"] == gemm_tuning.winner(choice["seconds"])
    (entry,) = gemm_tuning.load_cache().values()
    assert entry["callee"] == choice["callee"]


def test_the_pipeline_follows_tgc_gemm(monkeypatch):
    from tgc.lowering.cpu.target import gemm_passes

    def specs(external_libraries, for_session):
        return ",".join(p.spec() for p in gemm_passes(external_libraries, for_session))

    # A Session's modules only declare the generated kernel (compiled once per process); both
    # call it through the parallel runtime (parallel_gemm.py; a Session where it could be built).
    # Narrow matmuls (C at most one vector wide) go to tgc's narrow kernels first, unless OpenBLAS
    # is forced.
    session = "tgc-blas-matmul{kernel=external parallel=true}"
    narrow = "tgc-narrow-gemm"
    assert specs(True, for_session=True) == f"{narrow},tgc-gemm-autotune,{session}"
    assert (
        specs(True, for_session=False)
        == f"{narrow},tgc-gemm-autotune{{tune=true}},tgc-blas-matmul{{parallel=true}}"
    )
    assert (
        specs(False, for_session=False) == f"{narrow},tgc-blas-matmul{{gemm=codegen parallel=true}}"
    )
    monkeypatch.setenv(GEMM_ENVIRONMENT, "tune")
    assert specs(True, for_session=True) == f"{narrow},tgc-gemm-autotune{{tune=true}},{session}"
    monkeypatch.setenv(GEMM_ENVIRONMENT, "blas")
    assert specs(True, for_session=False) == "tgc-blas-matmul{parallel=true}"
    monkeypatch.setenv(GEMM_ENVIRONMENT, "mkl")
    with pytest.raises(ValueError, match="TGC_GEMM='mkl': choose one of auto, tune, blas, codegen"):
        gemm_passes(True, for_session=True)


def test_a_matmul_with_a_gemm_attribute_keeps_it():
    from tgc.dialect.context import make_context

    gemm_tuning.store_choice(
        Shape("f32", 4, 16, 8, threads=gemm_tuning.openblas_threads()), "blas", SECONDS
    )
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(
            MATMUL.replace("linalg.matmul ins", 'linalg.matmul {tgc.gemm = "codegen"} ins')
        )
        GemmAutotunePass().run(module)
        BlasMatmulPass().run(module)
        assert "call @tgc_gemm_f32" in str(module)
        assert gemm_tuning.CHOICES_ATTRIBUTE not in module.operation.attributes


def _two_layer_losses():
    tf.reset_default_graph()
    tf.set_random_seed(3)
    # A static batch: a matmul with an unknown dim is never timed (it takes the nearest shape).
    x = tf.placeholder(tf.float32, [37, 64])
    y = tf.placeholder(tf.float32, [37, 10])
    w1 = tf.Variable(tf.random_normal((64, 100), stddev=0.1))
    w2 = tf.Variable(tf.random_normal((100, 10), stddev=0.1))
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    rng = np.random.default_rng(5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = []
        for _ in range(4):
            xs = rng.standard_normal((37, 64)).astype(np.float32)
            ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 37)]
            out.append(sess.run([loss, train], {x: xs, y: ys})[0])
    return out


def test_a_session_that_tunes_trains_as_the_openblas_session(monkeypatch, quick):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "blas")
    want = _two_layer_losses()
    monkeypatch.setenv(GEMM_ENVIRONMENT, "tune")
    got = _two_layer_losses()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Its matmuls, forward and backward, were timed and cached; not the 10-wide ones, which take
    # tgc's narrow kernels (narrow_gemm.py) whatever either GEMM would do.
    shapes = {
        (s.m, s.n, s.k)
        for s in map(Shape.from_json, (e["shape"] for e in gemm_tuning.load_cache().values()))
    }
    assert shapes >= {(37, 100, 64), (64, 100, 37)}
    assert not shapes & {(37, 10, 100), (100, 10, 37)}
    # Every shape forced onto the generated kernel: the same losses again.
    for entry in gemm_tuning.load_cache().values():
        gemm_tuning.store_choice(Shape.from_json(entry["shape"]), "codegen", SECONDS)
    monkeypatch.setenv(GEMM_ENVIRONMENT, "auto")
    np.testing.assert_allclose(_two_layer_losses(), want, rtol=1e-5)


def _cli(*args):
    from tgc.tools.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_blas_artifact_records_its_tuned_choices_and_inspect_shows_them(tmp_path, quick):
    from test_aot import compile_artifact

    from tgc.runtime.artifact import load

    tf.reset_default_graph()
    a = tf.placeholder(tf.float32, [24, 40], name="a")
    b = tf.placeholder(tf.float32, [40, 72], name="b")
    tf.matmul(a, b, name="product")
    path = compile_artifact(["product"], None, str(tmp_path), blas=True)
    with open(os.path.join(path, "manifest.json")) as fh:
        manifest = json.load(fh)
    (choice,) = manifest["gemm_choices"]
    assert choice["source"] == "tuned" and choice["callee"] in ("blas", "codegen")
    assert Shape.from_json(choice["shape"]) == Shape(
        "f32", 24, 72, 40, threads=gemm_tuning.openblas_threads()
    )
    x = np.random.default_rng(1).standard_normal((24, 40)).astype(np.float32)
    y = np.random.default_rng(2).standard_normal((40, 72)).astype(np.float32)
    np.testing.assert_allclose(load(path)(a=x, b=y)["product"], x @ y, rtol=1e-5, atol=1e-5)
    shown = _cli("inspect", path)
    assert shown.exit_code == 0, shown.output
    assert "matmuls (GEMM chosen per shape" in shown.output
    assert f"f32 24x72x40 (C=AB, {choice['shape']['threads']} BLAS thread(s)): " in shown.output
    assert f"{choice['callee']} (tuned: blas " in shown.output
    # A manifest whose choice is damaged is refused in one line, not a traceback.
    manifest["gemm_choices"][0]["shape"] = {"elem": "f32"}
    with open(os.path.join(path, "manifest.json"), "w") as fh:
        json.dump(manifest, fh)
    damaged = _cli("inspect", path)
    assert damaged.exit_code == 1
    assert damaged.output.startswith("tgc inspect: error: ") and damaged.output.count("\n") == 1


def test_an_artifact_without_blas_lists_no_choices(tmp_path):
    from test_aot import compile_artifact

    tf.reset_default_graph()
    a = tf.placeholder(tf.float32, [8, 8], name="a")
    tf.matmul(a, a, name="product")
    path = compile_artifact(["product"], None, str(tmp_path))
    with open(os.path.join(path, "manifest.json")) as fh:
        assert "gemm_choices" not in json.load(fh)
    assert "matmuls" not in _cli("inspect", path).output


def test_tgc_tune_measures_shows_and_clears(quick):
    tuned = _cli("tune", "--shape", "16x24x32", "--shape", "3x5x7", "--trans-b", "--threads", "1")
    assert tuned.exit_code == 0, tuned.output
    assert "f32 16x24x32 (B^T, C=AB, 1 BLAS thread(s)): " in tuned.output
    assert len(gemm_tuning.load_cache()) == 2
    shown = _cli("tune", "--show")
    assert f"cache {gemm_tuning.cache_path()}: 2 shapes" in shown.output
    assert "f32 3x5x7 (B^T, C=AB, 1 BLAS thread(s))" in shown.output
    accumulate = _cli("tune", "--shape", "4x4x4", "--accumulate", "--dtype", "f64", "--show")
    assert "f64 4x4x4 (C+=AB" in accumulate.output and ": 3 shapes" in accumulate.output
    cleared = _cli("tune", "--clear")
    assert cleared.output == f"removed {gemm_tuning.cache_path()}\n"
    assert gemm_tuning.cache_files() == []


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "nothing to do: give --shape MxNxK (to tune), --show or --clear"),
        (["--shape", "8x16"], "--shape '8x16': expected MxNxK, e.g. 256x256x256"),
        (["--shape", "8x0x3"], "--shape '8x0x3': every dim must be at least 1"),
        (["--shape", "8x8x8", "--threads", "0"], "--threads 0: at least 1"),
        (["--shape", "8x8x8", "--budget", "0"], "--budget 0.0: a positive number of seconds"),
        (["--clear", "--show"], "--clear deletes the cache: give it alone"),
    ],
)
def test_tgc_tune_refuses_bad_input(args, message):
    result = _cli("tune", *args)
    assert result.exit_code == 1
    assert result.output.startswith(f"tgc tune: error: {message}")
    assert result.output.count("\n") == 1  # one line, no traceback


def test_an_unwritable_cache_directory_is_an_error_in_one_line(tmp_path, monkeypatch, quick):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(gemm_tuning.CACHE_ENVIRONMENT, str(blocker / "tgc"))
    result = _cli("tune", "--shape", "4x4x4")
    assert result.exit_code == 1
    assert result.output.startswith(f"tgc tune: error: the GEMM tuning cache in {blocker}/tgc: ")
    # A compile that tunes keeps its choice for itself, with a warning.
    with pytest.warns(RuntimeWarning, match="cannot write the GEMM tuning cache"):
        choice = gemm_tuning.choose(Shape("f32", 4, 4, 4), gemm_autotune.measure)
    assert choice.source == "tuned"


def test_a_cached_shape_of_the_wrong_types_is_malformed():
    shape = Shape("f32", 8, 8, 8).to_json()
    for damage in ({"m": "8"}, {"trans_a": 1}, {"threads": 0}, {"elem": "f16"}, {"extra": 1}):
        entry = {"shape": {**shape, **damage}, "callee": "blas", "seconds": SECONDS}
        path = gemm_tuning.cache_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            json.dump({"format": 1, "choices": {"k": entry}}, fh)
        with pytest.warns(RuntimeWarning, match="a choice in it is malformed"):
            assert gemm_tuning.load_cache() == {}


def test_the_thread_count_of_a_choice_is_the_one_outside_tgcs_runs():
    from tgc.runtime.blas_threads import ThreadScope, openblas

    blas = openblas()
    if blas is None:
        pytest.skip("numpy without bundled OpenBLAS")
    users = blas.get()
    blas.set(2)  # the user's count, outside tgc
    try:
        with ThreadScope(1) as scope:  # a Session's run (and the compile inside it) at 1 thread
            assert scope.threads == 1 and blas.get() == 1
            assert gemm_tuning.openblas_threads() == 2
        assert gemm_tuning.openblas_threads() == 2
    finally:
        blas.set(users)
