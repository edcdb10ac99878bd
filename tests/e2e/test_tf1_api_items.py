"""Issue 17's "the rest of what those programs used": each TF1 line that failed, run with
``import tgc as tf`` and checked against TensorFlow's own numbers.

``TF_VALUES`` below is the output of

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/tf1_api_oracle.py --python

with tensorflow-cpu 2.21.0 and tf-keras 2.21.0 in a virtualenv of their own (the script's
docstring says how to make it); the script builds the same programs with ``tf.compat.v1`` (v2
behaviour disabled) on the same inputs, written out in both files. Tolerances: float32 programs
compared at rtol 1e-5 (both sides round in float32, in different orders); batch norm's input
gradient is a difference of terms ~10 times larger than it, so it gets an absolute 2e-5.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import tgc as tf

# ---- inputs shared with tests/oracle/tf1_api_oracle.py -------------------------------------------

REDUCE_FEED = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 7.5) / 6.0
REDUCE_FEED_RANK1 = np.array([0.5, -1.25, 2.0, 3.0])
DENSE_X = np.array([[1.0, 2.0, -1.0, 0.5], [0.0, -3.0, 2.5, 1.0]])
BN_H = np.array(
    [[1.0, -2.0, 0.5], [3.0, 0.0, -1.5], [-0.5, 4.0, 2.0], [2.0, 1.0, 0.0], [0.5, -1.0, 1.0]]
)
BN_WEIGHTS = np.array([[0.5, -1.0, 2.0]])

# ---- TensorFlow 2.21.0's values (generated: see the docstring) -----------------------------------

TF_VALUES = {
    "reduce_unknown_rank": {
        "static_shapes": ["()", "()", "()", "()", "()", "()"],
        "rank3": {
            "reductions": [
                16.0,
                0.6666666865348816,
                2.5833332538604736,
                -1.25,
                0.0048930710181593895,
                4.438783645629883,
            ],
            "grad": [
                [
                    [-0.1041666716337204, -0.0902777835726738, -0.0763888955116272, -0.0625],
                    [
                        -0.0486111119389534,
                        -0.0347222238779068,
                        -0.02083333395421505,
                        -0.006944444961845875,
                    ],
                    [
                        0.006944444961845875,
                        0.02083333395421505,
                        0.0347222238779068,
                        0.0486111119389534,
                    ],
                ],
                [
                    [0.0625, 0.0763888955116272, 0.0902777835726738, 0.1041666716337204],
                    [
                        0.1180555522441864,
                        0.1319444477558136,
                        0.1458333432674408,
                        0.1597222238779068,
                    ],
                    [0.1736111044883728, 0.1875, 0.2013888955116272, 1.2152776718139648],
                ],
            ],
        },
        "rank1": {
            "reductions": [4.25, 1.0625, 3.0, -1.25, -3.75, 3.381328582763672],
            "grad": [0.25, -0.625, 1.0, 2.5],
        },
        "scalar": {"reductions": [2.5, 2.5, 2.5, 2.5, 2.5, 2.5], "grad": 6.0},
    },
    "dimension_shapes": {
        "w_shape": [4, 3],
        "b_shape": "(4, 2)",
        "n": 4,
        "z_shape": [4, 2],
        "y": [
            [4.449999809265137, 4.699999809265137, 4.949999809265137],
            [5.5, 5.550000190734863, 5.599999904632568],
        ],
        "r": [[1.0, 2.0, -1.0, 0.5, 0.0, -3.0, 2.5, 1.0]],
        "r_shape": "(?, 8)",
        "parts": ["(?, 1)", "(?, 1)", "(?, 1)", "(?, 1)"],
        "arithmetic": ["8", "5", "12", "1", "1", "3", "?"],
        "comparisons": [True, False, None],
    },
    "batch_norm_training_flag": {
        "variables": [
            "batch_normalization/gamma",
            "batch_normalization/beta",
            "batch_normalization/moving_mean",
            "batch_normalization/moving_variance",
        ],
        "update_ops": 2,
        "steps": [
            {
                "training": True,
                "y": [
                    [-0.16546452045440674, -1.1654056310653687, 0.08635461330413818],
                    [1.489180564880371, -0.19423426687717438, -1.640737771987915],
                    [-1.4064483642578125, 1.7481083869934082, 1.3816739320755005],
                    [0.6618580222129822, 0.2913513779640198, -0.3454184830188751],
                    [-0.5791257619857788, -0.6798199415206909, 0.5181276798248291],
                ],
                "grads": [
                    [
                        [-9.3673741503153e-05, 0.00026689801597967744, 0.0002224445343017578],
                        [0.0008434155606664717, 4.446839011507109e-05, -0.004226207733154297],
                        [-0.0007964274263940752, -0.000400435586925596, 0.003559112548828125],
                        [0.0003748634771909565, -6.670917355222628e-05, -0.0008897781372070312],
                        [-0.0003279348893556744, 0.00015573535347357392, 0.0013344287872314453],
                    ],
                    [4.996577262878418, -9.997641563415527, 19.985084533691406],
                    [-5.960464477539063e-08, 1.1920928955078125e-07, 0.0],
                ],
                "moving": [
                    [0.12000000476837158, 0.04000000283122063, 0.04000000283122063],
                    [1.0460000038146973, 1.3240000009536743, 1.034000039100647],
                ],
            },
            {
                "training": True,
                "y": [
                    [-0.16546452045440674, -1.1654056310653687, 0.08635461330413818],
                    [1.489180564880371, -0.19423426687717438, -1.640737771987915],
                    [-1.4064483642578125, 1.7481083869934082, 1.3816739320755005],
                    [0.6618580222129822, 0.2913513779640198, -0.3454184830188751],
                    [-0.5791257619857788, -0.6798199415206909, 0.5181276798248291],
                ],
                "grads": [
                    [
                        [-9.3673741503153e-05, 0.00026689801597967744, 0.0002224445343017578],
                        [0.0008434155606664717, 4.446839011507109e-05, -0.004226207733154297],
                        [-0.0007964274263940752, -0.000400435586925596, 0.003559112548828125],
                        [0.0003748634771909565, -6.670917355222628e-05, -0.0008897781372070312],
                        [-0.0003279348893556744, 0.00015573535347357392, 0.0013344287872314453],
                    ],
                    [4.996577262878418, -9.997641563415527, 19.985084533691406],
                    [-5.960464477539063e-08, 1.1920928955078125e-07, 0.0],
                ],
                "moving": [
                    [0.22800001502037048, 0.07600000500679016, 0.07600000500679016],
                    [1.087399959564209, 1.6155999898910522, 1.0645999908447266],
                ],
            },
            {
                "training": False,
                "y": [
                    [0.7399851679801941, -1.632773995399475, 0.4107416570186615],
                    [2.6570451259613037, -0.0597740039229393, -1.5267189741134644],
                    [-0.6978098750114441, 3.086225986480713, 1.8638371229171753],
                    [1.6985151767730713, 0.7267259955406189, -0.07362350821495056],
                    [0.2607201337814331, -0.8462739586830139, 0.8951067924499512],
                ],
                "grads": [
                    [
                        [0.7092980146408081, 2.5683534145355225, 1.5915915966033936],
                        [2.5468575954437256, 0.09402450174093246, -5.9159159660339355],
                        [-0.6688717007637024, -4.854633331298828, 7.222222328186035],
                        [1.628077745437622, -1.1431399583816528, -0.2852852940559387],
                        [0.24990807473659515, 1.3311889171600342, 3.468468427658081],
                    ],
                    [11.047333717346191, -26.877246856689453, 27.120420455932617],
                    [4.658455848693848, -2.54826021194458, 6.277372360229492],
                ],
                "moving": [
                    [0.22800001502037048, 0.07600000500679016, 0.07600000500679016],
                    [1.087399959564209, 1.6155999898910522, 1.0645999908447266],
                ],
            },
        ],
    },
    "small_int_dtypes": {
        "as_dtype": ["int8", "int16", "uint8"],
        "numpy": ["int8", "int16", "uint8"],
        "int8": {
            "fetched_dtype": "int8",
            "casts": [
                [[-128.0, -3.0, 0.0], [5.0, 100.0, 127.0]],
                [[-128.0, -3.0, 0.0], [5.0, 100.0, 127.0]],
                [[-128, -3, 0], [5, 100, 127]],
                [[-128, -3, 0], [5, 100, 127]],
                [[True, True, False], [True, True, True]],
                [[-128, -3, 0], [5, 100, 127]],
                [[128, 253, 0], [5, 100, 127]],
            ],
            "cast_dtypes": ["float32", "float64", "int32", "int64", "bool", "int16", "uint8"],
            "from_float": [[0, 3, 127], [100, 12, 65]],
        },
        "int16": {
            "fetched_dtype": "int16",
            "casts": [
                [[-30000.0, -3.0, 0.0], [5.0, 300.0, 32767.0]],
                [[-30000.0, -3.0, 0.0], [5.0, 300.0, 32767.0]],
                [[-30000, -3, 0], [5, 300, 32767]],
                [[-30000, -3, 0], [5, 300, 32767]],
                [[True, True, False], [True, True, True]],
                [[-48, -3, 0], [5, 44, -1]],
                [[208, 253, 0], [5, 44, 255]],
            ],
            "cast_dtypes": ["float32", "float64", "int32", "int64", "bool", "int8", "uint8"],
            "from_float": [[0, 3, 127], [100, 12, 65]],
        },
        "uint8": {
            "fetched_dtype": "uint8",
            "casts": [
                [[0.0, 3.0, 128.0], [200.0, 254.0, 255.0]],
                [[0.0, 3.0, 128.0], [200.0, 254.0, 255.0]],
                [[0, 3, 128], [200, 254, 255]],
                [[0, 3, 128], [200, 254, 255]],
                [[False, True, True], [True, True, True]],
                [[0, 3, -128], [-56, -2, -1]],
                [[0, 3, 128], [200, 254, 255]],
            ],
            "cast_dtypes": ["float32", "float64", "int32", "int64", "bool", "int8", "int16"],
            "from_float": [[0, 3, 127], [100, 12, 65]],
        },
        "constants": [
            [1, 200, 255],
            [3, 250, 128],
            [7, 128, 44],
            [0.003921568859368563, 0.7843137383460999, 1.0],
        ],
        "bitcast": [0, 127, -128, -1],
    },
    "arg_min_max": {
        "values": [[2, 1, 3], [1, 0, 2, 0], [2, 1, 0, 2], [1, 0, 2]],
        "dtypes": ["int64", "int64", "int64", "int32"],
    },
    "unique_values": {
        "values": [[4, 1, 7, 9], [0, 1, 0, 2, 1, 1, 3], 25, [2.5, -1.0, 0.0], [0, 1, 0, 2, 1]],
        "dtypes": ["int32", "int32", "float32", "int64"],
        "shapes": ["(?,)", "(?,)"],
    },
    "matrices": {
        "diag_shapes": ["(3, 3)", "(2, 2, 2, 2)", "(2, 2)"],
        "matrix": [
            262.99999999999983,
            [
                [0.19771863117870722, 0.06463878326996197, 0.007604562737642592],
                [-0.12167300380228137, 0.11406844106463877, 0.07224334600760458],
                [-0.034220532319391636, -0.030418250950570346, 0.1140684410646388],
            ],
            [
                [0.19771863117870722, -0.12167300380228137, -0.03422053231939164],
                [0.06463878326996197, 0.11406844106463877, -0.030418250950570346],
                [0.007604562737642585, 0.07224334600760457, 0.1140684410646388],
            ],
            [
                [25.969010683976908, -15.972155156211587, -4.5560944931978185],
                [8.461680810767824, 15.00573956541224, -3.989236507684076],
                [1.0291532333848972, 9.452811230464508, 14.991481010279164],
            ],
        ],
        "needs_pivot": [
            -13.0,
            [
                [-0.38461538461538464, 0.7692307692307693, 0.0769230769230769],
                [0.3846153846153846, 0.23076923076923078, -0.07692307692307693],
                [0.23076923076923078, -0.46153846153846156, 0.15384615384615385],
            ],
            [
                [-0.3846153846153846, 0.3846153846153846, 0.23076923076923078],
                [0.7692307692307692, 0.23076923076923078, -0.46153846153846156],
                [0.07692307692307693, -0.07692307692307693, 0.15384615384615385],
            ],
            [
                [1.6020710059171597, -2.4866863905325443, -0.7766272189349113],
                [-4.18491124260355, -2.04585798816568, 2.341715976331361],
                [-0.5665680473372782, 0.643491124260355, -1.03698224852071],
            ],
        ],
        "singular_det": -0.0,
        "batch": [
            [[5.500000476837158, -2.0], [2.0, 5.500000476837158]],
            [
                [
                    [
                        [0.5454545617103577, -0.1818181872367859],
                        [-0.09090909361839294, 0.3636363744735718],
                    ],
                    [[-2.0, 0.5], [1.0, 0.0]],
                ],
                [
                    [[0.5, 0.5], [-0.5, 0.5]],
                    [
                        [0.27272728085517883, -0.3636363446712494],
                        [-0.1818181723356247, 0.9090908765792847],
                    ],
                ],
            ],
            [
                [
                    [
                        [2.6183323860168457, -0.34823447465896606],
                        [-0.7956424951553345, 1.8557478189468384],
                    ],
                    [[13.0, -6.0], [-2.25, 2.0]],
                ],
                [
                    [[0.5, -0.5], [0.5, 0.5]],
                    [
                        [-3.25093936920166, 2.5199098587036133],
                        [4.841472625732422, -11.839219093322754],
                    ],
                ],
            ],
            [
                [
                    [
                        [0.5454545617103577, -0.09090909361839294],
                        [-0.1818181872367859, 0.3636363744735718],
                    ],
                    [[-2.0, 1.0], [0.5, 0.0]],
                ],
                [
                    [[0.5, -0.5], [0.5, 0.5]],
                    [
                        [0.27272728085517883, -0.1818181723356247],
                        [-0.3636363446712494, 0.9090908765792847],
                    ],
                ],
            ],
        ],
        "batch_shapes": ["(?, 2)", "(?, 2, 2, 2)"],
        "diag": [
            [[1.5, 0.0, 0.0], [0.0, -2.0, 0.0], [0.0, 0.0, 3.0]],
            [
                [[[1.0, 0.0], [0.0, 0.0]], [[0.0, 2.0], [0.0, 0.0]]],
                [[[0.0, 0.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 4.0]]],
            ],
            [[1.0, 2.0], [3.0, 4.0]],
            [3.0, -4.0, 6.0],
            [[3.0, 3.0], [3.0, 3.0]],
        ],
    },
    "batch_norm_fused_training_flag": {
        "trained": [
            [
                [
                    [-1.5267337560653687, -1.5267337560653687, -1.5267337560653687],
                    [-1.0905240774154663, -1.0905240774154663, -1.0905240774154663],
                ],
                [
                    [-0.6543144583702087, -0.6543144583702087, -0.6543145179748535],
                    [-0.21810483932495117, -0.21810480952262878, -0.21810483932495117],
                ],
            ],
            [
                [
                    [0.21810483932495117, 0.21810483932495117, 0.21810480952262878],
                    [0.6543145179748535, 0.6543144583702087, 0.6543144583702087],
                ],
                [
                    [1.0905240774154663, 1.0905240774154663, 1.0905240774154663],
                    [1.5267337560653687, 1.5267337560653687, 1.5267337560653687],
                ],
            ],
        ],
        "moving": [
            [0.009999990463256836, 0.006428565364331007, -0.00214285496622324],
            [1.0010204315185547, 1.0010204315185547, 1.0010204315185547],
        ],
        "inferred": [
            [
                [
                    [-0.5094855427742004, -0.862700343132019, -1.7104158401489258],
                    [-0.08134642988443375, -0.43456122279167175, -1.2822766304016113],
                ],
                [
                    [0.34679272770881653, -0.006422081030905247, -0.8541375994682312],
                    [0.7749318480491638, 0.4217170476913452, -0.4259984493255615],
                ],
            ],
            [
                [
                    [1.2030709981918335, 0.8498561978340149, 0.002140693599358201],
                    [1.631210207939148, 1.277995228767395, 0.43027982115745544],
                ],
                [
                    [2.059349298477173, 1.7061344385147095, 0.8584189414978027],
                    [2.487488269805908, 2.1342735290527344, 1.2865581512451172],
                ],
            ],
        ],
    },
    "compat_v1_program": {
        "losses": [24.5, 0.908750057220459, 0.26530614495277405],
        "w": [[2.114375114440918]],
        "b": [0.5220000147819519],
    },
    "compat_strings": {
        "as_str": "abé",
        "as_bytes": [97, 98, 195, 169],
        "as_text": "x",
        "as_str_any": "3",
        "bytearray": [113],
        "dimension_value": 3,
    },
    "logging_levels": {"levels": [10, 20, 30, 40, 50], "default": 30, "after": 20},
    "app_flags": {
        "argv": ["prog", "pos1"],
        "data_dir": "/d",
        "batch_size": 7,
        "learning_rate": 0.5,
        "use_fp16": False,
        "fake": True,
        "hidden": ["8", "16"],
        "exit_code": 3,
    },
}


def _close(actual, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol)


# ---- 1. `x = tf.placeholder("float"); tf.reduce_sum(x)` ------------------------------------------


def test_reductions_over_every_axis_of_unknown_rank_give_tf_values_and_gradients():
    tf_values = TF_VALUES["reduce_unknown_rank"]
    x = tf.placeholder("float")
    reductions = [
        tf.reduce_sum(x),
        tf.reduce_mean(x),
        tf.reduce_max(x),
        tf.reduce_min(x),
        tf.reduce_prod(x),
        tf.reduce_logsumexp(x),
    ]
    loss = tf.reduce_mean(x * x) + tf.reduce_max(x)
    (grad,) = tf.gradients(loss, [x])
    assert [str(r.shape) for r in reductions] == tf_values["static_shapes"]
    with tf.Session() as sess:
        for key, feed in (("rank3", REDUCE_FEED), ("rank1", REDUCE_FEED_RANK1), ("scalar", 2.5)):
            values, g = sess.run([reductions, grad], {x: feed})
            _close(values, tf_values[key]["reductions"])
            _close(g, tf_values[key]["grad"])
            assert np.shape(g) == np.shape(feed)


def test_keepdims_over_every_axis_of_unknown_rank_is_refused_by_name():
    x = tf.placeholder(tf.float32, name="x")
    with pytest.raises(
        ValueError, match="reducing 'x:0' of unknown rank over all axes with keepdims"
    ):
        tf.reduce_sum(x, keepdims=True)


def test_reshape_of_unknown_rank_to_a_static_shape_has_that_shape():
    x = tf.placeholder(tf.float32)
    assert tf.reshape(x, [-1, 3]).shape.as_list() == [None, 3]
    assert tf.reshape(x, []).shape.as_list() == []


# ---- 2. `tf.get_variable('w', [x.shape[1], 50])` -------------------------------------------------


def test_shapes_holding_dimensions_build_and_run_as_in_tf():
    tf_values = TF_VALUES["dimension_shapes"]
    x = tf.placeholder(tf.float32, [None, 4])
    w = tf.get_variable(
        "w",
        [x.shape[1], 3],
        initializer=tf.constant_initializer(np.arange(12.0).reshape(4, 3) / 10.0),
    )
    b = tf.get_variable("b", x.get_shape()[1:2] + [2], initializer=tf.zeros_initializer())
    n = x.get_shape()[1].value
    z = tf.zeros([x.get_shape()[1], tf.Dimension(2)])
    ones = tf.ones(tf.TensorShape([x.shape[1], None])[:1])
    y = tf.matmul(x, w) + tf.reduce_sum(z) + tf.reduce_sum(ones)
    r = tf.reshape(x, [-1, x.shape[1] * 2])
    parts = tf.split(x, x.shape[1], axis=1)
    d = x.shape[1]
    arithmetic = [str(v) for v in (d * 2, d + 1, 3 * d, d // 3, d % 3, d - 1, x.shape[0] * 2)]
    comparisons = [d > 3, d < 3, x.shape[0] > 1]

    assert w.shape.as_list() == tf_values["w_shape"]
    assert str(b.shape) == tf_values["b_shape"]
    assert n == tf_values["n"]
    assert z.shape.as_list() == tf_values["z_shape"]
    assert str(r.shape) == tf_values["r_shape"]
    assert [str(p.shape) for p in parts] == tf_values["parts"]
    assert arithmetic == tf_values["arithmetic"]
    assert comparisons == tf_values["comparisons"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        y_value, r_value = sess.run([y, r], {x: DENSE_X})
    _close(y_value, tf_values["y"])
    _close(r_value, tf_values["r"])


def test_a_variable_shape_with_an_unknown_dimension_is_refused_as_in_tf():
    x = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(ValueError, match=r"Shape of a new variable \(w\) must be fully defined"):
        tf.get_variable("w", [x.shape[0], 3])


def test_dimension_and_tensorshape_pieces():
    d, unknown = tf.Dimension(4), tf.Dimension(None)
    assert int(d) == 4 and d.value == 4 and unknown.value is None
    assert (d + unknown).value is None and d.merge_with(unknown) == 4
    assert d.is_compatible_with(unknown) and not d.is_compatible_with(5)
    shape = tf.TensorShape([d, None]).merge_with([None, 3])
    assert shape.as_list() == [4, 3] and shape.is_fully_defined()
    assert tf.TensorShape([2]).concatenate(tf.TensorShape([None])).as_list() == [2, None]
    assert tf.TensorShape(None).ndims is None and tf.TensorShape(3).as_list() == [3]
    with pytest.raises(ValueError, match="incompatible"):
        tf.TensorShape([2, 3]).assert_is_compatible_with([2, 4])


# ---- 3. `tf.layers.batch_normalization(h, training=tf.placeholder(tf.bool, None))` ---------------


def test_batch_norm_with_a_bool_placeholder_of_unknown_rank_matches_tf():
    tf_values = TF_VALUES["batch_norm_training_flag"]
    h = tf.placeholder(tf.float32, [None, 3])
    training = tf.placeholder(tf.bool, None)
    y = tf.layers.batch_normalization(h, training=training, momentum=0.9)
    loss = tf.reduce_sum(y * BN_WEIGHTS.astype(np.float32) * y)
    gamma, beta, mean, var = tf.global_variables()
    grads = tf.gradients(loss, [h, gamma, beta])
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert [v.op.name for v in (gamma, beta, mean, var)] == tf_values["variables"]
    assert len(updates) == tf_values["update_ops"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for expected in tf_values["steps"]:
            flag = expected["training"]
            values = sess.run([y] + grads, {h: BN_H, training: flag})
            sess.run(updates, {h: BN_H, training: flag})
            _close(values[0], expected["y"])
            _close(values[1], expected["grads"][0], atol=2e-5)
            _close(values[2], expected["grads"][1], atol=2e-5)
            _close(values[3], expected["grads"][2], atol=2e-5)
            _close(sess.run([mean, var]), expected["moving"])


BN_IMAGES = np.arange(24, dtype=np.float64).reshape(2, 2, 2, 3) / 7.0 - np.array([0.5, 1.0, 2.0])


def test_fused_batch_norm_with_a_bool_placeholder_matches_tf():
    tf_values = TF_VALUES["batch_norm_fused_training_flag"]
    h = tf.placeholder(tf.float32, [None, 2, 2, 3])
    training = tf.placeholder(tf.bool, None)
    y = tf.layers.batch_normalization(h, training=training)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    moving = tf.global_variables()[2:]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        trained = sess.run([y, updates], {h: BN_IMAGES, training: True})[0]
        after = sess.run(moving)
        inferred = sess.run(y, {h: BN_IMAGES, training: False})
    _close(trained, tf_values["trained"], atol=1e-5)
    _close(after, tf_values["moving"])
    _close(inferred, tf_values["inferred"])


def test_batch_norm_refuses_a_training_flag_that_is_not_bool():
    h = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(TypeError, match="training must be a Python bool or a bool tensor"):
        tf.layers.batch_normalization(h, training=tf.placeholder(tf.float32, None))


# ---- 4. dtypes int8, int16, uint8 ----------------------------------------------------------------

SMALL_INTS = {
    "int8": np.array([[-128, -3, 0], [5, 100, 127]]),
    "int16": np.array([[-30000, -3, 0], [5, 300, 32767]]),
    "uint8": np.array([[0, 3, 128], [200, 254, 255]]),
}
SMALL_FLOATS = np.array([[0.0, 3.9, 127.0], [100.5, 12.2, 65.0]])


def test_small_int_dtypes_feed_cast_and_fetch_as_tf():
    tf_values = TF_VALUES["small_int_dtypes"]
    assert [tf.as_dtype(n).name for n in ("int8", "int16", "uint8")] == tf_values["as_dtype"]
    assert [tf.as_dtype(t).name for t in (np.int8, np.int16, np.uint8)] == tf_values["numpy"]
    assert (tf.int8, tf.int16, tf.uint8) == (tf.as_dtype("int8"), "int16", np.uint8)
    floats = tf.placeholder(tf.float32, [None, 3])
    for name, values in SMALL_INTS.items():
        expected = tf_values[name]
        x = tf.placeholder(tf.as_dtype(name), [None, 3])
        targets = ["float32", "float64", "int32", "int64", "bool", "int8", "int16", "uint8"]
        casts = [tf.cast(x, t) for t in targets if t != name]
        into = tf.cast(floats, name)
        assert [c.dtype.name for c in casts] == expected["cast_dtypes"]
        with tf.Session() as sess:
            out = sess.run([x] + casts + [into], {x: values.astype(name), floats: SMALL_FLOATS})
        assert out[0].dtype.name == expected["fetched_dtype"]
        for got, want, cast in zip(out[1:-1], expected["casts"], casts):
            assert got.dtype.name == cast.dtype.name
            assert got.tolist() == want, (name, cast.dtype.name)
        assert out[-1].tolist() == expected["from_float"]
        assert out[-1].dtype.name == name


def test_bitcast_reads_the_same_bits_as_tf():
    x = tf.placeholder(tf.uint8, [4])
    with tf.Session() as sess:
        out = sess.run(tf.bitcast(x, tf.int8), {x: np.array([0, 127, 128, 255], np.uint8)})
    assert out.tolist() == TF_VALUES["small_int_dtypes"]["bitcast"] and out.dtype == np.int8
    with pytest.raises(ValueError, match="bitcast from float32 to int8 changes the width"):
        tf.bitcast(tf.zeros([2]), tf.int8)


def test_uint8_constants_and_folded_casts_give_tf_values():
    """A uint8 constant lowers as int8 bits read back as uint8; tgc-fold's uint8 constants too."""
    constants = [
        tf.constant([1, 200, 255], tf.uint8),
        tf.cast(tf.constant([3.0, 250.0, 128.5]), tf.uint8),
        tf.cast(tf.reshape(tf.constant([[7, 128, 300]]), [-1]), tf.uint8),
        tf.cast(tf.constant([1, 200, 255], tf.uint8), tf.float32) / 255.0,
    ]
    with tf.Session() as sess:
        values = sess.run(constants)
    expected = TF_VALUES["small_int_dtypes"]["constants"]
    for got, want in zip(values[:3], expected[:3]):
        assert got.dtype == np.uint8 and got.tolist() == want
    _close(values[3], expected[3])


