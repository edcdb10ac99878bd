"""Prints TF_VALUES for tests/e2e/test_sampled_losses.py: run with TensorFlow 2.21 (compat.v1, v2
behaviour disabled): ``/tmp/tfenv/bin/python tests/oracle/sampled_losses_oracle.py``.

The losses take ``sampled_values`` given explicitly (so the numbers do not depend on TF's random
generator); the samplers' own draws are recorded with the expected counts TF gives them, and for
unique sampling the test infers the number of tries those counts imply (TF does not return it)."""

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()
np.set_printoptions(precision=9, floatmode="maxprec")

rng = np.random.RandomState(7)
NUM_CLASSES, DIM, BATCH = 10, 4, 3
W0 = rng.uniform(-1, 1, (NUM_CLASSES, DIM)).astype(np.float32)
B0 = rng.uniform(-0.5, 0.5, NUM_CLASSES).astype(np.float32)
X0 = rng.uniform(-1, 1, (BATCH, DIM)).astype(np.float32)
ROW_WEIGHTS = np.array([1.0, -2.0, 0.5], np.float32)  # d(sum(loss * ROW_WEIGHTS)) / d(...)

LABELS1 = np.array([[2], [7], [5]], np.int64)
LABELS2 = np.array([[2, 3], [7, 7], [5, 0]], np.int64)
# Sampled candidates with accidental hits (2, 7, 3) and a repeated 7 (non-unique sampling).
SAMPLED = np.array([7, 1, 2, 9, 7, 3], np.int64)
TRUE_EC1 = np.array([[0.5], [0.25], [0.75]], np.float32)
TRUE_EC2 = np.array([[0.5, 0.3], [0.25, 0.25], [0.75, 0.9]], np.float32)
SAMPLED_EC = np.array([0.25, 0.6, 0.5, 0.1, 0.25, 0.3], np.float32)

CASES = {
    # name: (loss, num_true, remove_accidental_hits, shards, partition_strategy)
    "nce_1": ("nce", 1, False, 1, "mod"),
    "nce_2_hits": ("nce", 2, True, 1, "mod"),
    "softmax_1": ("softmax", 1, True, 1, "mod"),
    "softmax_2_nohits": ("softmax", 2, False, 1, "mod"),
    "nce_mod3": ("nce", 2, True, 3, "mod"),
    "softmax_div3": ("softmax", 1, True, 3, "div"),
    "nce_div4": ("nce", 1, False, 4, "div"),
}


def shards_of(table, count, strategy):
    """TF's partition of the rows of ``table`` into ``count`` shards."""
    if count == 1:
        return [table]
    ids = np.arange(len(table))
    if strategy == "mod":
        return [table[ids % count == p] for p in range(count)]
    per, extras = divmod(len(table), count)
    sizes = [per + (p < extras) for p in range(count)]
    return np.split(table, np.cumsum(sizes)[:-1])


out = {"version": tf.__version__}
for case, (kind, num_true, hits, nshards, strategy) in CASES.items():
    g = t.Graph()
    with g.as_default():
        ws = [t.Variable(s) for s in shards_of(W0, nshards, strategy)]
        b = t.Variable(B0)
        x = t.Variable(X0)
        labels = LABELS1 if num_true == 1 else LABELS2
        true_ec = TRUE_EC1 if num_true == 1 else TRUE_EC2
        values = (tf.constant(SAMPLED), tf.constant(true_ec), tf.constant(SAMPLED_EC))
        fn = t.nn.nce_loss if kind == "nce" else t.nn.sampled_softmax_loss
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
        grads = t.gradients(tf.reduce_sum(loss * ROW_WEIGHTS), ws + [b, x])
        grads = [tf.convert_to_tensor(gr) for gr in grads]
        with t.Session() as s:
            s.run(t.global_variables_initializer())
            lv, *gv = s.run([loss] + grads)
        out[case] = {"loss": lv, "grad_w": gv[:-2], "grad_b": gv[-2], "grad_x": gv[-1]}

# Samplers: TF's own draws and the expected counts it gives them.
TRUE_CLASSES = np.array([[0, 3], [7, 1]], np.int64)
UNIGRAMS = [5.0, 1.0, 0.5, 3.0, 0.0, 2.0, 1.5, 4.0]
SAMPLERS = {
    "log_uniform": lambda tc, u: t.nn.log_uniform_candidate_sampler(tc, 2, 6, u, 20, seed=3),
    "uniform": lambda tc, u: t.nn.uniform_candidate_sampler(tc, 2, 6, u, 20, seed=3),
    "unigram": lambda tc, u: t.nn.fixed_unigram_candidate_sampler(
        tc, 2, 5, u, 8, unigrams=UNIGRAMS, distortion=0.75, seed=3
    ),
}


for sname, make in SAMPLERS.items():
    for unique in (True, False):
        g = t.Graph()
        with g.as_default():
            sampled, true_ec, sampled_ec = make(tf.constant(TRUE_CLASSES), unique)
            with t.Session() as s:
                sv, tv, ev = s.run([sampled, true_ec, sampled_ec])
        out[f"{sname}_{unique}"] = {"sampled": sv, "true_ec": tv, "sampled_ec": ev}

for unique in (True, False):
    g = t.Graph()
    with g.as_default():
        values = t.nn.all_candidate_sampler(tf.constant(TRUE_CLASSES % 5), 2, 5, unique)
        with t.Session() as s:
            sv, tv, ev = s.run(values)
    out[f"all_{unique}"] = {"sampled": sv, "true_ec": tv, "sampled_ec": ev}

g = t.Graph()
with g.as_default():
    hits = t.nn.compute_accidental_hits(tf.constant(LABELS2), tf.constant(SAMPLED), num_true=2)
    with t.Session() as s:
        out["accidental_hits"] = s.run(hits)

for key, value in out.items():
    print(f"{key}: {value!r}")
