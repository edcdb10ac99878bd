"""tf.nn.nce_loss, tf.nn.sampled_softmax_loss, the candidate samplers and compute_accidental_hits
(tgc/frontend/sampled_losses.py, tgc/frontend/candidate_sampling.py).

TF_VALUES were printed by TensorFlow 2.21.0 (compat.v1, v2 behaviour disabled) running
``/tmp/tfenv/bin/python tests/oracle/sampled_losses_oracle.py``, whose programs these tests repeat.
The losses take ``sampled_values`` explicitly, so their numbers are TF's to float32 rounding; the
samplers' draws are tgc's own (its generator is not TF's), so their distributions are checked
statistically and their expected counts against TF's formulas on TF's own draws.
"""

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import candidate_sampling as cs
from tgc.frontend.sampled_losses import nce_loss, sampled_softmax_loss

TF_VALUES = {
    "version": "2.21.0",
    "nce_1": {
        "loss": [10.023962, 11.9885807, 9.3971262],
        "grad_w": [
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.0791630745, 0.904845238, 1.10763454, -0.247439161],
                [0.186343044, 1.50041902, 1.64948583, -0.425994843],
                [0.216031939, 1.88121498, 2.02776647, -0.628792048],
                [0.0, 0.0, 0.0, 0.0],
                [-0.00968775712, -0.0780574381, -0.181242898, -0.0727862641],
                [0.0, 0.0, 0.0, 0.0],
                [0.365382373, 3.4898088, 3.95792341, -1.08074164],
                [0.0, 0.0, 0.0, 0.0],
                [0.193508446, 1.88884699, 2.175493, -0.565003991],
            ]
        ],
        "grad_b": [
            0.0,
            -0.0751267076,
            -0.538994014,
            -0.781636715,
            0.0,
            -0.198963225,
            0.0,
            -1.00300694,
            0.0,
            -0.466091901,
        ],
        "grad_x": [
            [1.17296481, -1.07158637, -0.99551636, 0.00690081716],
            [-1.89849925, 2.46640635, 2.04372478, -0.746043801],
            [0.459973693, -0.662956476, -0.27870211, 0.0437018126],
        ],
    },
    "nce_2_hits": {
        "loss": [8.61838913, 11.9885807, 10.3076515],
        "grad_w": [
            [
                [0.00174008193, 0.0140204113, 0.0325542316, 0.0130736204],
                [0.0791630745, 0.904845238, 1.10763454, -0.247439161],
                [0.223623902, 1.53574061, 1.58494818, -0.436995834],
                [0.293657869, 1.95476151, 1.89338672, -0.651698291],
                [0.0, 0.0, 0.0, 0.0],
                [0.00248504151, 0.0200227946, 0.046491269, 0.018670667],
                [0.0, 0.0, 0.0, 0.0],
                [0.365382403, 3.4898088, 3.95792341, -1.08074152],
                [0.0, 0.0, 0.0, 0.0],
                [0.193508446, 1.88884699, 2.175493, -0.565003991],
            ]
        ],
        "grad_b": [
            0.0357370973,
            -0.0751267076,
            -0.779125452,
            -1.28163671,
            0.0,
            0.0510367751,
            0.0,
            -1.00300694,
            0.0,
            -0.466091901,
        ],
        "grad_x": [
            [1.40323377, -0.637466252, -0.869739473, -0.548567295],
            [-1.89849925, 2.46640635, 2.04372501, -0.746043801],
            [0.47996518, -0.417884737, -0.417952865, 0.0839187652],
        ],
    },
    "softmax_1": {
        "loss": [2.34227085, 1.62821639, 2.85728312],
        "grad_w": [
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.000305726746, 0.0344576351, 0.0564166903, -0.00364644942],
                [0.160779104, 0.260788172, -0.094023928, -0.055207096],
                [0.0842783973, 0.579794049, 0.537299991, -0.226212561],
                [0.0, 0.0, 0.0, 0.0],
                [-0.0229475629, -0.184896037, -0.429313272, -0.172410116],
                [0.0, 0.0, 0.0, 0.0],
                [-0.25181812, -1.20868516, -0.782340467, 0.571894407],
                [0.0, 0.0, 0.0, 0.0],
                [0.0294024143, 0.518541396, 0.711960793, -0.114418164],
            ]
        ],
        "grad_b": [
            0.0,
            0.0294855125,
            -0.927330077,
            -0.439504236,
            0.0,
            -0.471287727,
            0.0,
            1.67698526,
            0.0,
            0.131651282,
        ],
        "grad_x": [
            [0.771284938, -0.269914955, -0.503309548, -0.691282153],
            [0.295480907, 0.611966431, -0.57821095, -0.308400512],
            [0.0383685306, -0.539430439, 0.218802571, -0.084566012],
        ],
    },
    "softmax_2_nohits": {
        "loss": [2.46995711, 1.95935917, 2.96977997],
        "grad_w": [
            [
                [-0.0109999338, -0.0886300802, -0.205791682, -0.0826449394],
                [-0.000229678466, 0.026066212, 0.0463149548, -0.000566577946],
                [0.0683803782, 0.14875406, 0.0314618722, -0.0190726239],
                [0.12275371, 0.478214115, 0.286440074, -0.177623123],
                [0.0, 0.0, 0.0, 0.0],
                [-0.0108421147, -0.0873584747, -0.202839136, -0.0814592093],
                [0.0, 0.0, 0.0, 0.0],
                [-0.18511802, -0.861416221, -0.523891449, 0.423590928],
                [0.0, 0.0, 0.0, 0.0],
                [0.0160556752, 0.384370387, 0.568305314, -0.0622244664],
            ]
        ],
        "grad_b": [
            -0.225912184,
            0.0306988694,
            -0.339615881,
            -0.705458283,
            0.0,
            -0.222670957,
            0.0,
            1.27210164,
            0.0,
            0.190856755,
        ],
        "grad_x": [
            [0.548248887, 0.13197425, -0.0970465168, -0.661013484],
            [0.212185562, 0.439454705, -0.415214747, -0.221463233],
            [0.273384809, -0.436537683, 0.114234075, -0.159550071],
        ],
    },
    "nce_mod3": {
        "loss": [8.61838913, 11.9885807, 10.3076515],
        "grad_w": [
            [
                [0.00174008193, 0.0140204113, 0.0325542316, 0.0130736204],
                [0.293657869, 1.95476151, 1.89338672, -0.651698291],
                [0.0, 0.0, 0.0, 0.0],
                [0.193508446, 1.88884699, 2.175493, -0.565003991],
            ],
            [
                [0.0791630745, 0.904845238, 1.10763454, -0.247439161],
                [0.0, 0.0, 0.0, 0.0],
                [0.365382403, 3.4898088, 3.95792341, -1.08074152],
            ],
            [
                [0.223623902, 1.53574061, 1.58494818, -0.436995834],
                [0.00248504151, 0.0200227946, 0.046491269, 0.018670667],
                [0.0, 0.0, 0.0, 0.0],
            ],
        ],
        "grad_b": [
            0.0357370973,
            -0.0751267076,
            -0.779125452,
            -1.28163671,
            0.0,
            0.0510367751,
            0.0,
            -1.00300694,
            0.0,
            -0.466091901,
        ],
        "grad_x": [
            [1.40323377, -0.637466252, -0.869739473, -0.548567295],
            [-1.89849925, 2.46640635, 2.04372501, -0.746043801],
            [0.47996518, -0.417884737, -0.417952865, 0.0839187652],
        ],
    },
    "softmax_div3": {
        "loss": [2.34227085, 1.62821639, 2.85728312],
        "grad_w": [
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.000305726746, 0.0344576351, 0.0564166903, -0.00364644942],
                [0.160779104, 0.260788172, -0.094023928, -0.055207096],
                [0.0842783973, 0.579794049, 0.537299991, -0.226212561],
            ],
            [
                [0.0, 0.0, 0.0, 0.0],
                [-0.0229475629, -0.184896037, -0.429313272, -0.172410116],
                [0.0, 0.0, 0.0, 0.0],
            ],
            [
                [-0.25181812, -1.20868516, -0.782340467, 0.571894407],
                [0.0, 0.0, 0.0, 0.0],
                [0.0294024143, 0.518541396, 0.711960793, -0.114418164],
            ],
        ],
        "grad_b": [
            0.0,
            0.0294855125,
            -0.927330077,
            -0.439504236,
            0.0,
            -0.471287727,
            0.0,
            1.67698526,
            0.0,
            0.131651282,
        ],
        "grad_x": [
            [0.771284938, -0.269914955, -0.503309548, -0.691282153],
            [0.295480907, 0.611966431, -0.57821095, -0.308400512],
            [0.0383685306, -0.539430439, 0.218802571, -0.084566012],
        ],
    },
    "nce_div4": {
        "loss": [10.023962, 11.9885807, 9.3971262],
        "grad_w": [
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.0791630745, 0.904845238, 1.10763454, -0.247439161],
                [0.186343044, 1.50041902, 1.64948583, -0.425994843],
            ],
            [
                [0.216031939, 1.88121498, 2.02776647, -0.628792048],
                [0.0, 0.0, 0.0, 0.0],
                [-0.00968775712, -0.0780574381, -0.181242898, -0.0727862641],
            ],
            [[0.0, 0.0, 0.0, 0.0], [0.365382373, 3.4898088, 3.95792341, -1.08074164]],
            [[0.0, 0.0, 0.0, 0.0], [0.193508446, 1.88884699, 2.175493, -0.565003991]],
        ],
        "grad_b": [
            0.0,
            -0.0751267076,
            -0.538994014,
            -0.781636715,
            0.0,
            -0.198963225,
            0.0,
            -1.00300694,
            0.0,
            -0.466091901,
        ],
        "grad_x": [
            [1.17296481, -1.07158637, -0.99551636, 0.00690081716],
            [-1.89849925, 2.46640635, 2.04372478, -0.746043801],
            [0.459973693, -0.662956476, -0.27870211, 0.0437018126],
        ],
    },
    "log_uniform_True": {
        "sampled": [0, 10, 6, 2, 9, 11],
        "true_ec": [[0.87340343, 0.456076443], [0.27067852, 0.681259573]],
        "sampled_ec": [0.87340343, 0.207028478, 0.301488549, 0.547998846, 0.22465533, 0.191957042],
    },
    "log_uniform_False": {
        "sampled": [0, 10, 0, 6, 2, 9],
        "true_ec": [[1.36602151, 0.439760685], [0.232121199, 0.799071372]],
        "sampled_ec": [1.36602151, 0.171477884, 1.36602151, 0.263157308, 0.566950142, 0.187832773],
    },
    "uniform_True": {
        "sampled": [15, 0, 3, 8, 17, 14],
        "true_ec": [[0.300000012, 0.300000012], [0.300000012, 0.300000012]],
        "sampled_ec": [
            0.300000012,
            0.300000012,
            0.300000012,
            0.300000012,
            0.300000012,
            0.300000012,
        ],
    },
    "uniform_False": {
        "sampled": [15, 0, 3, 8, 17, 14],
        "true_ec": [[0.300000012, 0.300000012], [0.300000012, 0.300000012]],
        "sampled_ec": [
            0.300000012,
            0.300000012,
            0.300000012,
            0.300000012,
            0.300000012,
            0.300000012,
        ],
    },
    "unigram_True": {
        "sampled": [7, 0, 5, 2, 3],
        "true_ec": [[0.961088479, 0.878252864], [0.931394875, 0.582981884]],
        "sampled_ec": [0.931394875, 0.961088479, 0.77985853, 0.400484711, 0.878252864],
    },
    "unigram_False": {
        "sampled": [7, 0, 7, 0, 5],
        "true_ec": [[1.27783775, 0.871142447], [1.08091915, 0.382162631]],
        "sampled_ec": [1.08091915, 1.27783775, 1.08091915, 1.27783775, 0.642718375],
    },
    "all_True": {
        "sampled": [0, 1, 2, 3, 4],
        "true_ec": [[1.0, 1.0], [1.0, 1.0]],
        "sampled_ec": [1.0, 1.0, 1.0, 1.0, 1.0],
    },
    "all_False": {
        "sampled": [0, 1, 2, 3, 4],
        "true_ec": [[1.0, 1.0], [1.0, 1.0]],
        "sampled_ec": [1.0, 1.0, 1.0, 1.0, 1.0],
    },
    "accidental_hits": [
        [0, 0, 1, 1],
        [2, 5, 4, 4],
        [-3.40282347e38, -3.40282347e38, -3.40282347e38, -3.40282347e38],
    ],
}