# ---- 5. arg_min/arg_max, diag, matrix_determinant, matrix_inverse --------------------------------

ARG_FEED = np.array([[3.0, -1.0, 4.0, 1.5], [-5.0, 9.0, 2.0, 6.0], [5.0, 3.0, -5.0, 8.0]])
MATRIX = np.array([[4.0, -2.0, 1.0], [3.0, 6.0, -4.0], [2.0, 1.0, 8.0]])
MATRIX_WEIGHTS = np.array([[1.0, -0.5, 2.0], [0.25, 1.5, -1.0], [-2.0, 0.5, 1.0]])
NEEDS_PIVOT = np.array([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 5.0]])
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
BATCH = np.array(
    [
        [[[2.0, 1.0], [0.5, 3.0]], [[0.0, 1.0], [2.0, 4.0]]],
        [[[1.0, -1.0], [1.0, 1.0]], [[5.0, 2.0], [1.0, 1.5]]],
    ]
)
DIAG_VECTOR = np.array([1.5, -2.0, 3.0])
DIAG_MATRIX = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_arg_min_and_arg_max_take_tf1_dimension():
    tf_values = TF_VALUES["arg_min_max"]
    x = tf.placeholder(tf.float32, [None, 4])
    outs = [
        tf.arg_max(x, 1),
        tf.arg_min(x, 0),
        tf.arg_max(x, dimension=0),
        tf.arg_min(x, dimension=1, output_type=tf.int32),
    ]
    with tf.Session() as sess:
        values = sess.run(outs, {x: ARG_FEED})
    assert [v.tolist() for v in values] == tf_values["values"]
    assert [o.dtype.name for o in outs] == tf_values["dtypes"]


