"""An artifact's call (tgc/runtime/artifact.py) by each of its three paths: the C extension's
call_unpacked_plan (descriptors packed and results wrapped in C, as a Session's call), the
extension's guarded call_unpacked with descriptors written in Python (an extension built before
call_unpacked_plan), and ctypes alone (no extension: a machine with only numpy). Each gives the
numbers of a numpy SGD step, results own their memory (no result aliases another or a variable),
and bad feeds get the same errors. An artifact compiled with default options (or
--variables-in-place) updates its variables where they lie, one compiled with
--variables-read-only only reads them; each says so in its manifest and header."""

import numpy as np
import pytest

import tgc as tf
from tgc.driver import aot
from tgc.runtime import executable
from tgc.runtime.artifact import ArtifactError, load

from test_aot import compile_artifact

_EXTENSION = executable._fastcall
LEARNING_RATE = 0.5


class _ExtensionWithoutPlans:
    """The C extension as built before call_unpacked_plan: only the guarded call_unpacked."""

    def __getattr__(self, name):
        if name == "call_unpacked_plan":
            raise AttributeError(name)
        return getattr(_EXTENSION, name)


PATHS = {
    "c-plan": lambda: _EXTENSION,
    "guard-only": _ExtensionWithoutPlans,
    "ctypes": lambda: None,
}


def build_net(w0, b0):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    w = tf.Variable(w0, name="w")
    b = tf.Variable(b0, name="b")
    scores = tf.add(tf.matmul(x, w), b, name="scores")
    tf.identity(scores, name="scores_again")
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss"
    )
    tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss, name="train")


def numpy_step(x, y, w, b):
    """(scores, loss, new w, new b) of one SGD step of the mean softmax cross-entropy."""
    scores = x @ w + b
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.mean(np.sum(y * np.log(p), 1))
    d = (p - y) / len(x)
    return scores, loss, w - LEARNING_RATE * x.T @ d, b - LEARNING_RATE * d.sum(0)