# The oracle's inputs (numpy's RandomState is reproducible across versions).
_rng = np.random.RandomState(7)
NUM_CLASSES, DIM, BATCH = 10, 4, 3
W0 = _rng.uniform(-1, 1, (NUM_CLASSES, DIM)).astype(np.float32)
B0 = _rng.uniform(-0.5, 0.5, NUM_CLASSES).astype(np.float32)
X0 = _rng.uniform(-1, 1, (BATCH, DIM)).astype(np.float32)
ROW_WEIGHTS = np.array([1.0, -2.0, 0.5], np.float32)
LABELS1 = np.array([[2], [7], [5]], np.int64)
LABELS2 = np.array([[2, 3], [7, 7], [5, 0]], np.int64)
SAMPLED = np.array([7, 1, 2, 9, 7, 3], np.int64)
TRUE_EC1 = np.array([[0.5], [0.25], [0.75]], np.float32)
TRUE_EC2 = np.array([[0.5, 0.3], [0.25, 0.25], [0.75, 0.9]], np.float32)
SAMPLED_EC = np.array([0.25, 0.6, 0.5, 0.1, 0.25, 0.3], np.float32)
CASES = {
    "nce_1": ("nce", 1, False, 1, "mod"),
    "nce_2_hits": ("nce", 2, True, 1, "mod"),
    "softmax_1": ("softmax", 1, True, 1, "mod"),
    "softmax_2_nohits": ("softmax", 2, False, 1, "mod"),
    "nce_mod3": ("nce", 2, True, 3, "mod"),
    "softmax_div3": ("softmax", 1, True, 3, "div"),
    "nce_div4": ("nce", 1, False, 4, "div"),
}