def test_determinant_inverse_and_diag_give_tf_values_and_gradients():
    """float64 matrices: tgc's elimination and TF's LU differ only in rounding (rtol 1e-10)."""
    tf_values = TF_VALUES["matrices"]
    a = tf.placeholder(tf.float64, [None, None])
    v = tf.placeholder(tf.float32, [3])
    m = tf.placeholder(tf.float32, [2, 2])
    det = tf.matrix_determinant(a)
    inv = tf.matrix_inverse(a)
    inv_adjoint = tf.matrix_inverse(a, adjoint=True)
    loss = 0.5 * det + tf.reduce_sum(inv * MATRIX_WEIGHTS)
    (grad,) = tf.gradients(loss, [a])
    d_vector, d_matrix = tf.diag(v), tf.diag(m)
    part = tf.diag_part(d_matrix)
    diag_loss = tf.reduce_sum(d_vector * d_vector) + tf.reduce_sum(tf.diag_part(d_matrix * 3.0))
    diag_grads = tf.gradients(diag_loss, [v, m])
    assert [str(d_vector.shape), str(d_matrix.shape), str(part.shape)] == tf_values["diag_shapes"]
    with tf.Session() as sess:
        for key, feed in (("matrix", MATRIX), ("needs_pivot", NEEDS_PIVOT)):
            values = sess.run([det, inv, inv_adjoint, grad], {a: feed})
            for got, want in zip(values, tf_values[key]):
                _close(got, want, rtol=1e-10, atol=1e-12)
        _close(sess.run(det, {a: SINGULAR}), tf_values["singular_det"], atol=1e-12)
        values = sess.run([d_vector, d_matrix, part] + diag_grads, {v: DIAG_VECTOR, m: DIAG_MATRIX})
    for got, want in zip(values, tf_values["diag"]):
        _close(got, want)


