"""TF1's candidate samplers (`tf.nn.log_uniform_candidate_sampler`, `uniform_candidate_sampler`,
`fixed_unigram_candidate_sampler`, `all_candidate_sampler`) and `tf.nn.compute_accidental_hits`.

A sampler returns (sampled_candidates, true_expected_count, sampled_expected_count) as TF's do:
``num_sampled`` int64 classes drawn from ``[0, range_max)``, and for each true and each sampled
class the expected number of times it appears among the draws.

How it runs: the draw is a host op (as `tf.unique` is, tgc/frontend/array_ops.py) taking no input,
so the session runs it before the compiled part and feeds its outputs to it, like a queue's dequeue.
It follows TF's algorithm (RangeSampler::SampleBatchGetExpectedCountAvoid): with ``unique=True`` it
draws until ``num_sampled`` distinct classes are found (sampling without replacement), counting the
tries; otherwise it draws ``num_sampled`` times. Its generator is numpy's Philox, keyed by the op's
(seed, seed2) from TF's seed rule and kept per session: each run draws anew and a fresh session
replays the same sequence, as TF's sampler kernels do (the numbers themselves are tgc's, not TF's).

The expected counts are compiled ops of the draw's outputs, with TF's formulas: the class
probability p (log-uniform: log((c + 2) / (c + 1)) / log(range_max + 1) in float64, rounded to
float32; uniform: 1 / range_max; unigram: weight / total weight in float32), then
``p * num_sampled`` when every try was kept (always when ``unique=False``), else
``-expm1(num_tries * log1p(-p))``, the probability that the class was hit at least once in
``num_tries`` tries, in float32.
"""

from __future__ import annotations

import collections
import math
import weakref

import numpy as np

from tgc.dialect.types import TensorSpec
from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.gather_ops import gather
from tgc.frontend.queues import GRAPHS_WITH_QUEUES
from tgc.graph.graph import Tensor, get_default_graph

__all__ = [
    "log_uniform_candidate_sampler",
    "uniform_candidate_sampler",
    "fixed_unigram_candidate_sampler",
    "all_candidate_sampler",
    "compute_accidental_hits",
]

# Draws per numpy call while looking for distinct classes: the first chunk, and the most.
_DRAW_CHUNK = 256
_MAX_CHUNK = 1 << 22
# TF's limit on a unique sampler's tries (CHECK_LT(num_tries, kint32max)).
_MAX_TRIES = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)

# Per session, per sampler op: its generator (the kernel state TF keeps in the session).
_GENERATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# ---- distributions -------------------------------------------------------------------------------


class _LogUniform:
    """P(c) = log((c + 2) / (c + 1)) / log(range_max + 1): Zipf-like, small classes first."""

    def __init__(self, range_max):
        self.range_max = range_max
        self.log_range = math.log1p(range_max)

    def draw(self, rng, count):
        # TF: static_cast<int64>(exp(RandDouble() * log_range)) - 1.
        return np.exp(rng.random(count) * self.log_range).astype(np.int64) - 1

    def probability_numpy(self, classes):
        c = np.asarray(classes, np.float64)
        return (np.log((c + 2.0) / (c + 1.0)) / self.log_range).astype(np.float32)

    def probability(self, classes: Tensor) -> Tensor:
        c = math_ops.cast(classes, "float64")
        ratio = math_ops.divide(math_ops.add(c, 2.0), math_ops.add(c, 1.0))
        return math_ops.cast(math_ops.divide(math_ops.log(ratio), self.log_range), "float32")


class _Uniform:
    """P(c) = 1 / range_max."""

    def __init__(self, range_max):
        self.range_max = range_max
        self.p = np.float32(1.0) / np.float32(range_max)

    def draw(self, rng, count):
        return rng.integers(0, self.range_max, count, dtype=np.int64)

    def probability_numpy(self, classes):
        return np.full(np.shape(classes), self.p, np.float32)

    def probability(self, classes: Tensor) -> Tensor:
        # (not fill(shape(classes), p): tgc's fill of an int tensor's shape truncates p to 0)
        return math_ops.multiply(array_ops.ones_like(classes, dtype="float32"), self.p)