def shards_of(table, count, strategy):
    if count == 1:
        return [table]
    ids = np.arange(len(table))
    if strategy == "mod":
        return [table[ids % count == p] for p in range(count)]
    per, extras = divmod(len(table), count)
    sizes = [per + (p < extras) for p in range(count)]
    return np.split(table, np.cumsum(sizes)[:-1])


# float32 throughout, as TF: the logits are sums of 4 products (TF sums them by a matmul with ones,
# tgc by a reduction) and the weight gradients sum a class's rows in another order, so values of
# size ~10 differ from TF's by a few ulps; 1e-5 relative + 1e-5 absolute covers that with room and
# still catches any wrong term (the smallest nonzero gradient entries are ~1e-3).
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.mark.parametrize("case", list(CASES))
def test_sampled_loss_and_gradients_match_tf(case):
    kind, num_true, hits, nshards, strategy = CASES[case]
    want = TF_VALUES[case]
    with tf.Graph().as_default():
        ws = [tf.Variable(s) for s in shards_of(W0, nshards, strategy)]
        b = tf.Variable(B0)
        x = tf.Variable(X0)
        labels = LABELS1 if num_true == 1 else LABELS2
        true_ec = TRUE_EC1 if num_true == 1 else TRUE_EC2
        values = (tf.constant(SAMPLED), tf.constant(true_ec), tf.constant(SAMPLED_EC))
        fn = nce_loss if kind == "nce" else sampled_softmax_loss
        loss = fn(
            ws if nshards > 1 else ws[0],
            b,
            tf.constant(labels),
            x,
            num_sampled=len(SAMPLED),
            num_classes=NUM_CLASSES,
            num_true=num_true,
            sampled_values=values,
            remove_accidental_hits=hits,
            partition_strategy=strategy,
        )
        assert loss.shape.as_list() == [BATCH]
        grads = tf.gradients(tf.reduce_sum(loss * ROW_WEIGHTS), ws + [b, x])
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            got_loss, *got = s.run([loss] + grads)
    np.testing.assert_allclose(got_loss, want["loss"], **TOL)
    for g, w in zip(got[:-2], want["grad_w"]):
        np.testing.assert_allclose(g, w, **TOL)
    np.testing.assert_allclose(got[-2], want["grad_b"], **TOL)
    np.testing.assert_allclose(got[-1], want["grad_x"], **TOL)