def test_batches_of_matrices_give_tf_values_and_gradients():
    """float32 batches with an unknown leading dim: rtol 1e-5 (both sides round in float32)."""
    tf_values = TF_VALUES["matrices"]
    batch = tf.placeholder(tf.float32, [None, 2, 2, 2])
    batch_det = tf.matrix_determinant(batch)
    batch_inv = tf.matrix_inverse(batch)
    batch_loss = tf.reduce_sum(batch_det * [1.0, -2.0]) + tf.reduce_sum(batch_inv * batch_inv)
    (batch_grad,) = tf.gradients(batch_loss, [batch])
    batch_adjoint = tf.matrix_inverse(batch, adjoint=True)
    assert [str(t.shape) for t in (batch_det, batch_inv)] == tf_values["batch_shapes"]
    with tf.Session() as sess:
        values = sess.run([batch_det, batch_inv, batch_grad, batch_adjoint], {batch: BATCH})
    for got, want in zip(values, tf_values["batch"]):
        _close(got, want)


def test_an_inverse_knows_both_sides_of_its_square_from_either():
    """TF's MatrixInverse shape function merges a square's two dims: [4, 2, None, 4] gives
    [4, 2, 4, 4] (tf 2.21 compat.v1: `tf.matrix_inverse(tf.placeholder(tf.float64,
    [4, 2, None, 4])).shape` is (4, 2, 4, 4)). Left unmerged, a while_loop whose body inverts its
    [4, 2, None, 4] variable failed its gradient: the backward loop's value came out
    [4, 2, 4, None], not an instance of the variable's shape (random-graph campaign, seed
    300523)."""
    x = tf.placeholder(tf.float64, [4, 2, None, 4])
    assert tf.matrix_inverse(x).shape.as_list() == [4, 2, 4, 4]
    partly_known = tf.placeholder(tf.float64, [None, 3])
    partly_inverted = tf.matrix_inverse(partly_known)
    assert partly_inverted.shape.as_list() == [3, 3]
    with tf.Session() as sess:  # the code takes the op's [3, 3] for the fed [?, 3] (seed 301739)
        np.testing.assert_allclose(
            sess.run(partly_inverted, {partly_known: np.eye(3) * 4.0}), np.eye(3) / 4.0
        )
    assert tf.matrix_inverse(tf.placeholder(tf.float32, [None, None])).shape.as_list() == [
        None,
        None,
    ]
    (inverted,) = tf.while_loop(
        lambda i, m: i < 1, lambda i, m: [i + 1, tf.matrix_inverse(m)], [0, x]
    )[1:]
    weights = np.random.default_rng(5).standard_normal((4, 2, 4, 4))
    (grad,) = tf.gradients(tf.reduce_sum(inverted * weights), [x])
    value = np.eye(4) * 2.0 + np.random.default_rng(6).standard_normal((4, 2, 4, 4)) * 0.2
    with tf.Session() as sess:
        got_inverse, got_grad = sess.run([inverted, grad], {x: value})
    want = np.linalg.inv(value)
    np.testing.assert_allclose(got_inverse, want, rtol=1e-10)
    # d/dX sum(W * X^-1) = -X^-T W X^-T
    transposed = np.swapaxes(want, -1, -2)
    np.testing.assert_allclose(got_grad, -transposed @ weights @ transposed, rtol=1e-9)


