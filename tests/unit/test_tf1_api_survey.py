"""benchmarks/tf1_api_survey.py on a small folder of programs written here: which files count as
TF1 programs, which names they use (Python 2 sources and notebooks too), and which tgc lacks."""

import importlib.util
import json
import sys
from pathlib import Path

import tgc

SURVEY_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "tf1_api_survey.py"
spec = importlib.util.spec_from_file_location("tf1_api_survey", SURVEY_PATH)
survey = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = survey  # dataclasses look their module up there
spec.loader.exec_module(survey)

PY2_PROGRAM = """
import tensorflow as tf
from tensorflow.examples.tutorials.mnist import input_data
x = tf.placeholder(tf.float32)  # tf.not_a_name in a comment is skipped
cell = tf.contrib.rnn.BasicLSTMCell(4)
print "tf.in_a_string is skipped", tf.reduce_sum(x)
sess = tf.Session()
"""

NOTEBOOK_CELLS = [
    "%matplotlib inline\n",
    "import tensorflow.compat.v1 as v1\n",
    "y = v1.get_variable('y', [2])\n",
    "z = v1.nn.nce_loss\n",
]

TF2_PROGRAM = "import tensorflow as tf\nmodel = tf.keras.Sequential()\n"


def _folder(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "lesson.py").write_text(PY2_PROGRAM)
    cell = {"cell_type": "code", "source": NOTEBOOK_CELLS}
    (repo / "lesson.ipynb").write_text(json.dumps({"cells": [cell]}))
    (repo / "keras.py").write_text(TF2_PROGRAM)
    return repo


def test_names_of_a_python_2_program_skip_comments_and_strings():
    names = survey.names_of(PY2_PROGRAM)
    assert names == {
        "tf.examples.tutorials.mnist.input_data",
        "tf.placeholder",
        "tf.float32",
        "tf.contrib.rnn.BasicLSTMCell",
        "tf.reduce_sum",
        "tf.Session",
    }


def test_a_program_without_a_graph_is_not_a_tf1_program():
    assert survey.names_of(TF2_PROGRAM) is None
    assert survey.names_of("import numpy as np\n") is None


def test_missing_names_are_reported_by_their_shortest_missing_prefix(tmp_path):
    programs, missing = survey.survey([_folder(tmp_path)], tgc)
    assert sorted(p.path.name for p in programs) == ["lesson.ipynb", "lesson.py"]
    assert survey.missing_prefix("tf.placeholder", tgc) is None
    assert survey.missing_prefix("tf.float32.as_numpy_dtype", tgc) is None  # a value's attribute
    assert survey.missing_prefix("tf.no_such.thing", tgc) == "tf.no_such"
    text = survey.report(programs, missing, min_programs=1)
    every_name_there = 2 - len({p.path for users in missing.values() for p in users})
    assert f"Programs whose every tf name tgc has: {every_name_there} of 2." in text
    for name, users in missing.items():
        assert f"| `{name}` | {len(users)} | 1 | {survey.reason_of(name)} |" in text