# ---- samplers ------------------------------------------------------------------------------------

TRUE_CLASSES = np.array([[0, 3], [7, 1]], np.int64)
UNIGRAMS = [5.0, 1.0, 0.5, 3.0, 0.0, 2.0, 1.5, 4.0]
SAMPLERS = {
    # name: (distribution, num_sampled, make(true_classes, unique, seed))
    "log_uniform": (
        cs._LogUniform(20),
        6,
        lambda tc, u, seed: cs.log_uniform_candidate_sampler(tc, 2, 6, u, 20, seed=seed),
    ),
    "uniform": (
        cs._Uniform(20),
        6,
        lambda tc, u, seed: cs.uniform_candidate_sampler(tc, 2, 6, u, 20, seed=seed),
    ),
    "unigram": (
        cs._Unigram([np.float32(np.float64(c) ** np.float64(np.float32(0.75))) for c in UNIGRAMS]),
        5,
        lambda tc, u, seed: cs.fixed_unigram_candidate_sampler(
            tc, 2, 5, u, 8, unigrams=UNIGRAMS, distortion=0.75, seed=seed
        ),
    ),
}


def _implied_tries(distribution, sampled, counts, num_sampled):
    """The num_tries for which TF's formula gives TF's counts for its own unique draw."""
    for n in range(num_sampled, 10_000):
        formula = cs.expected_counts_numpy(distribution, sampled, n, num_sampled)
        if np.allclose(formula, counts, rtol=1e-6, atol=0):
            return n
    raise AssertionError(f"no number of tries gives TF's counts {counts}")