def test_matrix_ops_refuse_what_tgc_does_not_take_by_name():
    with pytest.raises(ValueError, match="matrix_inverse needs square matrices but got shape"):
        tf.matrix_inverse(tf.zeros([2, 3]))
    with pytest.raises(ValueError, match=r"takes square matrices \[..., n, n\] but got shape"):
        tf.matrix_determinant(tf.zeros([4]))
    with pytest.raises(ValueError, match="matrix_determinant takes float32 or float64"):
        tf.matrix_determinant(tf.zeros([2, 2], tf.int32))
    with pytest.raises(ValueError, match=r"diag_part needs dims \[d..., d...\]"):
        tf.diag_part(tf.zeros([2, 3]))


UNIQUE_FEED = np.array([4, 1, 4, 7, 1, 1, 9])
UNIQUE_FLOATS = np.array([2.5, -1.0, 2.5, 0.0, -1.0])


def test_unique_of_a_feed_runs_on_the_host_and_feeds_compiled_ops_as_tf():
    tf_values = TF_VALUES["unique_values"]
    x = tf.placeholder(tf.int32, [None])
    f = tf.placeholder(tf.float32, [None])
    y, idx = tf.unique(x)
    total = tf.reduce_sum(y) + tf.size(y)
    floats = tf.unique(f, out_idx=tf.int64)
    assert [v.dtype.name for v in (y, idx, floats.y, floats.idx)] == tf_values["dtypes"]
    assert [str(t.shape) for t in (y, idx)] == tf_values["shapes"]
    with tf.Session() as sess:
        values = sess.run([y, idx, total, floats.y, floats.idx], {x: UNIQUE_FEED, f: UNIQUE_FLOATS})
    assert [np.asarray(v).tolist() for v in values] == tf_values["values"]


