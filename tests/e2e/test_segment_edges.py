"""Segment ops on edge cases, against TensorFlow 2.21 (EDGE_VALUES, printed by
`/tmp/tfenv/bin/python tests/oracle/unsorted_segment_ids.py`, compat.v1 on the CPU; the programs
are that file's ``edges``, run here on tgc):

- data of no rows: unsorted_segment_sum and _mean gave "indices[0] = 0 is not in [0, 0)" (the
  [num_segments, ...] shape that gather_grad fills was a gather of row 0); TF gives zeros, and a
  sorted segment_sum of no ids an empty [0, 2];
- unsorted max and min start every segment at the dtype's lowest (largest) value in TF's kernel,
  so data of no rows, or a segment of -inf rows (max), gives that value; tgc gave -inf (inf).
"""

import importlib.util
from pathlib import Path

import pytest

import tgc

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "unsorted_segment_ids.py"
_spec = importlib.util.spec_from_file_location("unsorted_segment_ids", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

LOWEST32, LOWEST64 = -3.4028234663852886e38, -1.7976931348623157e308
EDGE_VALUES = {
    "grad_of_sum_of_no_rows_shape": [0, 2],
    "max_of_minus_inf": [[LOWEST32, 1.0], [LOWEST32, LOWEST32]],
    "max_of_no_rows_f64": [[LOWEST64, LOWEST64], [LOWEST64, LOWEST64]],
    "max_of_no_rows_i32": [[-2147483648, -2147483648], [-2147483648, -2147483648]],
    "mean_of_no_rows": [[0.0, 0.0], [0.0, 0.0]],
    "min_of_inf": [[-LOWEST64, 1.0], [-LOWEST64, -LOWEST64]],
    "min_of_no_rows_f32": [[-LOWEST32, -LOWEST32], [-LOWEST32, -LOWEST32]],
    "prod_of_no_rows": [[1.0, 1.0], [1.0, 1.0]],
    "sorted_sum_of_no_rows_shape": [0, 2],
    "sum_of_no_rows": [[0.0, 0.0], [0.0, 0.0]],
}


@pytest.fixture(scope="module")
def got():
    return oracle.edges(tgc)


@pytest.mark.parametrize("case", sorted(EDGE_VALUES))
def test_segment_edge_cases_are_tensorflows(got, case):
    assert got[case] == EDGE_VALUES[case]