@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_expected_counts_are_tfs_formulas(sampler, unique):
    """TF's draws and counts, recomputed by tgc's compiled expected-count graph."""
    distribution, num_sampled, _ = SAMPLERS[sampler]
    want = TF_VALUES[f"{sampler}_{unique}"]
    sampled = np.array(want["sampled"], np.int64)
    tries = (
        _implied_tries(distribution, sampled, want["sampled_ec"], num_sampled)
        if unique
        else num_sampled
    )
    with tf.Graph().as_default():
        n = tf.constant(np.int64(tries))
        true_ec = cs.expected_counts(distribution, tf.constant(TRUE_CLASSES), n, num_sampled)
        sampled_ec = cs.expected_counts(distribution, tf.constant(sampled), n, num_sampled)
        with tf.Session() as s:
            got_true, got_sampled = s.run([true_ec, sampled_ec])
    # float32 log1p/expm1 (libm's and MLIR's math lowering) may differ in the last ulp.
    np.testing.assert_allclose(got_true, want["true_ec"], rtol=3e-7, atol=0)
    np.testing.assert_allclose(got_sampled, want["sampled_ec"], rtol=3e-7, atol=0)


@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampler_outputs_are_consistent(sampler, unique):
    """Shapes, dtypes, range, distinctness when unique, and counts by the formula for the draw."""
    distribution, num_sampled, make = SAMPLERS[sampler]
    with tf.Graph().as_default():
        values = make(tf.constant(TRUE_CLASSES), unique, 3)
        assert values.sampled_candidates.shape.as_list() == [num_sampled]
        assert values.sampled_candidates.name.endswith("CandidateSampler:0")  # TF's op name
        assert values.true_expected_count.shape.as_list() == [2, 2]
        assert values.sampled_candidates.dtype == tf.int64
        assert values.true_expected_count.dtype == tf.float32
        with tf.Session() as s:
            runs = [s.run(values) for _ in range(20)]
    for sampled, true_ec, sampled_ec in runs:
        assert ((sampled >= 0) & (sampled < distribution.range_max)).all()
        if unique:
            assert len(set(sampled.tolist())) == num_sampled
        p = distribution.probability_numpy(sampled)
        if not unique:
            np.testing.assert_allclose(sampled_ec, p * num_sampled, rtol=1e-6)
        else:
            # counts of one draw share one num_tries >= num_sampled
            tries = _implied_tries(distribution, sampled, sampled_ec, num_sampled)
            want_true = cs.expected_counts_numpy(distribution, TRUE_CLASSES, tries, num_sampled)
            np.testing.assert_allclose(true_ec, want_true, rtol=3e-7)
    assert len({r[0].tobytes() for r in runs}) > 1, "every run draws anew"