def test_unique_of_a_computed_tensor_is_fetched_but_cannot_feed_the_same_run():
    x = tf.placeholder(tf.int32, [None])
    y, idx = tf.unique(x * 2, name="doubled_unique")
    with tf.Session() as sess:
        got_y, got_idx = sess.run([y, idx], {x: [4, 1, 4]})
        assert got_y.tolist() == [8, 2] and got_idx.tolist() == [0, 1, 0]
        with pytest.raises(
            TypeError, match="'doubled_unique' .* runs on the host after the compiled"
        ):
            sess.run(tf.reduce_sum(y), {x: [4, 1, 4]})
    with pytest.raises(ValueError, match="unique takes a 1-D tensor"):
        tf.unique(tf.zeros([2, 2]))


# ---- 6. tf.compat, tf.compat.v1, tf.logging, tf.app.flags/run, tf.RunMetadata --------------------

REGRESSION_X = np.array([[1.0], [2.0], [3.0], [4.0]])
REGRESSION_Y = np.array([[2.5], [4.0], [7.5], [9.0]])


def test_a_compat_v1_program_gives_tf_numbers():
    tf_values = TF_VALUES["compat_v1_program"]
    v1 = tf.compat.v1
    assert v1 is tf
    v1.disable_v2_behavior()
    x = v1.placeholder(v1.float32, [None, 1])
    y = v1.placeholder(v1.float32, [None, 1])
    w = v1.get_variable("w", [1, 1], initializer=v1.constant_initializer(0.5))
    b = v1.Variable(v1.zeros([1]))
    loss = v1.reduce_mean(v1.square(v1.matmul(x, w) + b - y))
    train = v1.train.GradientDescentOptimizer(0.05).minimize(loss)
    losses = []
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(3):
            losses.append(sess.run([loss, train], {x: REGRESSION_X, y: REGRESSION_Y})[0])
        w_value, b_value = sess.run([w, b])
    _close(losses, tf_values["losses"])
    _close(w_value, tf_values["w"])
    _close(b_value, tf_values["b"])


def test_import_tgc_compat_v1_as_tf_is_tgc():
    import tgc.compat.v1 as v1
    from tgc.compat import v1 as v1_again

    assert v1 is tf and v1_again is tf


