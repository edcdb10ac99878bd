"""tgc: TensorFlow-1-style dataflow graphs compiled through MLIR.

``import tgc as tf`` gives the TF1 graph API: placeholders, Variables, ops, name and device scopes,
Session.run, gradients and optimizers. ``tgc.jit`` compiles plain Python functions of arrays.
This module only re-exports; the work happens in tgc/frontend and below.
"""

from tgc import errors  # noqa: F401
from tgc._version import __version__  # noqa: F401
from tgc.dialect.types import (  # noqa: F401
    DType,
    as_dtype,
    bfloat16,
    bool_ as bool,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from tgc.frontend.build import constant, convert_to_tensor, placeholder, placeholder_with_default  # noqa: F401
from tgc.frontend.config import ConfigProto, GPUOptions, GraphOptions, OptimizerOptions  # noqa: F401
from tgc.frontend.control import (  # noqa: F401
    case,
    control_dependencies,
    group,
    no_op,
    switch_case,
    tuple_ as tuple,
    while_loop,
)
from tgc.frontend.functional_ops import foldl, foldr, map_fn, scan  # noqa: F401
from tgc.frontend.gradients import gradients  # noqa: F401
from tgc.graph.graph import (  # noqa: F401
    Dimension,
    Graph,
    Operation,
    Tensor,
    TensorShape,
    get_default_graph,
    reset_default_graph,
)
from tgc.frontend.math_ops import *  # noqa: F401,F403
from tgc.frontend.math_ops import abs, cast, pow, identity, stop_gradient, where  # noqa: F401
from tgc.frontend.session import InteractiveSession, Session  # noqa: F401
from tgc.graph.default_session import get_default_session  # noqa: F401
from tgc.frontend.variables import (  # noqa: F401
    AUTO_REUSE,
    Variable,
    VariableScope,
    assign,
    assign_add,
    assign_sub,
    get_variable,
    get_variable_scope,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    local_variables,
    local_variables_initializer,
    trainable_variables,
    variable_scope,
    variables_initializer,
)

float = float32  # noqa: A001  (TF1 spells tf.float for float32 in old code)
double = float64
all_variables = global_variables  # TF 0.x names, as tf.mul and tf.select above


def name_scope(name, default_name=None, values=None):
    return get_default_graph().name_scope(name if name is not None else default_name)


def device(device_name_or_function):
    return get_default_graph().device(device_name_or_function)


def set_random_seed(seed):
    get_default_graph().seed = seed


def get_collection(key, scope=None):
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):
    return get_default_graph().get_collection_ref(key)


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


from tgc.frontend.jit import grad, jit, value_and_grad  # noqa: E402,F401
from tgc.frontend.export import export_graph  # noqa: E402,F401
from tgc.frontend import nn, train  # noqa: E402,F401
from tgc import initializers, random, summary  # noqa: E402,F401

# TF1's old name for summary.FileWriter. Set here: tgc.summary is built on the frontend, so
# tgc.frontend.train cannot import it.
train.SummaryWriter = summary.SummaryWriter
# tf.test.create_local_cluster (tgc/frontend/cluster.py: clusters run on Ray).
from tgc.frontend import testing as test  # noqa: E402,F401
from tgc.summary import (  # noqa: E402,F401
    histogram_summary,
    image_summary,
    merge_all_summaries,
    merge_summary,
    scalar_summary,
)
from tgc.graph.graph import GraphKeys  # noqa: E402,F401
from tgc.frontend import contrib, layers, losses  # noqa: E402,F401
from tgc.dialect.types import string  # noqa: E402,F401
from tgc.frontend.random_ops import random_normal, random_uniform, truncated_normal  # noqa: E402,F401
from tgc.frontend.initializers import (  # noqa: E402,F401
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)
from tgc.frontend import math_ops as math  # noqa: E402,F401
from tgc.frontend.array_ops import *  # noqa: E402,F401,F403
from tgc.frontend.array_ops import newaxis, shape, size, rank, slice  # noqa: E402,F401

# Input pipelines with queues (tgc/frontend/queues.py, tgc/frontend/queue_runner.py): set here so
# tgc/frontend/train.py keeps only the optimizers' and savers' own names.
from tgc.frontend.queues import FIFOQueue, PaddingFIFOQueue, RandomShuffleQueue, RunOptions  # noqa: E402,F401
from tgc.frontend import queue_runner as _queue_runner  # noqa: E402

for _name in (
    "Coordinator",
    "QueueRunner",
    "add_queue_runner",
    "start_queue_runners",
    "batch",
    "shuffle_batch",
    "batch_join",
    "shuffle_batch_join",
    "input_producer",
    "range_input_producer",
    "slice_input_producer",
):
    setattr(train, _name, getattr(_queue_runner, _name))