def test_seeds_replay_per_session():
    """A fresh session replays a seeded sampler's sequence; another op seed draws another one."""

    def draws(seed, runs=3):
        with tf.Graph().as_default():
            values = cs.log_uniform_candidate_sampler(TRUE_CLASSES, 2, 6, True, 1000, seed=seed)
            with tf.Session() as s:
                return [s.run(values.sampled_candidates).tolist() for _ in range(runs)]

    first = draws(5)
    assert first == draws(5)
    assert first[0] != first[1]
    assert first != draws(6)


def _frequencies(make_sampler, num_sampled, runs):
    with tf.Graph().as_default():
        sampled = make_sampler().sampled_candidates
        with tf.Session() as s:
            return np.concatenate([s.run(sampled) for _ in range(runs)])


# Each class's count among N independent draws is Binomial(N, p); 5 standard deviations bound it
# with a false-alarm chance below 6e-7 per class (the seeds are fixed, so a pass stays a pass).
def _assert_binomial(counts, p, n):
    sd = np.sqrt(n * p * (1 - p))
    assert (np.abs(counts - n * p) <= 5 * sd + 1e-9).all(), (counts, n * p)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampled_distribution(sampler):
    """unique=False: 50,000 independent draws per sampler follow P(c)."""
    distribution, _, _ = SAMPLERS[sampler]
    r = distribution.range_max
    n = 50_000

    def make():
        tc = np.zeros((1, 1), np.int64)
        if sampler == "log_uniform":
            return cs.log_uniform_candidate_sampler(tc, 1, 10_000, False, r, seed=11)
        if sampler == "uniform":
            return cs.uniform_candidate_sampler(tc, 1, 10_000, False, r, seed=11)
        return cs.fixed_unigram_candidate_sampler(
            tc, 1, 10_000, False, r, unigrams=UNIGRAMS, distortion=0.75, seed=11
        )

    drawn = _frequencies(make, 10_000, n // 10_000)
    counts = np.bincount(drawn, minlength=r)
    _assert_binomial(counts, distribution.probability_numpy(np.arange(r)).astype(np.float64), n)
    if sampler == "unigram":
        assert counts[4] == 0  # weight 0 is never drawn


def test_unique_sampling_is_without_replacement():
    """unique=True: the first sample of each run is an ordinary draw, P(c); each next one is
    drawn from the classes left, so in 4,000 runs of 3 samples from log-uniform(8) the second
    sample's frequencies follow sum over first classes a of P(a) P(c) / (1 - P(a))."""
    runs, r = 4000, 8
    distribution = cs._LogUniform(r)
    with tf.Graph().as_default():
        values = cs.log_uniform_candidate_sampler(TRUE_CLASSES, 2, 3, True, r, seed=21)
        with tf.Session() as s:
            drawn = np.array([s.run(values.sampled_candidates) for _ in range(runs)])
    assert all(len(set(row)) == 3 for row in drawn.tolist())
    p = distribution.probability_numpy(np.arange(r)).astype(np.float64)
    p = p / p.sum()
    _assert_binomial(np.bincount(drawn[:, 0], minlength=r), p, runs)
    second = np.array([sum(p[a] * p[c] / (1 - p[a]) for a in range(r) if a != c) for c in range(r)])
    _assert_binomial(np.bincount(drawn[:, 1], minlength=r), second, runs)


def test_unique_sampler_needs_enough_classes():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="range is too small: num_sampled=6 distinct classes"):
            cs.uniform_candidate_sampler(TRUE_CLASSES, 2, 6, True, 5)
        with pytest.raises(ValueError, match=r"shape \[batch_size, num_true=3\]"):
            cs.uniform_candidate_sampler(TRUE_CLASSES, 3, 2, True, 5)