def test_compat_strings_as_tf():
    tf_values = TF_VALUES["compat_strings"]
    c = tf.compat
    assert c.as_str(b"ab\xc3\xa9") == tf_values["as_str"]
    assert list(c.as_bytes("ab\u00e9")) == tf_values["as_bytes"]
    assert c.as_text(b"x") == tf_values["as_text"]
    assert c.as_str_any(3) == tf_values["as_str_any"]
    assert list(c.as_bytes(bytearray(b"q"))) == tf_values["bytearray"]
    assert c.dimension_value(tf.Dimension(3)) == tf_values["dimension_value"]
    with pytest.raises(TypeError, match="Expected binary or unicode string, got 3"):
        c.as_bytes(3)


def test_logging_levels_and_messages(caplog):
    tf_values = TF_VALUES["logging_levels"]
    levels = [tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR]
    assert levels + [tf.logging.FATAL] == tf_values["levels"]
    logger = tf.logging.get_logger()
    before = logger.level
    try:
        logger.setLevel(0)  # as a fresh process has it: the default verbosity is TF's WARN
        assert tf.logging.get_verbosity() == tf_values["default"]
        tf.logging.set_verbosity(tf.logging.INFO)
        assert tf.logging.get_verbosity() == tf_values["after"]
        with caplog.at_level(tf.logging.INFO, logger="tgc"):
            tf.logging.info("step %d: loss %.2f", 3, 0.25)
            tf.logging.debug("not shown")
            for i in range(5):
                tf.logging.log_every_n(tf.logging.INFO, "every %d", 2, i)
        messages = [r.getMessage() for r in caplog.records]
        assert messages == ["step 3: loss 0.25", "every 0", "every 2", "every 4"]
    finally:
        logger.setLevel(before)


APP_ARGV = [
    "prog",
    "--batch_size=7",
    "--learning_rate",
    "0.5",
    "--nouse_fp16",
    "--fake",
    "pos1",
    "--data_dir=/d",
    "--hidden=8,16",
]


@pytest.fixture
def app_flags():
    flags = tf.app.flags
    flags.DEFINE_string("data_dir", "/tmp/data", "where the data is")
    flags.DEFINE_integer("batch_size", 32, "examples per step")
    flags.DEFINE_float("learning_rate", 0.01, "step size")
    flags.DEFINE_boolean("use_fp16", True, "half precision")
    flags.DEFINE_boolean("fake", False, "fake data")
    flags.DEFINE_list("hidden", "4", "layer sizes")
    yield flags
    for name in list(flags.FLAGS):
        delattr(flags.FLAGS, name)


def test_app_run_parses_flags_and_exits_with_main_return_as_tf(app_flags):
    tf_values = TF_VALUES["app_flags"]
    seen = {}

    def main(argv):
        f = tf.app.flags.FLAGS
        seen.update(
            argv=list(argv),
            data_dir=f.data_dir,
            batch_size=f.batch_size,
            learning_rate=f.learning_rate,
            use_fp16=f.use_fp16,
            fake=f.fake,
            hidden=f.hidden,
        )
        return 3

    with pytest.raises(SystemExit) as exit_info:
        tf.app.run(main, argv=APP_ARGV)
    seen["exit_code"] = exit_info.value.code
    assert seen == tf_values


def test_app_flags_errors_name_the_flag(app_flags, monkeypatch):
    with pytest.raises(tf.app.flags.Error, match="Unknown command line flag 'batchsize'"):
        tf.app.run(lambda argv: 0, argv=["prog", "--batchsize=3"])
    with pytest.raises(tf.app.flags.Error, match="--batch_size=many: .*an integer is expected"):
        tf.app.run(lambda argv: 0, argv=["prog", "--batch_size=many"])
    with pytest.raises(tf.app.flags.Error, match="--data_dir is defined twice"):
        tf.app.flags.DEFINE_string("data_dir", "", "again")
    # A flag read before tf.app.run takes its value from sys.argv, ignoring unknown arguments.
    tf.app.flags.FLAGS.unparse_flags()
    monkeypatch.setattr("sys.argv", ["prog", "--other", "--batch_size=5"])
    assert tf.flags.FLAGS.batch_size == 5 and tf.flags.FLAGS.learning_rate == 0.01


def test_run_metadata_stays_empty_without_a_trace_level():
    x = tf.placeholder(tf.float32, [2])
    metadata = tf.RunMetadata()
    with tf.Session() as sess:
        out = sess.run(x * 2.0, {x: [1.0, 2.0]}, run_metadata=metadata)
    _close(out, [2.0, 4.0])
    assert metadata.step_stats.dev_stats == [] and not metadata.HasField("step_stats")


def test_a_traced_run_records_each_host_op_and_each_compiled_op():
    queue = tf.FIFOQueue(4, [tf.float32], shapes=[[2]])
    x = queue.dequeue()
    y = x * 2.0
    metadata = tf.RunMetadata()
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    with tf.Session() as sess:
        sess.run(queue.enqueue([[1.0, 2.0]]))
        before = time.time() * 1e6
        out = sess.run(y, options=options, run_metadata=metadata)
        after = time.time() * 1e6
    _close(out, [2.0, 4.0])
    assert metadata.HasField("step_stats")
    (device,) = metadata.step_stats.dev_stats
    assert device.device == "/job:localhost/replica:0/task:0/device:CPU:0"
    names = [node.node_name for node in device.node_stats]
    # The dequeue first, then the compiled ops that read it (tests/e2e/test_run_metadata.py).
    assert names == [x.op.name, y.op.inputs[1].op.name, y.op.name]
    for node in device.node_stats:
        assert before <= node.all_start_micros <= node.all_start_micros + node.all_end_rel_micros
        assert node.all_start_micros + node.all_end_rel_micros <= after


# ---- 7. a missing name says tgc does not support it --------------------------------------------


def test_a_missing_name_says_tgc_does_not_support_it_and_is_an_attribute_error():
    with pytest.raises(AttributeError, match=r"tgc does not support tf\.no_such_op yet"):
        tf.no_such_op
    with pytest.raises(AttributeError, match=r"tf\.SparseTensor yet: tgc has no sparse tensors"):
        tf.SparseTensor
    with pytest.raises(AttributeError, match=r"tgc does not support tf\.nn\.no_such_loss yet"):
        tf.nn.no_such_loss
    assert not hasattr(tf, "no_such_op") and getattr(tf.train, "no_such_thing", 7) == 7
    with pytest.raises(ImportError):
        from tgc import no_such_op  # noqa: F401


