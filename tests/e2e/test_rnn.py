"""Recurrent networks (tgc/frontend/rnn_cell.py, tgc/frontend/rnn.py): TF1's cells, dynamic_rnn on
the compiled while loop, static and bidirectional RNNs, checked against TensorFlow 2.21's numbers
and variable names, finite differences and numpy.

``TF_VALUES`` are the output of

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/rnn_oracle.py

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled; its rnn_cell classes
are tf_keras 2.21's legacy cells). The oracle file holds the programs; this test runs the same ones
under tgc. Every variable is set to the same deterministic values on both sides (from its name), so
the names must match for the numbers to. float32 values are compared at atol 2e-6 (rounded to 7
decimals when printed; the same float32 operations on both sides, sums of up to 8 products may
round in another order).
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import rnn, rnn_cell

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "rnn_oracle.py"
_spec = importlib.util.spec_from_file_location("rnn_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

NN = types.SimpleNamespace(
    rnn_cell=rnn_cell,
    dynamic_rnn=rnn.dynamic_rnn,
    static_rnn=rnn.static_rnn,
    bidirectional_dynamic_rnn=rnn.bidirectional_dynamic_rnn,
    static_bidirectional_rnn=rnn.static_bidirectional_rnn,
)
R = rnn_cell

# Printed by tests/oracle/rnn_oracle.py under TensorFlow 2.21.0.
TF_VALUES = {
    "basic_lstm": {
        "c": [
            [-0.1648463, -0.0619739, 0.0712988, 0.2230039, 0.3642813],
            [-0.1747347, -0.0163092, 0.1282262, 0.2631368, 0.3894805],
        ],
        "h": [
            [-0.0496696, -0.0161141, 0.017526, 0.0572029, 0.1063883],
            [-0.0926286, -0.0077618, 0.0535964, 0.0968993, 0.1299673],
        ],
        "outputs": [
            [
                [-0.18098, -0.1524993, -0.1089209, -0.0614564, -0.0186685],
                [-0.2501737, -0.2728729, -0.2514404, -0.1956084, -0.1200938],
                [-0.126958, -0.1171749, -0.0906861, -0.0535285, -0.0120242],
                [-0.0496696, -0.0161141, 0.017526, 0.0572029, 0.1063883],
            ],
            [
                [0.0021506, 0.0264282, 0.0395198, 0.0546174, 0.0806],
                [-0.0926286, -0.0077618, 0.0535964, 0.0968993, 0.1299673],
                [0.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 0.0],
            ],
        ],
        "variables": [
            ("rnn/basic_lstm_cell/kernel:0", [8, 20]),
            ("rnn/basic_lstm_cell/bias:0", [20]),
        ],
    },
    "bidirectional": {
        "h_fw": [[-0.2077799, -0.1927069, -0.1510536], [-0.2396359, -0.2528717, -0.2377678]],
        "out_bw": [
            [
                [0.2872535, 0.1880545],
                [0.3149471, 0.294039],
                [0.1670607, 0.2790138],
                [0.0281459, 0.1486833],
            ],
            [[-0.0332728, 0.1468961], [0.0498729, 0.0725636], [0.0, 0.0], [0.0, 0.0]],
        ],
        "out_fw": [
            [
                [-0.1647217, -0.1475393, -0.1169551],
                [-0.237988, -0.2037972, -0.1464231],
                [-0.2291991, -0.1882979, -0.1236872],
                [-0.2077799, -0.1927069, -0.1510536],
            ],
            [
                [-0.1212501, -0.1323653, -0.1261264],
                [-0.2396359, -0.2528717, -0.2377678],
                [0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
            ],
        ],
        "s_bw": [[0.2872535, 0.1880545], [-0.0332728, 0.1468961]],
        "static_bw": [[-0.850147, -0.8323288], [0.1312984, -0.3603955]],
        "static_fw": [[-0.4760049, -0.5139858], [0.2218092, 0.058316]],
        "static_out": [
            [
                [0.3855726, 0.2557216, -0.850147, -0.8323288],
                [-0.9011692, -0.8939791, 0.1312984, -0.3603955],
            ],
            [
                [0.4820946, 0.3410197, -0.8385745, -0.7979035],
                [-0.0592162, 0.0996774, -0.6122178, -0.701502],
            ],
            [
                [-0.4760049, -0.5139858, -0.2909864, -0.463039],
                [0.5344769, 0.4291709, -0.8640187, -0.8266225],
            ],
            [[0.0, 0.0, 0.0, 0.0], [0.2218092, 0.058316, -0.6493604, -0.6162464]],
        ],
        "variables": [
            ("bidirectional_rnn/fw/basic_lstm_cell/kernel:0", [6, 12]),
            ("bidirectional_rnn/fw/basic_lstm_cell/bias:0", [12]),
            ("bidirectional_rnn/bw/gru_cell/gates/kernel:0", [5, 4]),
            ("bidirectional_rnn/bw/gru_cell/gates/bias:0", [4]),
            ("bidirectional_rnn/bw/gru_cell/candidate/kernel:0", [5, 2]),
            ("bidirectional_rnn/bw/gru_cell/candidate/bias:0", [2]),
            ("static_bi/fw/basic_rnn_cell/kernel:0", [5, 2]),
            ("static_bi/fw/basic_rnn_cell/bias:0", [2]),
            ("static_bi/bw/basic_rnn_cell/kernel:0", [5, 2]),
            ("static_bi/bw/basic_rnn_cell/bias:0", [2]),
        ],
    },
    "bidirectional_any_length": {
        "c_bw": [[-0.2115915, -0.3979311, -0.5032436], [-0.0299145, -0.2066386, -0.3313586]],
        "h_bw": [[-0.0789193, -0.1567381, -0.2151042], [-0.013822, -0.0970624, -0.1578959]],
        "out_bw": [
            [[-0.0789193, -0.1567381, -0.2151042], [-0.013822, -0.0970624, -0.1578959]],
            [[-0.1537613, -0.2175279, -0.2549794], [-0.0133872, -0.0954062, -0.1584357]],
            [[-0.1682317, -0.2036966, -0.2128321], [-0.0705375, -0.1434059, -0.1940588]],
            [[-0.0855276, -0.0994042, -0.0995924], [-0.1037181, -0.1458246, -0.162482]],
        ],
        "out_fw": [
            [[-0.1495301, -0.2173928], [0.2247967, 0.2524934]],
            [[-0.2161464, -0.3936967], [0.2015968, 0.2281119]],
            [[0.1267788, -0.022561], [-0.1135158, -0.1781081]],
            [[0.3283974, 0.267513], [-0.0761401, -0.2587097]],
        ],
        "s_fw": [[0.3283974, 0.267513], [-0.0761401, -0.2587097]],
        "variables": [
            ("bidirectional_rnn/fw/gru_cell/gates/kernel:0", [5, 4]),
            ("bidirectional_rnn/fw/gru_cell/gates/bias:0", [4]),
            ("bidirectional_rnn/fw/gru_cell/candidate/kernel:0", [5, 2]),
            ("bidirectional_rnn/fw/gru_cell/candidate/bias:0", [2]),
            ("bidirectional_rnn/bw/basic_lstm_cell/kernel:0", [6, 12]),
            ("bidirectional_rnn/bw/basic_lstm_cell/bias:0", [12]),
        ],
    },
    "custom_cell": {
        "outputs": [
            [
                [0.1552828, 0.3086142],
                [-0.2708051, -0.0639111],
                [-0.4714148, -0.3266602],
                [-0.2758192, -0.276743],
            ],
            [
                [0.2714657, 0.0987634],
                [0.4808636, 0.3602612],
                [0.1550947, 0.2067949],
                [-0.3076971, -0.1828227],
            ],
        ],
        "state": [[-0.2758192, -0.276743], [-0.3076971, -0.1828227]],
        "variables": [("rnn/my_gated_cell/w:0", [5, 4])],
    },
    "gradients_and_sgd": {
        "g_bias": [
            -0.2029489,
            -0.2675439,
            -0.0860604,
            0.7647931,
            1.4422891,
            1.2512548,
            -0.1295464,
            -0.1065367,
            -0.0292897,
            0.1859849,
            0.0563231,
            0.0411244,
        ],
        "g_kernel": [
            [
                -0.0475273,
                -0.0217626,
                0.0428018,
                0.0519038,
                0.2807923,
                0.0856437,
                -0.0223031,
                -0.0335521,
                -0.0258512,
                0.0264873,
                0.0072459,
                0.0034936,
            ],
            [
                -0.052929,
                -0.0575806,
                0.0217944,
                -0.0530601,
                0.1787291,
                -0.0095944,
                -0.0157616,
                -0.0315498,
                -0.0347386,
                0.0451412,
                0.021272,
                0.0158924,
            ],
            [
                -0.051167,
                -0.0856054,
                -0.0021627,
                -0.1508425,
                0.0524756,
                -0.103534,
                -0.0070869,
                -0.0252775,
                -0.0389242,
                0.0576855,
                0.032419,
                0.0261403,
            ],
            [
                0.0385169,
                0.0323645,
                0.0107978,
                -0.1349791,
                -0.2046531,
                -0.2012943,
                0.0246367,
                0.0195513,
                0.0066316,
                -0.0292731,
                -0.0111067,
                -0.0060367,
            ],
            [
                0.0287001,
                0.0245934,
                0.0085807,
                -0.0862941,
                -0.1337813,
                -0.1339301,
                0.0174537,
                0.0143337,
                0.0061781,
                -0.0227222,
                -0.009558,
                -0.0053991,
            ],
            [
                0.0147512,
                0.0134038,
                0.0052449,
                -0.0230852,
                -0.0409921,
                -0.0449491,
                0.0076101,
                0.0070165,
                0.0050082,
                -0.0130561,
                -0.0068149,
                -0.0041313,
            ],
        ],
        "g_x": [
            [
                [0.0493573, 0.055244, -0.0790822],
                [0.1631519, 0.0664724, -0.1989184],
                [0.3226936, 0.0896566, -0.3709348],
                [0.3711598, 0.1805324, -0.4682981],
            ],
            [
                [0.018763, 0.0531343, -0.0473528],
                [0.0166652, 0.0929764, -0.0666926],
                [0.1317893, 0.1414612, -0.2079048],
                [0.0, 0.0, 0.0],
            ],
        ],
        "kernel_after": [
            [
                0.3321201,
                0.4820563,
                0.4730081,
                0.4438817,
                0.3037259,
                0.2144274,
                0.1709169,
                -0.0176101,
                -0.196689,
                -0.4315959,
                -0.5437075,
                -0.540998,
            ],
            [
                -0.4478111,
                -0.3131666,
                -0.2533163,
                -0.0024925,
                0.0938222,
                0.2707486,
                0.4078984,
                0.4626411,
                0.4850838,
                0.3435626,
                0.2370322,
                0.1186691,
            ],
            [
                -0.0296686,
                -0.1453064,
                -0.3660373,
                -0.2889983,
                -0.4106278,
                -0.394655,
                -0.4059173,
                -0.2910756,
                -0.0873732,
                0.0272894,
                0.2258289,
                0.3903272,
            ],
            [
                0.3557443,
                0.3376646,
                0.3023289,
                0.5101978,
                0.3565882,
                0.1964582,
                -0.2902099,
                -0.4483366,
                -0.5246392,
                -0.354215,
                -0.3246189,
                -0.2719186,
            ],
            [
                -0.3803648,
                -0.234313,
                -0.0258731,
                0.4861138,
                0.6077508,
                0.7053337,
                0.4051771,
                0.3311926,
                0.2369164,
                0.3108574,
                0.1341136,
                -0.0893558,
            ],
            [
                -0.4849569,
                -0.611334,
                -0.629962,
                -0.3291569,
                -0.2541881,
                -0.084269,
                -0.1299487,
                0.0434628,
                0.2292388,
                0.5571486,
                0.6338217,
                0.6000506,
            ],
        ],
        "losses": [-1.14266, -2.5993752, -3.8326614],
        "variables": [
            ("rnn/basic_lstm_cell/kernel:0", [6, 12]),
            ("rnn/basic_lstm_cell/bias:0", [12]),
        ],
    },
    "lstm_full": {
        "c": [[0.3208319, 0.3709012, 0.255978, 0.0882637], [0.6, 0.4712941, 0.0603861, -0.3980862]],
        "h": [[-0.1219993, -0.0734449, -0.0149501], [-0.232141, -0.1942065, -0.129987]],
        "outputs": [
            [[-0.0433393, 0.0026909, 0.0483569], [-0.0584729, -0.039841, -0.0158167]],
            [[-0.1877526, -0.1402061, -0.0736832], [-0.047226, -0.0090524, 0.0303465]],
            [[-0.1876765, -0.141036, -0.0753069], [-0.1644649, -0.1202526, -0.0597647]],
            [[-0.1219993, -0.0734449, -0.0149501], [-0.232141, -0.1942065, -0.129987]],
        ],
        "variables": [
            ("rnn/lstm_cell/kernel:0", [6, 16]),
            ("rnn/lstm_cell/bias:0", [16]),
            ("rnn/lstm_cell/w_f_diag:0", [4]),
            ("rnn/lstm_cell/w_i_diag:0", [4]),
            ("rnn/lstm_cell/w_o_diag:0", [4]),
            ("rnn/lstm_cell/projection/kernel:0", [4, 3]),
        ],
    },
    "multi_gru_rnn": {
        "gru": [
            [-0.1714024, -0.1888811, -0.1795996, -0.1520235],
            [-0.1362772, -0.2512217, -0.3256885, -0.3516834],
        ],
        "outputs": [
            [
                [0.1858823, -0.0589613, -0.2896085],
                [0.3322599, 0.0836077, -0.18688],
                [0.4452633, 0.183602, -0.1317257],
                [0.0, 0.0, 0.0],
            ],
            [
                [0.4405978, 0.176827, -0.1388459],
                [0.5360985, 0.1680488, -0.2750423],
                [0.489433, 0.1058765, -0.3249294],
                [0.4660457, 0.1415423, -0.2348301],
            ],
        ],
        "rnn": [[0.4452633, 0.183602, -0.1317257], [0.4660457, 0.1415423, -0.2348301]],
        "variables": [
            ("rnn/multi_rnn_cell/cell_0/gru_cell/gates/kernel:0", [7, 8]),
            ("rnn/multi_rnn_cell/cell_0/gru_cell/gates/bias:0", [8]),
            ("rnn/multi_rnn_cell/cell_0/gru_cell/candidate/kernel:0", [7, 4]),
            ("rnn/multi_rnn_cell/cell_0/gru_cell/candidate/bias:0", [4]),
            ("rnn/multi_rnn_cell/cell_1/basic_rnn_cell/kernel:0", [7, 3]),
            ("rnn/multi_rnn_cell/cell_1/basic_rnn_cell/bias:0", [3]),
        ],
    },
    "options": {
        "out_gru": [
            [[0.166785, 0.1589223], [0.2526293, 0.237644], [0.0, 0.0], [0.0, 0.0]],
            [
                [0.2502326, 0.2898264],
                [0.362082, 0.3951304],
                [0.3416551, 0.3550181],
                [0.366762, 0.3575961],
            ],
        ],
        "out_lstm": [
            [
                [0.1288336, 0.152662],
                [0.1470093, 0.1837215],
                [0.097429, 0.1371299],
                [0.0671264, 0.1075185],
            ],
            [
                [0.0598712, 0.0708682],
                [0.1550733, 0.1824541],
                [0.19052, 0.2302529],
                [0.1482497, 0.1910394],
            ],
        ],
        "out_relu": [
            [
                [0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
                [0.5382288, 0.3439828, 0.1031804],
                [1.5855587, 1.5511411, 1.3067842],
            ],
            [
                [1.1544049, 1.1795365, 1.0450233],
                [1.3384879, 1.3661309, 1.2088745],
                [0.8632777, 0.7782476, 0.5878854],
                [0.6313144, 0.4723836, 0.2495179],
            ],
        ],
        "state_gru": [[0.2526293, 0.237644], [0.366762, 0.3575961]],
        "state_lstm": [
            [0.4947652, 0.2464792, -0.0346056, 0.0671264, 0.1075185],
            [0.7113094, 0.5161074, 0.2359308, 0.1482497, 0.1910394],
        ],
        "variables": [
            ("flat_lstm/lstm_cell/kernel:0", [5, 12]),
            ("flat_lstm/lstm_cell/bias:0", [12]),
            ("flat_lstm/lstm_cell/w_f_diag:0", [3]),
            ("flat_lstm/lstm_cell/w_i_diag:0", [3]),
            ("flat_lstm/lstm_cell/w_o_diag:0", [3]),
            ("flat_lstm/lstm_cell/projection/kernel:0", [3, 2]),
            ("relu/basic_rnn_cell/kernel:0", [6, 3]),
            ("relu/basic_rnn_cell/bias:0", [3]),
            ("rnn/gru_cell/gates/kernel:0", [5, 4]),
            ("rnn/gru_cell/gates/bias:0", [4]),
            ("rnn/gru_cell/candidate/kernel:0", [5, 2]),
            ("rnn/gru_cell/candidate/bias:0", [2]),
        ],
    },
    "scopes_and_reuse": {
        "out_a": [
            [
                [-0.1495301, -0.2173928],
                [-0.2161464, -0.3936967],
                [0.1267788, -0.022561],
                [0.3283974, 0.267513],
            ],
            [
                [0.2247967, 0.2524934],
                [0.2015968, 0.2281119],
                [-0.1135158, -0.1781081],
                [-0.0761401, -0.2587097],
            ],
        ],
        "out_b": [
            [
                [-0.1495301, -0.2173928],
                [-0.2161464, -0.3936967],
                [0.1267788, -0.022561],
                [0.3283974, 0.267513],
            ],
            [
                [0.2247967, 0.2524934],
                [0.2015968, 0.2281119],
                [-0.1135158, -0.1781081],
                [-0.0761401, -0.2587097],
            ],
        ],
        "variables": [
            ("basic_lstm_cell/kernel:0", [5, 8]),
            ("basic_lstm_cell/bias:0", [8]),
            ("basic_lstm_cell_1/kernel:0", [5, 8]),
            ("basic_lstm_cell_1/bias:0", [8]),
            ("zz/kernel:0", [5, 2]),
            ("zz/bias:0", [2]),
            ("model/rnn/gru_cell/gates/kernel:0", [5, 4]),
            ("model/rnn/gru_cell/gates/bias:0", [4]),
            ("model/rnn/gru_cell/candidate/kernel:0", [5, 2]),
            ("model/rnn/gru_cell/candidate/bias:0", [2]),
        ],
        "y1": [[-0.0198997, -0.0607028], [0.1149531, 0.0739351]],
        "y2": [[-0.0292058, 0.0018673], [-0.1127231, -0.1043575]],
        "y3": [[-0.5620347, -0.5557926], [0.8342074, 0.7283404]],
    },
    "state_across_runs": {
        "full_c": [[-0.3242132, -0.1933355, -0.020468], [-0.4805019, -0.3437845, -0.149737]],
        "full_outputs": [
            [
                [-0.1299377, -0.0917375, -0.0401819],
                [-0.1730527, -0.1002106, -0.0083229],
                [-0.1571682, -0.0738351, 0.0262178],
                [-0.1784034, -0.1105956, -0.0118355],
            ],
            [
                [-0.1303246, -0.1149156, -0.086839],
                [-0.2487742, -0.2162974, -0.1565051],
                [-0.3048156, -0.2494849, -0.1535385],
                [-0.2838975, -0.2057076, -0.0879182],
            ],
        ],
        "split_c": [[-0.3242132, -0.1933355, -0.020468], [-0.4805019, -0.3437845, -0.149737]],
        "split_h": [[-0.1784034, -0.1105956, -0.0118355], [-0.2838975, -0.2057076, -0.0879182]],
        "split_outputs": [
            [
                [-0.1299377, -0.0917375, -0.0401819],
                [-0.1730527, -0.1002106, -0.0083229],
                [-0.1571682, -0.0738351, 0.0262178],
                [-0.1784034, -0.1105956, -0.0118355],
            ],
            [
                [-0.1303246, -0.1149156, -0.086839],
                [-0.2487742, -0.2162974, -0.1565051],
                [-0.3048156, -0.2494849, -0.1535385],
                [-0.2838975, -0.2057076, -0.0879182],
            ],
        ],
        "variables": [
            ("rnn/basic_lstm_cell/kernel:0", [6, 12]),
            ("rnn/basic_lstm_cell/bias:0", [12]),
        ],
    },
    "static_lstm": {
        "c": [[-0.270908, -0.1281964, 0.0474343], [-0.2220048, -0.1852597, -0.1363018]],
        "h": [[-0.1571682, -0.0738351, 0.0262178], [-0.1303246, -0.1149156, -0.086839]],
        "outputs": [
            [[-0.1299377, -0.0917375, -0.0401819], [-0.1303246, -0.1149156, -0.086839]],
            [[-0.1730527, -0.1002106, -0.0083229], [0.0, 0.0, 0.0]],
            [[-0.1571682, -0.0738351, 0.0262178], [0.0, 0.0, 0.0]],
            [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        ],
        "variables": [
            ("rnn/basic_lstm_cell/kernel:0", [6, 12]),
            ("rnn/basic_lstm_cell/bias:0", [12]),
        ],
    },
    "version": "2.21.0",
    "wrappers": {
        "h_drop": [[-0.1691676, -0.1388354], [-0.1198827, -0.0572022]],
        "out_drop": [
            [
                [-0.0292058, 0.0018673],
                [-0.0307311, 0.0191458],
                [-0.097855, -0.0481455],
                [-0.1691676, -0.1388354],
            ],
            [
                [-0.1127231, -0.1043575],
                [-0.1590888, -0.1292368],
                [-0.1303666, -0.0730984],
                [-0.1198827, -0.0572022],
            ],
        ],
        "out_flat": [
            [
                [0.1155443, 0.1286629, 0.1261933],
                [0.2039056, 0.1948074, 0.1733839],
                [0.2343048, 0.2134363, 0.1791281],
                [0.2697633, 0.241412, 0.18564],
            ],
            [
                [0.0522481, 0.0613391, 0.0624202],
                [0.1270089, 0.1522422, 0.1555266],
                [0.213574, 0.2200279, 0.2041848],
                [0.2447201, 0.2284179, 0.2029435],
            ],
        ],
        "out_res": [
            [
                [0.4348279, 0.6926756, 0.8512605],
                [0.9747616, 0.793236, 0.4953005],
                [0.6345804, 0.2204796, -0.2233233],
                [-0.1631663, -0.3919989, -0.5288349],
            ],
            [
                [-0.7348483, -0.5404162, -0.2494398],
                [0.0198401, 0.4516092, 0.8403902],
                [0.9371166, 1.1099356, 1.1296597],
                [1.1355028, 0.859139, 0.4508463],
            ],
        ],
        "state_flat": [
            [0.8364197, 0.7418396, 0.5226645, 0.2697633, 0.241412, 0.18564],
            [0.8078407, 0.8742108, 0.7967192, 0.2447201, 0.2284179, 0.2029435],
        ],
        "state_res": [[0.4721417, 0.4795768, 0.4610449], [0.2207976, 0.1524709, 0.0478595]],
        "variables": [
            ("flat/basic_lstm_cell/kernel:0", [6, 12]),
            ("flat/basic_lstm_cell/bias:0", [12]),
            ("res/gru_cell/gates/kernel:0", [6, 6]),
            ("res/gru_cell/gates/bias:0", [6]),
            ("res/gru_cell/candidate/kernel:0", [6, 3]),
            ("res/gru_cell/candidate/bias:0", [3]),
            ("drop/basic_lstm_cell/kernel:0", [5, 8]),
            ("drop/basic_lstm_cell/bias:0", [8]),
        ],
    },
}


def _assert_close(got, expected, path):
    if isinstance(expected, dict):
        for key, value in expected.items():
            _assert_close(got[key], value, f"{path}/{key}")
    elif path.endswith("/variables"):
        assert [(n, list(s)) for n, s in got] == [(n, list(s)) for n, s in expected], path
    else:
        np.testing.assert_allclose(
            np.asarray(oracle._as_lists(got), np.float64), expected, rtol=0, atol=2e-6, err_msg=path
        )


def test_oracle_version():
    assert TF_VALUES["version"] == "2.21.0"


@pytest.mark.parametrize("name", sorted(oracle.PROGRAMS))
def test_program_gives_tensorflows_numbers_and_variable_names(name):
    values = oracle.evaluate(tf, NN, oracle.PROGRAMS[name])
    _assert_close(values, TF_VALUES[name], name)


# ---- beyond the oracle: finite differences, structure, shapes, errors --------------------------


def _lstm_loss_graph(dtype):
    x = tf.placeholder(dtype, [2, 4, 3])
    cell = R.BasicLSTMCell(3, forget_bias=0.3)
    outputs, state = rnn.dynamic_rnn(cell, x, sequence_length=[4, 2], dtype=dtype)
    loss = tf.reduce_sum(outputs * outputs * 0.5) + tf.reduce_sum(tf.sin(state.c))
    return x, cell, loss


def test_gradient_through_dynamic_rnn_matches_finite_differences():
    """float64, so central differences with eps 1e-5 are good to ~1e-9; the gradient to the inputs
    and to the kernel (set through a fed assign) agree with them at 1e-7."""
    x, cell, loss = _lstm_loss_graph(tf.float64)
    kernel, bias = cell.variables
    g_x, g_kernel, g_bias = tf.gradients(loss, [x, kernel, bias])
    new_kernel = tf.placeholder(tf.float64, kernel.shape)
    set_kernel = tf.assign(kernel, new_kernel)
    x0 = oracle.det((2, 4, 3), 0.5).astype(np.float64) * 2.0
    k0 = oracle.det((6, 12), 1.7).astype(np.float64)
    eps = 1e-5
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(set_kernel, {new_kernel: k0})
        got_x, got_k, got_b = sess.run([g_x, g_kernel, g_bias], {x: x0})

        def loss_at(xv, kv):
            sess.run(set_kernel, {new_kernel: kv})
            return sess.run(loss, {x: xv})

        for index in [(0, 0, 0), (0, 3, 2), (1, 1, 1), (1, 3, 0)]:
            d = np.zeros_like(x0)
            d[index] = eps
            fd = (loss_at(x0 + d, k0) - loss_at(x0 - d, k0)) / (2 * eps)
            assert got_x[index] == pytest.approx(fd, abs=1e-7), index
        for index in [(0, 0), (2, 5), (4, 8), (5, 11)]:
            d = np.zeros_like(k0)
            d[index] = eps
            fd = (loss_at(x0, k0 + d) - loss_at(x0, k0 - d)) / (2 * eps)
            assert got_k[index] == pytest.approx(fd, abs=1e-7), index
    # the second sequence stops at step 2: its inputs past the length get no gradient
    np.testing.assert_array_equal(got_x[1, 2:], 0.0)
    assert got_b.shape == (12,) and np.abs(got_b).sum() > 0


def test_dynamic_rnn_is_one_compiled_loop_whatever_the_length():
    """The cell is traced once into a While's body: the graph has one While and one kernel matmul
    outside the gradient, for 4 steps or an unknown number of steps; shapes are TF's."""
    for steps in (4, None):
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [2, steps, 3])
        outputs, state = rnn.dynamic_rnn(R.BasicLSTMCell(5), x, dtype=tf.float32)
        ops = tf.get_default_graph().get_operations()
        assert [op.type for op in ops].count("While") == 1
        assert outputs.shape.as_list() == [2, steps, 5]
        assert state.c.shape.as_list() == [2, 5] and state.h.shape.as_list() == [2, 5]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for n in (1, 3, 7):  # one compiled function serves every length
            out = sess.run(outputs, {x: np.ones((2, n, 3), np.float32)})
            assert out.shape == (2, n, 5)