def test_compute_accidental_hits_matches_tf():
    want = TF_VALUES["accidental_hits"]
    with tf.Graph().as_default():
        hits = cs.compute_accidental_hits(tf.constant(LABELS2), tf.constant(SAMPLED), num_true=2)
        with tf.Session() as s:
            indices, ids, weights = s.run(hits)
    assert indices.dtype == np.int32 and ids.dtype == np.int64
    assert indices.tolist() == want[0] and ids.tolist() == want[1]
    np.testing.assert_array_equal(weights, np.float32(want[2]))


def test_sampled_hits_feed_compiled_ops_in_the_same_run():
    """The sampler's draw and the hits of a fed label batch are host sources: compiled ops of the
    same run use them, and the hits found are those of the draw fetched with them."""
    with tf.Graph().as_default():
        labels = tf.placeholder(tf.int64, [None, 2])
        values = cs.uniform_candidate_sampler(labels, 2, 4, True, 6, seed=1)
        hits = cs.compute_accidental_hits(labels, values.sampled_candidates, 2)
        doubled = hits.ids * 2
        with tf.Session() as s:
            sampled, ids, twice = s.run(
                [values.sampled_candidates, hits.ids, doubled], {labels: TRUE_CLASSES % 6}
            )
    want = cs.accidental_hits_numpy(TRUE_CLASSES % 6, sampled, 2)[1]
    assert ids.tolist() == want.tolist() and twice.tolist() == (want * 2).tolist()


def test_default_sampler_trains_nce():
    """Without sampled_values, nce_loss draws log-uniform unique samples each run; its mean loss
    over a fixed batch falls under gradient descent."""
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        w = tf.Variable(rng.normal(0, 0.1, (50, 8)).astype(np.float32))
        b = tf.Variable(np.zeros(50, np.float32))
        x = tf.constant(rng.normal(0, 1, (16, 8)).astype(np.float32))
        y = tf.constant(rng.randint(0, 50, (16, 1)).astype(np.int64))
        loss = tf.reduce_mean(nce_loss(w, b, y, x, num_sampled=10, num_classes=50))
        step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            before = np.mean([s.run(loss) for _ in range(20)])
            for _ in range(100):
                s.run(step)
            after = np.mean([s.run(loss) for _ in range(20)])
    assert after < 0.5 * before, (before, after)


def test_shards_must_follow_the_partition_strategy():
    with tf.Graph().as_default():
        shards = [tf.Variable(W0[:5]), tf.Variable(W0[5:])]
        with pytest.raises(ValueError, match=r"sharded \[5, 5, 1\] rows .*'mod'.*\[4, 4, 3\]"):
            nce_loss(
                shards + [tf.Variable(W0[:1])],
                B0,
                LABELS1,
                X0,
                num_sampled=6,
                num_classes=11,
                sampled_values=(SAMPLED, TRUE_EC1, SAMPLED_EC),
            )


class _Digits:
    """Uniform classes 0..9 from numpy's integers (a draw's values, in order, are the stream)."""

    range_max = 10

    def draw(self, rng, count):
        return rng.integers(0, 10, count)


@pytest.mark.parametrize("seed", range(5))
def test_unique_draw_is_tfs_one_at_a_time_loop(seed):
    """The chunked scan keeps what TF's loop keeps: each class at its first draw, in draw order,
    num_tries = the draws up to the last class kept."""
    classes, tries = cs.draw_candidates(_Digits(), np.random.default_rng(seed), 9, True)
    stream = np.random.default_rng(seed).integers(0, 10, 256).tolist()
    kept, count = [], 0
    for value in stream:
        count += 1
        if value not in kept:
            kept.append(value)
        if len(kept) == 9:
            break
    assert classes.tolist() == kept and tries == count


def test_unique_draw_of_every_class_terminates_fast():
    """All 1000 classes of log-uniform(1000): the rarest has p ~ 1.4e-4, so tens of thousands of
    tries, made in chunks."""
    classes, tries = cs.draw_candidates(cs._LogUniform(1000), np.random.default_rng(0), 1000, True)
    assert sorted(classes.tolist()) == list(range(1000)) and tries > 1000