# ---- the determinant's gradient where the matrix is singular ------------------------------------


def _cofactor_matrix(a):
    """numpy float64: C[..., i, j] = (-1)^(i + j) det(a without row i and column j)."""
    n = a.shape[-1]
    out = np.empty(a.shape)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            out[..., i, j] = (-1.0) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


def test_the_determinants_gradient_is_finite_where_the_matrix_is_singular():
    """d det(a) / da is the cofactor matrix, also where a is singular: det(a) * inverse(a)^T
    (TF's rule, which raises "Input is not invertible" there) would be 0 * inf = NaN. A singular
    matrix (rank 2), a product of rank-deficient factors (rank 1: every cofactor 0), a batch and
    a 1 x 1 matrix, each against the cofactors in float64 and, for the singular one, central
    finite differences (det is a cubic: its second differences are exact to rounding)."""
    factor = np.array([[1.0], [-2.0], [0.5]])
    singular = tf.placeholder(tf.float64, [3, 3])
    left, right = tf.placeholder(tf.float64, [3, 1]), tf.placeholder(tf.float64, [1, 3])
    batch = tf.placeholder(tf.float32, [None, 2, 2])
    one = tf.placeholder(tf.float64, [1, 1])
    (d_singular,) = tf.gradients(tf.matrix_determinant(singular), [singular])
    d_left, d_right = tf.gradients(tf.matrix_determinant(tf.matmul(left, right)), [left, right])
    batch_weights = np.array([1.0, -2.0], np.float32)
    (d_batch,) = tf.gradients(tf.reduce_sum(tf.matrix_determinant(batch) * batch_weights), [batch])
    (d_one,) = tf.gradients(3.0 * tf.matrix_determinant(one), [one])
    singular_batch = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]], np.float32)
    with tf.Session() as sess:
        got = sess.run(
            [d_singular, d_left, d_right, d_batch, d_one],
            {
                singular: SINGULAR,
                left: factor,
                right: factor.T,
                batch: singular_batch,
                one: [[0.0]],
            },
        )
    _close(got[0], _cofactor_matrix(SINGULAR), rtol=1e-12, atol=1e-12)
    step = 1e-4
    for i, j in np.ndindex(3, 3):
        up, down = SINGULAR.copy(), SINGULAR.copy()
        up[i, j] += step
        down[i, j] -= step
        difference = (np.linalg.det(up) - np.linalg.det(down)) / (2 * step)
        assert abs(got[0][i, j] - difference) < 1e-6, (i, j)
    _close(got[1], np.zeros((3, 1)), atol=1e-12)  # rank 1: every 2 x 2 minor is 0
    _close(got[2], np.zeros((1, 3)), atol=1e-12)
    expected_batch = _cofactor_matrix(singular_batch.astype(np.float64)) * [[[1.0]], [[-2.0]]]
    _close(got[3], expected_batch, rtol=1e-6)
    _close(got[4], [[3.0]])


def _determinant_finite_differences(value, weights, step=1e-5):
    """Central differences of sum(weights * det(value)) in float64, one entry at a time."""
    out = np.zeros(value.shape)
    for index in np.ndindex(*value.shape):
        up, down = value.copy(), value.copy()
        up[index] += step
        down[index] -= step
        out[index] = np.sum(weights * (np.linalg.det(up) - np.linalg.det(down))) / (2 * step)
    return out


# static shape, fed shape: n known (<= 8: the cofactor rule) or unknown (det * inverse^T), one
# matrix or a batch of rank 3 or 4 with unknown dims, and n = 0 (det 1, an empty gradient).
@pytest.mark.parametrize(
    "static, fed",
    [
        ((3, 3), (3, 3)),
        ((None, None), (3, 3)),
        ((None, 3, 3), (2, 3, 3)),
        ((None, None, None), (2, 3, 3)),
        ((2, None, 3, 3), (2, 2, 3, 3)),
        ((None, None, None, None), (2, 1, 3, 3)),
        ((0, 0), (0, 0)),
        ((None, None), (0, 0)),
        ((None, 0, 0), (2, 0, 0)),
        ((None, None, 0, 0), (2, 3, 0, 0)),
        ((None, None, None, None), (2, 3, 0, 0)),
    ],
)
def test_the_determinants_gradient_matches_finite_differences(static, fed):
    """For a static n = 0 the cofactor rule gathered rows by an index array of shape [0] (not
    [0, -1]), one dim short of its transpose: "perm [2, 0, 1] is not a permutation of the 2 axes"
    (campaign seed 9055 on the CPU); now the gradient of a 0 x 0 matrix's det is empty."""
    rng = np.random.default_rng(sum(fed))
    value = np.eye(fed[-1]) + 0.4 * rng.standard_normal(fed)
    weights = rng.uniform(-2.0, 2.0, fed[:-2])
    x = tf.placeholder(tf.float64, static)
    determinant = tf.matrix_determinant(x)
    (gradient,) = tf.gradients(tf.reduce_sum(determinant * weights), [x])
    with tf.Session() as sess:
        det_v, grad_v = sess.run([determinant, gradient], {x: value})
    _close(det_v, np.linalg.det(value), rtol=1e-12, atol=1e-12)
    assert grad_v.shape == fed
    _close(grad_v, _determinant_finite_differences(value, weights), rtol=1e-7, atol=1e-8)


def test_the_determinants_gradient_of_an_empty_matrix_from_a_slice():
    """Campaign seed 9055, shrunk: a [0, 0] matrix (static) from a slice and a mean, its
    determinant 1.0 (the empty product, as TF 2.21) and the gradient back to the input 0."""
    from tgc.frontend.build import make_op

    x = tf.placeholder(tf.float32, [1, 1, 1, 1])
    empty = make_op("slice", [tf.log1p(x)], begin=[0, 0, 0, 0], size=[1, -1, 0, 0])
    matrix = tf.tanh(make_op("reduce_mean", [empty], axes=[0, 1], keepdims=False))
    assert matrix.shape.as_list() == [0, 0]
    determinant = tf.matrix_determinant(matrix)
    (gradient,) = tf.gradients(determinant * 1.1447438, [x])
    with tf.Session() as sess:
        det_v, grad_v = sess.run([determinant, gradient], {x: [[[[0.7648]]]]})
    _close(det_v, 1.0)
    _close(grad_v, np.zeros((1, 1, 1, 1)))