def take_sgd_steps_and_check(art, w0, b0, batch_sizes, seed):
    """Runs one artifact call per batch size, each checked against numpy's SGD step from the same
    start; returns the last batch (x, y) and the last call's results."""
    rng = np.random.default_rng(seed)
    w, b = w0.astype(np.float64), b0.astype(np.float64)
    for n in batch_sizes:
        x = rng.standard_normal((n, 5)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
        out = art(x=x, y=y)
        scores, loss, w, b = numpy_step(x.astype(np.float64), y, w, b)
        np.testing.assert_allclose(out["scores"], scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["loss"], loss, rtol=1e-5)
        np.testing.assert_allclose(art.variables["w"], w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(art.variables["b"], b, rtol=1e-5, atol=1e-6)
    return x, y, out


def _compile_net(tmp_path_factory, kind: str, **options):
    rng = np.random.default_rng(7)
    w0 = (rng.standard_normal((5, 3)) * 0.5).astype(np.float32)
    b0 = (rng.standard_normal(3) * 0.1).astype(np.float32)
    build_net(w0, b0)
    out = str(tmp_path_factory.mktemp(kind))
    fetches = ["scores", "scores_again", "loss", "train"]
    return compile_artifact(fetches, None, out, **options), w0, b0


@pytest.fixture(scope="module")
def artifact_path(tmp_path_factory):
    """The net compiled with default options: its variables updated where they lie."""
    return _compile_net(tmp_path_factory, "paths")


@pytest.fixture(scope="module")
def read_only_artifact_path(tmp_path_factory):
    """The net compiled with --variables-read-only: every new value in a buffer of its own."""
    return _compile_net(tmp_path_factory, "read_only", variables_in_place=False)


def load_by(path_name, path, monkeypatch):
    if path_name != "ctypes" and _EXTENSION is None:
        pytest.skip("needs the C extension tgc.runtime._fastcall")
    monkeypatch.setattr(executable, "_fastcall", PATHS[path_name]())
    art = load(path)
    assert (art._c_call_plan is not None) == (path_name == "c-plan")
    assert (art._guard is not None) == (path_name != "ctypes")
    return art


@pytest.mark.parametrize("compiled", ["artifact_path", "read_only_artifact_path"])
@pytest.mark.parametrize("path_name", list(PATHS))
def test_each_call_path_takes_numpys_sgd_steps(compiled, path_name, monkeypatch, request):
    path, w, b = request.getfixturevalue(compiled)
    art = load_by(path_name, path, monkeypatch)
    x, y, out = take_sgd_steps_and_check(art, w, b, (4, 9, 4), seed=1)
    np.testing.assert_array_equal(out["scores_again"], out["scores"])
    # Every result is an array of its own: writing one changes no other, nor a variable.
    out["scores"][...] = 0
    assert not np.array_equal(out["scores_again"], out["scores"])
    before = art.variables["w"].copy()
    out = art(x=x, y=y)
    out["scores"][...] = 0
    assert not np.array_equal(art.variables["w"], before)  # stepped, not zeroed with the result
    assert np.isfinite(art.variables["w"]).all()


@pytest.mark.parametrize("path_name", list(PATHS))
def test_each_call_path_takes_any_layout_and_refuses_bad_feeds(
    artifact_path, path_name, monkeypatch
):
    path, _, _ = artifact_path
    art = load_by(path_name, path, monkeypatch)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    art_copy = load_by(path_name, path, monkeypatch)
    expected = art_copy(x=x, y=y)["scores"]
    # A column-major feed, a read-only one and a float64 list all mean the same batch.
    readonly = x.copy()
    readonly.flags.writeable = False
    for feed in (np.asfortranarray(x), readonly, x.astype(np.float64).tolist()):
        art.reset()
        np.testing.assert_array_equal(art(x=feed, y=y)["scores"], expected)
    art.reset()
    np.testing.assert_array_equal(art(x, y)["scores"], expected)  # the inputs in order
    with pytest.raises(ArtifactError, match="expected at most 2 inputs"):
        art(x, y, y)
    with pytest.raises(ArtifactError, match="input 'x' given twice"):
        art(x, x=x)
    with pytest.raises(ArtifactError, match=r"input 'x' has shape \[\?, 5\] float32, got \[6, 4\]"):
        art(x=x[:, :4], y=y)
    with pytest.raises(ArtifactError, match=r"input 'x' wants float32, got complex64"):
        art(x=x.astype(np.complex64), y=y)
    with pytest.raises(ArtifactError, match=r"input 'y' has shape \[\?, 3\] float32, got \[3\]"):
        art(x=x, y=y[0])
    with pytest.raises(ArtifactError, match="missing input"):
        art(x=x)


@pytest.fixture(scope="module")
def in_place_artifact_path(tmp_path_factory):
    """The same net compiled with --variables-in-place, its variables writable as a Session's
    are: the SGD step updates w and b where they lie and returns their own arrays."""
    rng = np.random.default_rng(7)
    w0 = (rng.standard_normal((5, 3)) * 0.5).astype(np.float32)
    b0 = (rng.standard_normal(3) * 0.1).astype(np.float32)
    build_net(w0, b0)
    out = str(tmp_path_factory.mktemp("in_place"))
    path = compile_artifact(["scores", "loss", "train"], None, out, variables_in_place=True)
    return path, w0, b0


def test_variable_mode_is_recorded_and_refused_off_the_cpu(
    in_place_artifact_path, artifact_path, read_only_artifact_path
):
    in_place, default, read_only = (
        load(p[0]) for p in (in_place_artifact_path, artifact_path, read_only_artifact_path)
    )
    for art in (in_place, default):  # in place is the default
        assert art.manifest["variables_in_place"] is True
        assert "tgc-read-only-arguments{writable-variables=true}" in art.manifest["pipeline"]
        with open(art.path + "/model.h") as fh:
            assert "may be updated where it lies and returned as the result" in fh.read()
    assert read_only.manifest["variables_in_place"] is False
    assert "writable-variables" not in read_only.manifest["pipeline"]
    with open(read_only.path + "/model.h") as fh:
        assert "Inputs are only read, never freed (compiled with --variables-read-only)." in (
            fh.read()
        )
    # Other targets have no variable mode: their default is theirs, and either flag is refused.
    assert not aot.Options(target="nvptx").writes_variables_in_place()
    for flag, value in (("--variables-in-place", True), ("--variables-read-only", False)):
        with pytest.raises(
            aot.AotError, match=f"^{flag} is an option of the cpu target, not of nvptx$"
        ):
            aot.compile_pipelines(aot.Options(target="nvptx", variables_in_place=value))


def test_read_only_artifact_leaves_the_arrays_it_is_given(read_only_artifact_path):
    path, w, b = read_only_artifact_path
    art = load(path)
    given = dict(art.variables)
    kept = {n: v.copy() for n, v in given.items()}
    take_sgd_steps_and_check(art, w, b, (4, 9), seed=5)
    for name, value in given.items():  # the C API's promise: inputs are read, not written
        np.testing.assert_array_equal(value, kept[name])
        assert art.variables[name] is not value


@pytest.mark.parametrize("path_name", list(PATHS))
def test_variables_updated_in_place_stay_the_artifacts_arrays(
    in_place_artifact_path, path_name, monkeypatch
):
    path, w, b = in_place_artifact_path
    art = load_by(path_name, path, monkeypatch)
    resident = art.variables["w"]
    x, y, _ = take_sgd_steps_and_check(art, w, b, (4, 9), seed=3)
    assert art.variables["w"] is resident  # updated where it lies, not copied
    # A read-only variable array (set by the user) is copied before the code writes, not written.
    frozen = art.variables["w"].copy()
    frozen.flags.writeable = False
    art.variables["w"] = frozen
    kept = frozen.copy()
    art(x=x, y=y)
    np.testing.assert_array_equal(frozen, kept)
    assert art.variables["w"] is not frozen and not np.array_equal(art.variables["w"], kept)


@pytest.fixture(scope="module")
def inference_path(tmp_path_factory):
    rng = np.random.default_rng(11)
    w0 = (rng.standard_normal((256, 256)) / 16).astype(np.float32)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 256], name="x")
    w = tf.constant(w0)
    tf.tanh(tf.matmul(tf.tanh(tf.matmul(x, w)), w), name="y")
    out = str(tmp_path_factory.mktemp("threads"))
    return compile_artifact(["y"], None, out), w0


@pytest.mark.parametrize("path_name", list(PATHS))
def test_two_threads_calling_one_artifact_get_their_own_results(
    inference_path, path_name, monkeypatch
):
    # The paths that write descriptors in Python share one buffer per artifact, and the call
    # releases the GIL: without a lock one thread's feeds were read by the other's call.
    import threading

    path, w = inference_path
    art = load_by(path_name, path, monkeypatch)
    rng = np.random.default_rng(3)
    feeds = [rng.standard_normal((n, 256)).astype(np.float32) for n in (96, 160)]
    wanted = [np.tanh(np.tanh(x @ w) @ w) for x in feeds]
    wrong = []

    def calls(i):
        for _ in range(40):
            got = art(x=feeds[i])["y"]
            if got.shape != wanted[i].shape or not np.allclose(got, wanted[i], atol=1e-4):
                wrong.append(i)

    threads = [threading.Thread(target=calls, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