def _train_steps(fn, config=None, device=None, steps=3):
    """A few SGD steps of ``fn`` (a sampled loss, its own sampler) on a fixed batch: the losses."""
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        with tf.device(device):
            w = tf.Variable(rng.normal(0, 0.1, (50, 8)).astype(np.float32))
            b = tf.Variable(np.zeros(50, np.float32))
            x = tf.placeholder(tf.float32, [16, 8])
            y = tf.placeholder(tf.int64, [16, 1])
            loss = tf.reduce_mean(fn(w, b, y, x, num_sampled=10, num_classes=50))
            step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        feed = {
            x: rng.normal(0, 1, (16, 8)).astype(np.float32),
            y: rng.randint(0, 50, (16, 1)).astype(np.int64),
        }
        with tf.Session(config=config) as s:
            s.run(tf.global_variables_initializer())
            return [s.run([loss, step], feed)[0] for _ in range(steps)]


def test_sampled_softmax_on_the_gpu_gives_the_cpus_numbers():
    """The draw stays on the host; the loss, its gradient and the update run on the (emulated) GPU
    with the CPU's numbers (same seeds, so the same samples). The gathers of sampled rows run on
    the GPU too, their index check included (tests/e2e/test_nvptx_gather.py)."""
    from tgc.dialect import targets

    cpu = _train_steps(sampled_softmax_loss)
    config = tf.ConfigProto(device_count={"GPU": 1})
    with targets.selected("nvptx-emulated"):
        gpu = _train_steps(sampled_softmax_loss, config, "/gpu:0")
    np.testing.assert_allclose(gpu, cpu, rtol=1e-5)
    assert cpu[-1] < cpu[0]


def test_fixed_unigram_from_a_vocab_file_with_reserved_ids(tmp_path):
    """TF's vocab file: one class per line, its count the last comma-separated field; reserved ids
    come first with weight 0 (never drawn). P(c) = count ** distortion / total, in float32."""
    vocab = tmp_path / "vocab.csv"
    vocab.write_text("the,6\ncat,2\nsat,0\nmat,8\n")
    with tf.Graph().as_default():
        values = cs.fixed_unigram_candidate_sampler(
            TRUE_CLASSES % 6, 2, 5000, False, 6, vocab_file=str(vocab), num_reserved_ids=2, seed=4
        )
        with tf.Session() as s:
            sampled, _, sampled_ec = s.run(values)
    weights = np.array([0, 0, 6, 2, 0, 8], np.float64)
    p = weights / weights.sum()
    _assert_binomial(np.bincount(sampled, minlength=6), p, 5000)
    assert not np.isin(sampled, [0, 1, 4]).any()
    np.testing.assert_allclose(sampled_ec, p[sampled] * 5000, rtol=1e-6)
    with tf.Graph().as_default(), pytest.raises(ValueError, match="range_max=5 must equal"):
        cs.fixed_unigram_candidate_sampler(
            TRUE_CLASSES % 5, 2, 3, False, 5, vocab_file=str(vocab), num_reserved_ids=2
        )


def test_true_classes_must_be_int64_as_in_tf():
    with tf.Graph().as_default():
        labels = tf.placeholder(tf.int32, [None, 1], name="labels")
        with pytest.raises(TypeError, match="true_classes must be int64 but 'labels:0' is int32"):
            cs.log_uniform_candidate_sampler(labels, 1, 3, True, 10)
        # the losses cast int32 labels to int64 first, as TF's do
        loss = nce_loss(W0, B0, labels, X0, num_sampled=3, num_classes=NUM_CLASSES)
        assert loss.dtype == tf.float32


@pytest.mark.parametrize("unique", [True, False])
def test_all_candidate_sampler_matches_tf(unique):
    want = TF_VALUES[f"all_{unique}"]
    with tf.Graph().as_default():
        values = cs.all_candidate_sampler(TRUE_CLASSES % 5, 2, 5, unique)
        with tf.Session() as s:
            sampled, true_ec, sampled_ec = s.run(values)
    assert sampled.dtype == np.int64 and sampled.tolist() == want["sampled"]
    np.testing.assert_array_equal(true_ec, np.float32(want["true_ec"]))
    np.testing.assert_array_equal(sampled_ec, np.float32(want["sampled_ec"]))