class _Unigram:
    """P(c) = weight[c] / sum(weight), weight = unigram ** distortion, in float32 as TF's
    FixedUnigramSampler (reserved ids first, with weight 0)."""

    def __init__(self, weights):
        self.weights = np.asarray(weights, np.float32)
        total = np.float32(0.0)
        for w in self.weights:  # TF sums in float, one weight at a time
            total = np.float32(total + w)
        self.table = (self.weights / total).astype(np.float32)
        self.cumulative = np.cumsum(self.weights.astype(np.float64))
        self.range_max = len(self.weights)

    def draw(self, rng, count):
        u = rng.random(count) * self.cumulative[-1]
        return np.minimum(np.searchsorted(self.cumulative, u, side="right"), self.range_max - 1)

    def probability_numpy(self, classes):
        return self.table[np.asarray(classes)]

    def probability(self, classes: Tensor) -> Tensor:
        return gather(self.table, classes)


# ---- the draw (host op) --------------------------------------------------------------------------


def draw_candidates(distribution, rng, num_sampled: int, unique: bool):
    """TF's sampling loop: (classes int64 [num_sampled], num_tries).

    With ``unique``, TF draws one class at a time, keeping each class the first time it comes,
    until it has ``num_sampled``; num_tries counts every draw. Here the draws come in chunks (each
    twice the last), scanned at once for their first occurrences of new classes: the same process,
    fast also when rare classes take millions of tries. A chunk's draws after the last class kept
    are not counted (nor used)."""
    if not unique:
        return distribution.draw(rng, num_sampled).astype(np.int64), num_sampled
    picked = np.empty(0, np.int64)
    tries = 0
    chunk = max(2 * num_sampled, _DRAW_CHUNK)
    while True:
        draws = distribution.draw(rng, chunk).astype(np.int64)
        classes, first = np.unique(draws, return_index=True)
        positions = np.sort(first[~np.isin(classes, picked)])  # new classes, in draw order
        need = num_sampled - len(picked)
        if len(positions) >= need:
            picked = np.concatenate([picked, draws[positions[:need]]])
            tries += int(positions[need - 1]) + 1
            return picked, tries
        picked = np.concatenate([picked, draws[positions]])
        tries += chunk
        if tries >= _MAX_TRIES:
            raise RuntimeError(
                f"unique candidate sampling found {len(picked)} of {num_sampled} distinct classes "
                f"in {tries} tries"
            )
        chunk = min(2 * chunk, _MAX_CHUNK)


def _seeded_generator(op) -> np.random.Generator:
    """A generator at the start of the op's sequence (Philox keyed by its two seeds)."""
    key = [op.attrs["seed"] & (2**64 - 1), op.attrs["seed2"] & (2**64 - 1)]
    return np.random.Generator(np.random.Philox(key=key))


def _generator(session, op) -> np.random.Generator:
    """The op's generator in ``session``, made on the session's first run of it."""
    per_session = _GENERATORS.setdefault(session, {})
    if op not in per_session:
        per_session[op] = _seeded_generator(op)
    return per_session[op]


def _sample_op(op_type, distribution, num_sampled, unique, seed, name):
    """The host op drawing the candidates: outputs (classes int64 [num_sampled], num_tries int64
    [])."""
    graph = get_default_graph()
    seed1, seed2 = graph.next_seeds(seed)
    attrs = {
        "num_sampled": num_sampled,
        "unique": unique,
        "range_max": distribution.range_max,
        "seed": seed1,
        "seed2": seed2,
    }
    specs = [TensorSpec((num_sampled,), "int64"), TensorSpec((), "int64")]
    op = graph.create_op(op_type, op_type, [], attrs, specs, name=name)
    # Compiled ops take this host op's outputs: the session must look for host sources.
    GRAPHS_WITH_QUEUES.add(graph)

    def run(session, _options):
        classes, tries = draw_candidates(distribution, _generator(session, op), num_sampled, unique)
        return classes, np.asarray(tries, np.int64)

    def run_fresh():
        return draw_candidates(distribution, _seeded_generator(op), num_sampled, unique)

    # host_fn (a host op's mark, and its value outside a session): the sequence's first draw.
    op.host_fn = lambda: run_fresh()[0]
    op.session_fn = run
    return op


def expected_counts(distribution, classes: Tensor, num_tries: Tensor, num_sampled: int) -> Tensor:
    """TF's ExpectedCountHelper of each class, float32, as a graph of compiled ops."""
    p = distribution.probability(classes)
    every_try_kept = math_ops.equal(num_tries, np.int64(num_sampled))
    proportional = math_ops.multiply(p, np.float32(num_sampled))
    tries = math_ops.cast(num_tries, "float32")
    at_least_once = math_ops.negative(
        math_ops.expm1(math_ops.multiply(tries, math_ops.log1p(math_ops.negative(p))))
    )
    chosen = array_ops.fill(array_ops.shape(p), True)
    return math_ops.where(math_ops.logical_and(chosen, every_try_kept), proportional, at_least_once)