train.queue_runner = _queue_runner
del _name

# ---- TF1's utility modules: tf.compat (and tf.compat.v1 as tgc itself), tf.logging, tf.app -------
import sys as _sys  # noqa: E402

from tgc.frontend import app, compat  # noqa: E402,F401
from tgc.frontend import tf_config as config  # noqa: E402,F401
from tgc.frontend import tf_logging as logging  # noqa: E402,F401
from tgc.frontend.run_metadata import RunMetadata  # noqa: E402,F401
from tgc.graph.graph import dimension_value  # noqa: E402,F401

flags = app.flags
compat.v1 = _sys.modules[__name__]
# `import tgc.compat.v1 as tf`, as programs write `import tensorflow.compat.v1 as tf`.
_sys.modules[__name__ + ".compat"] = compat
_sys.modules[__name__ + ".compat.v1"] = compat.v1


def disable_v2_behavior():
    """A no-op: tgc always builds TF1 graphs (programs for TF2's compat.v1 call it first)."""


def disable_eager_execution():
    """A no-op: tgc has no eager mode; every op builds a graph."""


def executing_eagerly():
    return False


# TF 0.x names of stack/unstack (tf.pack in older tutorials); array_ops is imported above.
pack, unpack = stack, unstack  # noqa: F405
from tgc.frontend.rnn import reverse_sequence  # noqa: E402,F401
from tgc.frontend import candidate_sampling as _sampling  # noqa: E402
from tgc.frontend import sampled_losses as _sampled_losses  # noqa: E402

# word2vec's tf.nn names, set here: the sampled losses are built on tgc.frontend.nn.
for _name in (
    "all_candidate_sampler",
    "compute_accidental_hits",
    "fixed_unigram_candidate_sampler",
    "log_uniform_candidate_sampler",
    "uniform_candidate_sampler",
):
    setattr(nn, _name, getattr(_sampling, _name))
nn.nce_loss = _sampled_losses.nce_loss
nn.sampled_softmax_loss = _sampled_losses.sampled_softmax_loss

# Debugging from compiled code (tgc/frontend/debug_ops.py): prints, asserts, numeric checks.
from tgc.frontend import debug_ops as _debug_ops  # noqa: E402
from tgc.frontend.debug_ops import (  # noqa: E402,F401
    Assert,
    Print,
    add_check_numerics_ops,
    check_numerics,
    debugging,
)
from tgc.frontend.debug_ops import print_ as print  # noqa: E402,F401,A004

for _name in dir(_debug_ops._Debugging):
    if _name.startswith("assert_"):
        globals()[_name] = getattr(_debug_ops, _name)
# tf.train.ExponentialMovingAverage and tf.metrics (TF1's local metric variables).
from tgc.frontend import metrics  # noqa: E402,F401
from tgc.frontend.moving_averages import (  # noqa: E402,F401
    ExponentialMovingAverage as _ExponentialMovingAverage,
    moving_average_variables,
)

train.ExponentialMovingAverage = _ExponentialMovingAverage
# Names the tutorials' survey found missing (benchmarks/tf1_api_survey.py).
from tgc.frontend.conv_ops import conv2d_transpose as _conv2d_transpose  # noqa: E402
from tgc.frontend import normalization as _normalization  # noqa: E402
from tgc.frontend.random_ops import multinomial, random_crop  # noqa: E402,F401
from tgc.frontend import graph_def as _graph_def  # noqa: E402,F401  (Graph.as_graph_def)

try:  # GraphDef and NodeDef are tensorboard's protos (an optional dependency, as for summaries)
    from tgc.frontend.import_graph_def import GraphDef, NodeDef, import_graph_def  # noqa: F401
except ImportError as _missing:
    from tgc.frontend.unsupported import REASONS as _REASONS

    for _name in ("GraphDef", "NodeDef", "import_graph_def"):
        _REASONS[f"tf.{_name}"] = (
            f"it needs tensorboard's protos ({_missing}): pip install tensorboard"
        )
try:  # tf.Summary, tf.HistogramProto and tf.MetaGraphDef are tensorboard's protos too
    from tgc.frontend.summary_proto import HistogramProto, Summary  # noqa: F401
    from tgc.frontend.meta_graph import MetaGraphDef  # noqa: F401
except ImportError as _missing:
    from tgc.frontend.unsupported import REASONS as _REASONS

    for _name in ("Summary", "HistogramProto", "MetaGraphDef"):
        _REASONS[f"tf.{_name}"] = (
            f"it needs tensorboard's protos ({_missing}): pip install tensorboard"
        )
