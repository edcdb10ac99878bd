"""examples/word2vec.py: skip-gram with tf.nn.nce_loss on the built-in corpus learns.

The run is deterministic (graph seed 1 for the initial values and the sampler, numpy seed 0 for the
batches), so the checks below are fixed outcomes, not chances: the NCE loss falls well below its
start, and words used in the same contexts end up nearest each other.
"""

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "word2vec.py"


def load_example():
    spec = importlib.util.spec_from_file_location("example_word2vec", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_skip_gram_pairs_and_vocabulary():
    w2v = load_example()
    ids, vocab = w2v.build_vocabulary("b a c a b a".split())
    assert vocab == ["a", "b", "c"]  # most frequent first, as the log-uniform sampler expects
    assert ids.tolist() == [1, 0, 2, 0, 1, 0]
    centers, contexts = w2v.skip_gram_pairs(np.array([5, 6, 7]), skip_window=1)
    assert list(zip(centers.tolist(), contexts.tolist())) == [(5, 6), (6, 5), (6, 7), (7, 6)]


def test_word2vec_loss_falls_and_neighbours_make_sense():
    result = load_example().main(steps=400, verbose=False)
    losses = np.array(result["losses"])
    assert np.isfinite(losses).all()
    start, end = losses[:20].mean(), losses[-50:].mean()
    assert end < 0.6 * start, (start, end)
    assert "queen" in result["nearest"]["king"]
    assert "dog" in result["nearest"]["cat"]
    norms = np.linalg.norm(result["normalized"], axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