def expected_counts_numpy(distribution, classes, num_tries: int, num_sampled: int):
    """The same formulas in numpy (float32), for tests."""
    p = distribution.probability_numpy(classes)
    if num_tries == num_sampled:
        return (p * np.float32(num_sampled)).astype(np.float32)
    return (-np.expm1(np.float32(num_tries) * np.log1p(-p))).astype(np.float32)


def _check_args(fn, true_classes, num_true, num_sampled, unique, range_max):
    is_tensor = isinstance(true_classes, Tensor) or hasattr(true_classes, "_as_graph_element")
    true_classes = convert_to_tensor(true_classes, dtype=None if is_tensor else "int64")
    if true_classes.dtype.name != "int64":
        raise TypeError(
            f"{fn}: true_classes must be int64 but '{true_classes.name}' is "
            f"{true_classes.dtype.name}"
        )
    shape = true_classes.spec.shape
    if shape is not None and (len(shape) != 2 or shape[1] not in (None, num_true)):
        raise ValueError(
            f"{fn}: true_classes must have shape [batch_size, num_true={num_true}] but "
            f"'{true_classes.name}' has shape {true_classes.shape}"
        )
    if int(num_sampled) < 1:
        raise ValueError(f"{fn}: num_sampled must be positive but got {num_sampled}")
    if int(range_max) < 1:
        raise ValueError(f"{fn}: range_max must be positive but got {range_max}")
    if unique and int(num_sampled) > int(range_max):
        raise ValueError(
            f"{fn}: the sampler's range is too small: num_sampled={num_sampled} distinct classes "
            f"(unique=True) from range_max={range_max}"
        )
    return true_classes


def _sample(fn, op_type, distribution, true_classes, num_true, num_sampled, unique, seed, name):
    true_classes = _check_args(
        fn, true_classes, num_true, num_sampled, unique, distribution.range_max
    )
    num_sampled = int(num_sampled)
    graph = get_default_graph()
    # The draw takes the name (sampled_candidates is "LogUniformCandidateSampler:0", as in TF);
    # the expected counts, one op in TF, are ops under its scope.
    op = _sample_op(op_type, distribution, num_sampled, bool(unique), seed, name or op_type)
    sampled, tries = op.outputs
    with graph.name_scope(op.name + "/"):
        true_ec = expected_counts(distribution, true_classes, tries, num_sampled)
        sampled_ec = expected_counts(distribution, sampled, tries, num_sampled)
    return CandidateSamples(sampled, true_ec, sampled_ec)


# TF's op outputs are namedtuples; a Session.run fetch of one gives back the same type.
CandidateSamples = collections.namedtuple(
    "CandidateSamples", ["sampled_candidates", "true_expected_count", "sampled_expected_count"]
)


def log_uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Classes from the log-uniform (Zipfian) distribution over [0, range_max)
    (`tf.nn.log_uniform_candidate_sampler`)."""
    return _sample(
        "log_uniform_candidate_sampler",
        "LogUniformCandidateSampler",
        _LogUniform(int(range_max)),
        true_classes,
        num_true,
        num_sampled,
        unique,
        seed,
        name,
    )


def uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Classes drawn uniformly from [0, range_max) (`tf.nn.uniform_candidate_sampler`)."""
    return _sample(
        "uniform_candidate_sampler",
        "UniformCandidateSampler",
        _Uniform(int(range_max)),
        true_classes,
        num_true,
        num_sampled,
        unique,
        seed,
        name,
    )


def fixed_unigram_candidate_sampler(
    true_classes,
    num_true,
    num_sampled,
    unique,
    range_max,
    vocab_file="",
    distortion=1.0,
    num_reserved_ids=0,
    num_shards=1,
    shard=0,
    unigrams=(),
    seed=None,
    name=None,
):
    """Classes drawn with probability proportional to ``unigrams[c] ** distortion``
    (`tf.nn.fixed_unigram_candidate_sampler`); the counts come from ``unigrams`` or from
    ``vocab_file`` (one class per line, its count the last comma-separated field), after
    ``num_reserved_ids`` classes of weight 0."""
    fn = "fixed_unigram_candidate_sampler"
    if int(num_shards) != 1 or int(shard) != 0:
        raise ValueError(
            f"{fn}: num_shards={num_shards}, shard={shard}: tgc samples from one shard "
            "(num_shards=1, shard=0)"
        )
    counts = _unigram_counts(fn, vocab_file, unigrams)
    weights = [0.0] * int(num_reserved_ids) + [
        float(np.float32(np.float64(np.float32(c)) ** float(np.float32(distortion))))
        for c in counts
    ]
    if len(weights) != int(range_max):
        raise ValueError(
            f"{fn}: range_max={range_max} must equal num_reserved_ids ({num_reserved_ids}) plus "
            f"the number of unigram counts ({len(counts)})"
        )
    if not any(w > 0 for w in weights):
        raise ValueError(f"{fn}: the unigram counts have no positive weight to sample from")
    return _sample(
        fn,
        "FixedUnigramCandidateSampler",
        _Unigram(weights),
        true_classes,
        num_true,
        num_sampled,
        unique,
        seed,
        name,
    )


