"""The pure-Python pieces of issue 17's API items, without a Session: TF1's Dimension and
TensorShape rules, the absl-style flag parser of tf.app.flags, tf.compat's strings, tf.logging's
counters, and the error for names tgc lacks. (tests/e2e/test_tf1_api_items.py checks the same API
against TensorFlow's numbers.)"""

from __future__ import annotations

import types

import pytest

import tgc as tf
from tgc.frontend import app
from tgc.frontend.unsupported import UnsupportedError, install_unsupported_names


# ---- Dimension and TensorShape -------------------------------------------------------------------


def test_dimension_arithmetic_and_comparisons_follow_tf1():
    four, unknown = tf.Dimension(4), tf.Dimension(None)
    assert [(four * 2).value, (four - 1).value, (10 - four).value, (four % 3).value] == [8, 3, 6, 1]
    assert (four + unknown).value is None and (unknown * 0).value is None
    assert (four > 3, four <= 3, four > unknown) == (True, False, None)
    assert four == 4 and four == tf.Dimension(4) and unknown == None  # noqa: E711
    assert tf.dimension_value(four) == 4 and tf.dimension_value(None) is None
    with pytest.raises(ValueError, match="cannot convert an unknown Dimension to an int"):
        int(unknown)
    with pytest.raises(ValueError, match="Dimension -1 must be >= 0"):
        tf.Dimension(-1)
    with pytest.raises(ValueError, match="Dimensions 4 and 5 are not compatible"):
        four.merge_with(5)


def test_numpy_reads_a_dimension_as_its_value():
    import numpy as np

    assert np.asarray([tf.Dimension(4), 50]).tolist() == [4, 50]
    assert np.asarray([tf.Dimension(4), 50]).dtype.kind == "i"


def test_tensorshape_pieces_and_unknown_rank():
    shape = tf.TensorShape([tf.Dimension(2), None, 3])
    assert shape.as_list() == [2, None, 3] and shape.ndims == 3
    assert shape[1:].as_list() == [None, 3] and shape[0].value == 2
    assert shape.with_rank(3) is shape and tf.TensorShape(None).with_rank(2).as_list() == [
        None,
        None,
    ]
    assert (shape + [4]).as_list() == [2, None, 3, 4] and ([1] + shape).as_list() == [1, 2, None, 3]
    assert shape.is_compatible_with([2, 7, 3]) and not shape.is_compatible_with([2, 7])
    assert tf.TensorShape(shape) == shape and shape == [2, None, 3]
    unknown = tf.TensorShape(None)
    assert unknown.merge_with(shape) == shape and unknown.concatenate([1]).ndims is None
    with pytest.raises(ValueError, match="unknown rank"):
        len(unknown)
    with pytest.raises(ValueError, match="must have rank 2"):
        shape.with_rank(2)
    with pytest.raises(ValueError, match=r"Shape \(2, \?, 3\) is not fully defined"):
        shape.assert_is_fully_defined()


# ---- tf.app.flags --------------------------------------------------------------------------------


@pytest.fixture
def flags():
    values = app._FlagValues()
    define = {
        "string": app._definer(str, "string"),
        "integer": app._definer(int, "integer"),
        "bool": app._definer(app._parse_bool, "bool"),
        "list": app._definer(app._parse_list, "list"),
    }
    define["string"]("name", "x", "a name", flag_values=values)
    define["integer"]("steps", 10, "steps", flag_values=values)
    define["bool"]("verbose", False, "talk", flag_values=values)
    define["list"]("sizes", "1,2", "sizes", flag_values=values)
    app.DEFINE_enum("mode", "train", ["train", "eval"], "mode", flag_values=values)
    return values


def test_flags_parse_absl_style(flags):
    rest = flags(["prog", "a", "--steps", "3", "--verbose=false", "--mode=eval", "--", "--name=z"])
    assert rest == ["prog", "a", "--name=z"]  # after "--" every argument is positional
    assert (flags.steps, flags.verbose, flags.mode, flags.name) == (3, False, "eval", "x")
    assert flags.sizes == ["1", "2"]  # a string default is parsed as the flag parses a value
    flags(["prog", "--verbose", "--sizes="])
    assert flags.verbose is True and flags.sizes == []
    assert flags.flag_values_dict()["steps"] == 3 and "mode" in flags


def test_flags_refuse_bad_values_by_name(flags):
    with pytest.raises(app.IllegalFlagValueError, match=r"--mode=test: value should be one of"):
        flags(["prog", "--mode=test"])
    with pytest.raises(app.IllegalFlagValueError, match="flag --steps needs a value"):
        flags(["prog", "--steps"])
    with pytest.raises(app.IllegalFlagValueError, match=r"--verbose=maybe: .*a boolean"):
        flags(["prog", "--verbose=maybe"])
    with pytest.raises(app.UnrecognizedFlagError, match="Unknown command line flag 'nosteps'"):
        flags(["prog", "--nosteps"])  # --noX negates booleans only
    with pytest.raises(AttributeError, match="no flag --missing is defined"):
        flags.missing
    flags.steps = 7  # absl lets a program set a flag
    assert flags.steps == 7


# ---- tf.compat, tf.logging -----------------------------------------------------------------------


def test_compat_strings():
    assert tf.compat.as_bytes("é") == b"\xc3\xa9" and tf.compat.as_text(bytearray(b"a")) == "a"
    assert tf.compat.as_str_any(b"b") == "b" and tf.compat.as_str_any([1]) == "[1]"
    assert tf.compat.dimension_at_index(tf.TensorShape(None), 3).value is None
    with pytest.raises(TypeError, match="Expected binary or unicode string"):
        tf.compat.as_text(None)


def test_log_first_n_counts_per_calling_line(caplog):
    logger = tf.logging.get_logger()
    level = logger.level
    try:
        with caplog.at_level(tf.logging.INFO, logger="tgc"):
            tf.logging.set_verbosity(tf.logging.INFO)
            for i in range(4):
                tf.logging.log_first_n(tf.logging.INFO, "first %d", 2, i)
            tf.logging.log_if(tf.logging.INFO, "if %s", False, "no")
        assert [r.getMessage() for r in caplog.records] == ["first 0", "first 1"]
    finally:
        logger.setLevel(level)


# ---- names tgc lacks -----------------------------------------------------------------------------


def test_unsupported_names_keep_dunder_lookups_plain():
    module = types.ModuleType("fake")
    install_unsupported_names(module, "tf.fake")
    with pytest.raises(UnsupportedError, match=r"tgc does not support tf\.fake\.thing yet"):
        module.thing
    with pytest.raises(AttributeError) as info:
        module.__wrapped__
    assert type(info.value) is AttributeError  # Python's machinery asks for dunders freely
    assert issubclass(UnsupportedError, AttributeError)