def test_unknown_batch_and_zero_state_of_a_runtime_batch_size():
    x = tf.placeholder(tf.float32, [None, 4, 3])
    cell = R.GRUCell(2)
    outputs, state = rnn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert outputs.shape.as_list() == [None, 4, 2] and state.shape.as_list() == [None, 2]
    n = tf.placeholder(tf.int32, [])
    zeros = R.MultiRNNCell([R.BasicLSTMCell(3), R.GRUCell(2)]).zero_state(n, tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(outputs, {x: np.ones((5, 4, 3), np.float32)}).shape == (5, 4, 2)
        (c, h), g = sess.run(zeros, {n: 3})
    assert c.shape == (3, 3) and h.shape == (3, 3) and g.shape == (3, 2)
    assert not c.any() and not h.any() and not g.any()


def test_state_and_output_sizes_are_tfs():
    assert R.LSTMCell(3, num_proj=2).state_size == R.LSTMStateTuple(c=3, h=2)
    assert R.LSTMCell(3, num_proj=2).output_size == 2
    multi = R.MultiRNNCell([R.GRUCell(2), R.BasicLSTMCell(3)])
    assert multi.state_size == (2, R.LSTMStateTuple(c=3, h=3)) and multi.output_size == 3
    assert R.BasicLSTMCell(4, state_is_tuple=False).state_size == 8
    flat = R.MultiRNNCell([R.GRUCell(2), R.BasicRNNCell(3)], state_is_tuple=False)
    assert flat.state_size == 5
    assert R.DropoutWrapper(R.GRUCell(2)).state_size == 2


def test_dropout_wrapper_drops_outputs_and_keeps_lstm_memory():
    """output_keep_prob=0.5: each output is 0 or twice the undropped one; state_keep_prob drops
    the LSTM's h but leaves c (TF's default state filter)."""
    x = tf.placeholder(tf.float32, [64, 3, 3])
    base = R.BasicLSTMCell(4)
    plain, plain_state = rnn.dynamic_rnn(base, x, dtype=tf.float32, scope="net")
    dropped = R.DropoutWrapper(base, output_keep_prob=0.5, seed=3)
    noisy, _ = rnn.dynamic_rnn(dropped, x, dtype=tf.float32, scope="net")
    step = R.DropoutWrapper(base, state_keep_prob=0.5, seed=5)
    state0 = R.LSTMStateTuple(tf.ones([64, 4]), tf.ones([64, 4]))
    with tf.variable_scope("net", reuse=True):
        _, (c1, h1) = step(x[:, 0], state0)
    _, (c_ref, h_ref) = base(x[:, 0], state0)
    xs = np.random.default_rng(0).standard_normal((64, 3, 3)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        y, z, c1v, h1v, cr, hr = sess.run([plain, noisy, c1, h1, c_ref, h_ref], {x: xs})
    kept = z != 0
    np.testing.assert_allclose(z[kept], 2 * y[kept], rtol=1e-6)
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(c1v, cr, rtol=1e-6)
    kept_h = h1v != 0
    np.testing.assert_allclose(h1v[kept_h], 2 * hr[kept_h], rtol=1e-6)
    assert 0.35 < kept_h.mean() < 0.65


def test_errors_are_tfs():
    x = tf.placeholder(tf.float32, [2, 4, 3])
    with pytest.raises(ValueError, match="If there is no initial_state, you must give a dtype."):
        rnn.dynamic_rnn(R.GRUCell(2), x)
    with pytest.raises(ValueError, match="must have rank at least 3"):
        rnn.dynamic_rnn(R.GRUCell(2), tf.placeholder(tf.float32, [2, 3]), dtype=tf.float32)
    with pytest.raises(ValueError, match=r"expected inputs.shape\[-1\] to be known"):
        rnn.dynamic_rnn(R.GRUCell(2), tf.placeholder(tf.float32, [2, 4, None]), dtype=tf.float32)
    with tf.variable_scope("a"):
        rnn.dynamic_rnn(R.GRUCell(2), x, dtype=tf.float32)
        with pytest.raises(ValueError, match="Variable a/rnn/gru_cell/gates/kernel already exists"):
            rnn.dynamic_rnn(R.GRUCell(2), x, dtype=tf.float32)
    with pytest.raises(ValueError, match="Must specify at least one cell for MultiRNNCell"):
        R.MultiRNNCell([])
    with pytest.raises(ValueError, match="Parameter output_keep_prob must be between 0 and 1"):
        R.DropoutWrapper(R.GRUCell(2), output_keep_prob=1.5)


def test_exported_as_tf_nn_and_tf_contrib_rnn():
    assert tf.nn.dynamic_rnn is rnn.dynamic_rnn and tf.nn.rnn_cell.BasicLSTMCell is R.BasicLSTMCell
    assert tf.contrib.rnn.LSTMStateTuple is R.LSTMStateTuple
    assert tf.contrib.rnn.static_rnn is rnn.static_rnn


def test_static_rnn_runs_as_one_loop_and_unrolls_only_unlike_steps():
    """A list of like steps is stacked into one While (TF's numbers: the static_lstm program);
    a list whose steps differ in static shape is unrolled, one cell call per step, with the same
    numbers."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    steps = tf.unstack(x, axis=1)
    cell = R.BasicLSTMCell(3)
    looped, looped_state = rnn.static_rnn(cell, steps, dtype=tf.float32, sequence_length=[3, 1])
    assert [op.type for op in tf.get_default_graph().get_operations()].count("While") == 1
    assert len(looped) == 4 and all(o.shape.as_list() == [2, 3] for o in looped)
    first = tf.placeholder(tf.float32, [None, 3])  # fed the first step: unlike the others
    unlike = [first] + steps[1:]
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):  # the same variables
        unrolled, unrolled_state = rnn.static_rnn(
            R.BasicLSTMCell(3), unlike, dtype=tf.float32, sequence_length=[3, 1]
        )
    assert [op.type for op in tf.get_default_graph().get_operations()].count("While") == 1
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: oracle.X, first: oracle.X[:, 0]}
        a, b = sess.run([[looped, looped_state], [unrolled, unrolled_state]], feed)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(a[0][3], 0.0)  # past both lengths


def test_dropout_wrapper_state_filter_goes_into_stacked_lstm_states():
    """DropoutWrapper(MultiRNNCell([LSTM, LSTM]), state_keep_prob): TF's default filter goes into
    the stack's tuple and keeps each LSTM's c, dropping the h's."""
    x = tf.placeholder(tf.float32, [64, 3])
    stack = R.MultiRNNCell([R.BasicLSTMCell(4), R.BasicLSTMCell(4)])
    state0 = stack.zero_state(64, tf.float32)
    _, plain = stack(x, state0)
    _, dropped = R.DropoutWrapper(stack, state_keep_prob=0.5, seed=7)(x, state0)
    xs = np.random.default_rng(1).standard_normal((64, 3)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        plain_v, dropped_v = sess.run([plain, dropped], {x: xs})
    for (c, h), (dc, dh) in zip(plain_v, dropped_v):
        np.testing.assert_allclose(dc, c, rtol=1e-6)
        kept = dh != 0
        np.testing.assert_allclose(dh[kept], 2 * h[kept], rtol=1e-6)
        assert 0.3 < kept.mean() < 0.7