from tgc.frontend.tensor_array import TensorArray  # noqa: E402,F401
from tgc.frontend import conv_variants as _conv_variants  # noqa: E402

for _name in (
    "conv1d",
    "pool",
    "atrous_conv2d",
    "depthwise_conv2d",
    "separable_conv2d",
):
    setattr(nn, _name, getattr(_conv_variants, _name))
from tgc.frontend import nn_more as _nn_more  # noqa: E402
from tgc.frontend import math_ops_composed as _math_ops_composed  # noqa: E402
from tgc.frontend import misc_ops as _misc_ops  # noqa: E402
from tgc.frontend import segment_ops as _segment_ops  # noqa: E402

for _name in (
    "max_pool_with_argmax",
    "conv3d",
    "convolution",
    "depthwise_conv2d_native",
    "max_pool3d",
    "avg_pool3d",
):
    setattr(nn, _name, getattr(_conv_variants, _name))
for _name in _nn_more.__all__:
    setattr(nn, _name, getattr(_nn_more, _name))
for _name in ("sufficient_statistics", "normalize_moments", "weighted_moments", "zero_fraction"):
    setattr(nn, _name, getattr(_misc_ops, _name))
# tf.X and tf.math.X from modules that build on math_ops (which cannot import them: a cycle).
for _module, _names in (
    (_math_ops_composed, ("norm", "cross", "einsum")),
    (_segment_ops, _segment_ops.__all__),
    (_misc_ops, ("logical_xor", "scalar_mul", "random_shuffle", "matrix_diag", "matrix_diag_part")),
):
    for _name in _names:
        globals()[_name] = getattr(_module, _name)
        setattr(math, _name, getattr(_module, _name))
shape_n = _misc_ops.shape_n
from tgc.frontend import bitwise_ops as bitwise  # noqa: E402,F401
from tgc.frontend import linalg  # noqa: E402,F401
from tgc.frontend.linalg import trace  # noqa: E402,F401

# TF1's file readers and decoders (host ops, as a dequeue is) and the file-name producers.
from tgc.frontend.readers import (  # noqa: E402,F401
    FixedLengthRecordReader,
    ReaderBase,
    TextLineReader,
    WholeFileReader,
    decode_csv,
    decode_raw,
    read_file,
)
from tgc.frontend import readers as _readers  # noqa: E402

train.string_input_producer = _readers.string_input_producer
train.match_filenames_once = _readers.match_filenames_once

random.shuffle = _misc_ops.random_shuffle

nn.conv2d_transpose = _conv2d_transpose
for _name in (
    "batch_normalization",
    "batch_norm_with_global_normalization",
    "lrn",
    "local_response_normalization",
):
    setattr(nn, _name, getattr(_normalization, _name))
from tgc.frontend import gfile  # noqa: E402,F401

# `from tensorflow.examples.tutorials.mnist import input_data` (the MNIST reader of the tutorials).
import tgc.examples.tutorials.mnist.input_data  # noqa: E402,F401

# Input pipelines (`tf.data`, host-side datasets read by iterators) and image ops (`tf.image`).
from tgc.frontend import data  # noqa: E402,F401
from tgc.frontend import image_ops as image  # noqa: E402,F401

# TF's `tensorflow.python.client.timeline` (a traced step as a Chrome trace) as `tgc.timeline`.
from tgc.frontend import timeline  # noqa: E402,F401

# ---- names tgc lacks: an error that says so, still an AttributeError (hasattr works) -------------
from tgc.frontend.unsupported import install_unsupported_names  # noqa: E402

install_unsupported_names(_sys.modules[__name__], "tf")
for _module_name in (
    "nn",
    "train",
    "layers",
    "losses",
    "math",
    "summary",
    "test",
    "initializers",
    "contrib",
    "compat",
    "logging",
    "app",
    "gfile",
    "metrics",
    "data",
    "image",
    "bitwise",
    "linalg",
):
    install_unsupported_names(globals()[_module_name], f"tf.{_module_name}")
    # `from tensorflow.contrib import rnn`, `import tensorflow.nn as nn`: the namespaces import
    # as modules too (tgc.summary, tgc.random and tgc.initializers are modules already).
    _sys.modules.setdefault(f"{__name__}.{_module_name}", globals()[_module_name])
for _module_name, _module in (
    ("contrib.layers", contrib.layers),
    ("contrib.rnn", contrib.rnn),
    ("nn.rnn_cell", nn.rnn_cell),
    ("contrib.framework", contrib.framework),
    ("contrib.slim", contrib.slim),
):
    _sys.modules.setdefault(f"{__name__}.{_module_name}", _module)
    install_unsupported_names(_module, f"tf.{_module_name}")
del _module
del _module_name