def all_candidate_sampler(true_classes, num_true, num_sampled, unique, seed=None, name=None):
    """Every class: sampled_candidates is [0, num_sampled) and every expected count is 1
    (`tf.nn.all_candidate_sampler`, for tests of a sampled loss against the full one). Nothing is
    drawn, so these are constants of compiled code; ``unique`` and ``seed`` change nothing, as in
    TF."""
    del unique, seed
    fn = "all_candidate_sampler"
    true_classes = _check_args(fn, true_classes, num_true, num_sampled, False, num_sampled)
    with get_default_graph().name_scope(name or "AllCandidateSampler"):
        sampled = convert_to_tensor(np.arange(int(num_sampled), dtype=np.int64))
        true_ec = array_ops.ones_like(true_classes, dtype="float32")
        sampled_ec = convert_to_tensor(np.ones(int(num_sampled), np.float32))
    return CandidateSamples(sampled, true_ec, sampled_ec)


def _unigram_counts(fn, vocab_file, unigrams) -> list:
    if bool(vocab_file) == bool(len(unigrams)):
        raise ValueError(f"{fn}: give exactly one of vocab_file and unigrams")
    if unigrams:
        counts = [float(c) for c in unigrams]
    else:
        with open(vocab_file) as f:
            counts = [float(line.rsplit(",", 1)[-1]) for line in f if line.strip()]
    if any(c < 0 for c in counts):
        raise ValueError(f"{fn}: unigram counts must be non-negative")
    return counts


# ---- accidental hits -----------------------------------------------------------------------------


def accidental_hits_numpy(true_classes, sampled_candidates, num_true: int):
    """TF's ComputeAccidentalHits: for each (row, true class) found among the samples, the row, the
    sample's position (the last one when a class was sampled twice) and -FLOAT_MAX."""
    true_classes = np.asarray(true_classes)
    if true_classes.ndim != 2 or true_classes.shape[1] != num_true:
        raise ValueError(
            f"compute_accidental_hits: true_classes must have shape [batch_size, {num_true}] but "
            f"was given shape {list(true_classes.shape)}"
        )
    position = {int(c): i for i, c in enumerate(np.asarray(sampled_candidates).reshape(-1))}
    rows, ids = [], []
    for row, classes in enumerate(true_classes.tolist()):
        for c in classes:
            if c in position:
                rows.append(row)
                ids.append(position[c])
    return (
        np.array(rows, np.int32),
        np.array(ids, np.int64),
        np.full(len(rows), -FLOAT32_MAX, np.float32),
    )


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """(indices int32, ids int64, weights float32) of the sampled candidates that equal a true class
    (`tf.nn.compute_accidental_hits`). The count depends on the values, so this runs on the host,
    as `tf.unique` does: before the compiled part when its inputs are fed or drawn by a sampler
    (compiled ops may use the outputs), after it when they are computed there (then they can be
    fetched). The sampled losses do not use it: they mask the hits with compiled ops."""
    del seed  # TF's signature; the op is deterministic
    true_classes = convert_to_tensor(true_classes, dtype="int64")
    sampled = convert_to_tensor(sampled_candidates, dtype="int64")
    num_true = int(num_true)
    specs = [
        TensorSpec((None,), "int32"),
        TensorSpec((None,), "int64"),
        TensorSpec((None,), "float32"),
    ]
    graph = true_classes.graph
    op = graph.create_op(
        "ComputeAccidentalHits",
        "ComputeAccidentalHits",
        [true_classes, sampled],
        {"num_true": num_true},
        specs,
        name=name,
    )
    GRAPHS_WITH_QUEUES.add(graph)
    op.host_fn = lambda t, s: accidental_hits_numpy(t, s, num_true)[0]
    op.session_fn = lambda _session, _options, t, s: accidental_hits_numpy(t, s, num_true)
    return AccidentalHits(*op.outputs)


AccidentalHits = collections.namedtuple("ComputeAccidentalHits", ["indices", "ids", "weights"])
