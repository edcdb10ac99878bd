"""`tgc.layers`: TF 1.15's ``tf.layers`` (dense, conv1d/2d/3d, separable_conv1d/2d, 1-D, 2-D and 3-D
pooling, dropout, flatten, batch norm).

Built only from the frontend's own functions (math_ops, nn, conv_ops, conv_variants,
random_ops.dropout, get_variable/variable_scope), so every layer is ordinary graph ops before
tgc-autodiff and needs no registry op of its own. Naming follows TensorFlow: a layer with no name
takes ``dense``, ``dense_1``, ... (unique per enclosing variable scope), its variables are
``<scope>/kernel`` and ``<scope>/bias``, and ``name=`` with ``reuse=True`` (or AUTO_REUSE) shares
another call's variables.
Regularizer losses go to the ``regularization_losses`` collection and batch norm's moving-average
updates to ``update_ops``, where ``tf.losses.get_regularization_loss`` and the training loop find
them.
"""

from __future__ import annotations

import numbers

import numpy as np

from tgc.dialect.types import as_dtype
from tgc.frontend import array_ops, conv_ops, conv_variants, math_ops, nn, random_ops
from tgc.frontend.build import convert_to_tensor
from tgc.graph.graph import Dimension, Tensor, get_default_graph
from tgc.frontend.initializers import ones_initializer, zeros_initializer
from tgc.frontend.variables import (
    get_variable,
    global_variables,
    unique_variable_scope_name,
    variable_scope,
)

REGULARIZATION_LOSSES = "regularization_losses"
UPDATE_OPS = "update_ops"


def _is_tensor(value) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "_as_graph_element")


class Layer:
    """TF1's ``tf.layers.Layer``: variables made on the first call, shared by every later call."""

    _default_name = "layer"

    def __init__(self, trainable=True, name=None, dtype=None, _reuse=None, **kwargs):
        unknown = set(kwargs) - {"_scope"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(unknown)}"
            )
        self.trainable = trainable
        self._given_name = name
        self.name = name
        self.dtype = as_dtype(dtype) if dtype is not None else None
        self._reuse = _reuse
        self._scope = None
        self.built = False
        self._variables = []
        self.losses = []
        self.updates = []

    # ---- variables -----------------------------------------------------------------------------

    def add_weight(
        self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=True
    ):
        """get_variable in the layer's scope; a newly made variable's regularizer loss is
        recorded."""
        existing = {id(v) for v in global_variables()}
        var = get_variable(
            name,
            shape=shape,
            dtype=dtype or self.dtype,
            initializer=initializer,
            trainable=bool(trainable and self.trainable),
        )
        if all(v is not var for v in self._variables):
            self._variables.append(var)
        if regularizer is not None and id(var) not in existing:
            with get_default_graph().name_scope(f"{name}/Regularizer"):
                self._add_regularization_loss(regularizer(var.value()))
        return var

    def _add_regularization_loss(self, loss):
        if loss is not None:  # l2_regularizer(0.0) returns None, as TensorFlow's does
            self.losses.append(loss)
            get_default_graph().add_to_collection(REGULARIZATION_LOSSES, loss)

    @property
    def variables(self):
        return list(self._variables)

    weights = variables

    @property
    def trainable_variables(self):
        trainable = set(id(v) for v in get_default_graph().get_collection("trainable_variables"))
        return [v for v in self._variables if id(v) in trainable]

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self):
        keep = {id(v) for v in self.trainable_variables}
        return [v for v in self._variables if id(v) not in keep]

    non_trainable_weights = non_trainable_variables

    # ---- calling -------------------------------------------------------------------------------

    def build(self, input_shape):
        """Creates the layer's variables; layers without variables have nothing to do."""

    def call(self, inputs, **kwargs):
        """The layer's computation; the base layer passes its inputs through, as TF's does."""
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        graph = get_default_graph()
        if self._scope is None:
            self._enter_first_call(graph, inputs)
            with variable_scope(self._scope_arg, reuse=self._reuse) as scope:
                self._scope = scope
                return self._build_and_call(inputs, args, kwargs)
        # Later calls reuse the variables captured at the first one: no get_variable runs here.
        with variable_scope(self._scope, reuse=True):
            return self._apply(convert_to_tensor(inputs), args, kwargs)

    def _enter_first_call(self, graph, inputs):
        """Fixes the layer's name: as given, or the next free ``<default>_<k>`` in this scope."""
        if self._given_name is None:
            self.name = unique_variable_scope_name(self._default_name)
        self._scope_arg = self.name

    def _build_and_call(self, inputs, args, kwargs):
        inputs = convert_to_tensor(inputs)
        if self.dtype is None:
            self.dtype = inputs.dtype
        self.build(inputs.shape)
        self.built = True
        return self._apply(inputs, args, kwargs)

    def _apply(self, inputs, args, kwargs):
        outputs = self.call(inputs, *args, **kwargs)
        regularizer = getattr(self, "activity_regularizer", None)
        if regularizer is not None:
            with get_default_graph().name_scope("ActivityRegularizer"):
                self._add_regularization_loss(regularizer(outputs))
        return outputs

    def apply(self, inputs, *args, **kwargs):
        return self(inputs, *args, **kwargs)


def _no_constraint(layer, **constraints):
    """Constraints need the optimizer to project variables after each step, which tgc.train does not
    do."""
    for key, value in constraints.items():
        if value is not None:
            raise ValueError(
                f"{type(layer).__name__}: {key} is not supported by tgc (its optimizers do not "
                "apply constraints)"
            )


def _channels_last(layer, data_format):
    if data_format not in ("channels_last", None):
        raise ValueError(
            f"{type(layer).__name__}: data_format {data_format!r} is not supported; tgc implements "
            "only 'channels_last'"
        )


def _activate(activation, outputs):
    return outputs if activation is None else activation(outputs)


# ---- dense ---------------------------------------------------------------------------------------


class Dense(Layer):
    """``outputs = activation(inputs @ kernel + bias)``; inputs of rank > 2 act on their last
    axis."""

    _default_name = "dense"

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer=None,
        bias_initializer=zeros_initializer(),
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraint(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError(f"Dense: units must be positive but got {units}")
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel = self.bias = None

    def build(self, input_shape):
        last = input_shape[-1].value if input_shape.ndims else None
        if last is None:
            raise ValueError(
                "The last dimension of the inputs to `Dense` should be defined. Found `None` "
                f"(input shape {input_shape})."
            )
        self.kernel = self.add_weight(
            "kernel",
            [last, self.units],
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [self.units],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def call(self, inputs):
        shape = inputs.shape.as_list()
        flat = inputs if len(shape) == 2 else _to_matrix(inputs, shape)
        outputs = math_ops.matmul(flat, self.kernel.value(), name="MatMul")
        if len(shape) != 2:
            outputs = array_ops.reshape(outputs, _leading_dims(inputs, shape) + [self.units])
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


def _to_matrix(inputs, shape):
    """[..., in] -> [-1, in]: Dense on rank > 2 applies the kernel to every leading position."""
    if len(shape) < 2:
        raise ValueError(f"Dense needs inputs of rank >= 2 but got shape {inputs.shape}")
    return array_ops.reshape(inputs, [-1, shape[-1]])


def _leading_dims(inputs, shape) -> list:
    """The inputs' leading dims for the result's reshape: a -1 for the one unknown dim, or each
    unknown dim read at run time when there are several (a [batch, time, in] of both unknown)."""
    leading = shape[:-1]
    if sum(d is None for d in leading) <= 1:
        return [-1 if d is None else d for d in leading]
    run_time = array_ops.shape(inputs)
    return [run_time[i] if d is None else d for i, d in enumerate(leading)]


def dense(
    inputs,
    units,
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=zeros_initializer(),
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.dense`."""
    layer = Dense(
        units,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


# ---- conv2d --------------------------------------------------------------------------------------


def _pair(value, what, layer):
    values = (
        [int(value)] * 2
        if isinstance(value, (numbers.Integral, Dimension))
        else [int(v) for v in value]
    )
    if len(values) != 2:
        raise ValueError(f"{layer}: {what} must be an int or a pair of ints but got {value!r}")
    return values


def _padding(padding, layer):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same' but got {padding!r}")
    return padding.upper()


class Conv2D(Layer):
    """2-D convolution over NHWC inputs with a [kh, kw, in, filters] kernel, plus bias and
    activation."""

    _default_name = "conv2d"
    _rank, _layout = 4, "NHWC"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        kernel_initializer=None,
        bias_initializer=zeros_initializer(),
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraint(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        _channels_last(self, data_format)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = _pair(strides, "strides", "Conv2D")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", "Conv2D")
        self.padding = _padding(padding, "Conv2D")
        self.activation, self.use_bias = activation, use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel = self.bias = None

    def build(self, input_shape):
        if input_shape.ndims != self._rank:
            raise ValueError(
                f"Inputs to {type(self).__name__} should have rank {self._rank} ({self._layout}). "
                f"Received input shape: {input_shape}"
            )
        channels = input_shape[-1].value
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. Found `None` (input shape "
                f"{input_shape})."
            )
        shape = self._kernel_shape(channels)
        self.kernel = self.add_weight(
            "kernel",
            shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [self.filters],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def _kernel_shape(self, channels):
        return self.kernel_size + [channels, self.filters]

    def call(self, inputs):
        outputs = conv_ops.conv2d(
            inputs,
            self.kernel.value(),
            strides=self.strides,
            padding=self.padding,
            dilations=self.dilation_rate,
            name="Conv2D",
        )
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


def conv2d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1),
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=zeros_initializer(),
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.conv2d`."""
    layer = Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


def _transposed_length(size, kernel, stride, padding):
    """The output length of a transposed convolution (Keras' deconv_output_length)."""
    if padding == "VALID":
        return size * stride + max(kernel - stride, 0)
    return size * stride


class Conv2DTranspose(Conv2D):
    """The transpose of Conv2D (`tf.layers.Conv2DTranspose`): an NHWC input spread by a
    [kh, kw, filters, in] kernel (output channels before input channels, as TF's), plus bias and
    activation."""

    _default_name = "conv2d_transpose"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)

    def _kernel_shape(self, channels):
        return self.kernel_size + [self.filters, channels]

    def call(self, inputs):
        height, width = inputs.shape[1].value, inputs.shape[2].value
        if height is None or width is None:
            raise ValueError(
                f"Conv2DTranspose: the height and width of the inputs must be known when the graph "
                f"is built, but '{inputs.name}' has shape {inputs.shape}"
            )
        output_shape = [
            inputs.shape[0].value,
            _transposed_length(height, self.kernel_size[0], self.strides[0], self.padding),
            _transposed_length(width, self.kernel_size[1], self.strides[1], self.padding),
            self.filters,
        ]
        outputs = conv_ops.conv2d_transpose(
            inputs,
            self.kernel.value(),
            output_shape,
            strides=self.strides,
            padding=self.padding,
            dilations=self.dilation_rate,
        )
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


def conv2d_transpose(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=zeros_initializer(),
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.conv2d_transpose`."""
    layer = Conv2DTranspose(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


Convolution2DTranspose = Conv2DTranspose


# ---- pooling -------------------------------------------------------------------------------------


class _Pooling2D(Layer):
    _pool = None
    _op_name = None

    def __init__(
        self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs
    ):
        super().__init__(name=name, **kwargs)
        _channels_last(self, data_format)
        what = type(self).__name__
        self.pool_size = _pair(pool_size, "pool_size", what)
        self.strides = _pair(strides, "strides", what)
        self.padding = _padding(padding, what)

    def call(self, inputs):
        if inputs.shape.ndims != 4:
            raise ValueError(
                f"Inputs to {type(self).__name__} should have rank 4 (NHWC). Received input shape: "
                f"{inputs.shape}"
            )
        return type(self)._pool(
            inputs,
            ksize=self.pool_size,
            strides=self.strides,
            padding=self.padding,
            name=self._op_name,
        )


class MaxPooling2D(_Pooling2D):
    """Max over pool_size windows of an NHWC tensor."""

    _default_name = "max_pooling2d"
    _pool = staticmethod(conv_ops.max_pool)
    _op_name = "MaxPool"


class AveragePooling2D(_Pooling2D):
    """Mean over pool_size windows of an NHWC tensor (the padding cells of 'same' are not
    counted)."""

    _default_name = "average_pooling2d"
    _pool = staticmethod(conv_ops.avg_pool)
    _op_name = "AvgPool"


def max_pooling2d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """Functional `tf.layers.max_pooling2d`."""
    return MaxPooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name)(
        inputs
    )


def average_pooling2d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """Functional `tf.layers.average_pooling2d`."""
    return AveragePooling2D(
        pool_size, strides, padding=padding, data_format=data_format, name=name
    )(inputs)


# ---- 1-D convolution and pooling -----------------------------------------------------------------


def _one(value, what, layer):
    values = (
        [int(value)]
        if isinstance(value, (numbers.Integral, Dimension))
        else [int(v) for v in value]
    )
    if len(values) != 1:
        raise ValueError(f"{layer}: {what} must be an int or a 1-tuple but got {value!r}")
    return values


class Conv1D(Conv2D):
    """1-D convolution over NWC inputs with a [k, in, filters] kernel, plus bias and activation;
    padding may also be 'causal' (zeros only before the input, as WaveNets use)."""

    _default_name = "conv1d"
    _rank, _layout = 3, "NWC"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=1,
        **kwargs,
    ):
        causal = isinstance(padding, str) and padding.lower() == "causal"
        super().__init__(
            filters,
            1,
            padding="valid" if causal else padding,
            data_format=data_format,
            **kwargs,
        )
        self.kernel_size = _one(kernel_size, "kernel_size", "Conv1D")
        self.strides = _one(strides, "strides", "Conv1D")
        self.dilation_rate = _one(dilation_rate, "dilation_rate", "Conv1D")
        self.causal = causal

    def call(self, inputs):
        if self.causal:
            inputs = _pad_before(inputs, self.dilation_rate[0] * (self.kernel_size[0] - 1))
        outputs = conv_variants.conv1d(
            inputs,
            self.kernel.value(),
            stride=self.strides[0],
            padding=self.padding,
            dilations=self.dilation_rate[0],
            name="conv1d",
        )
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


def _pad_before(inputs, count):
    """inputs [N, W, C] with ``count`` zero steps put before its first (causal padding)."""
    return conv_variants.pad_with_zeros(inputs, 1, count, 0)


def conv1d(
    inputs,
    filters,
    kernel_size,
    strides=1,
    padding="valid",
    data_format="channels_last",
    dilation_rate=1,
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=zeros_initializer(),
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.conv1d`."""
    layer = Conv1D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


class _Pooling1D(Layer):
    _kind = None

    def __init__(
        self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs
    ):
        super().__init__(name=name, **kwargs)
        _channels_last(self, data_format)
        what = type(self).__name__
        self.pool_size = _one(pool_size, "pool_size", what)
        self.strides = _one(strides, "strides", what)
        self.padding = _padding(padding, what)

    def call(self, inputs):
        if inputs.shape.ndims != 3:
            raise ValueError(
                f"Inputs to {type(self).__name__} should have rank 3 (NWC). Received input shape: "
                f"{inputs.shape}"
            )
        return conv_variants.pool1d(
            inputs, self.pool_size[0], self.strides[0], self.padding, self._kind
        )


class MaxPooling1D(_Pooling1D):
    """Max over pool_size windows of an NWC tensor."""

    _default_name = "max_pooling1d"
    _kind = "MAX"


class AveragePooling1D(_Pooling1D):
    """Mean over pool_size windows of an NWC tensor (the padding cells of 'same' are not
    counted)."""

    _default_name = "average_pooling1d"
    _kind = "AVG"


def max_pooling1d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """Functional `tf.layers.max_pooling1d`."""
    return MaxPooling1D(pool_size, strides, padding=padding, data_format=data_format, name=name)(
        inputs
    )


def average_pooling1d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """Functional `tf.layers.average_pooling1d`."""
    return AveragePooling1D(
        pool_size, strides, padding=padding, data_format=data_format, name=name
    )(inputs)


# ---- 3-D convolution -----------------------------------------------------------------------------


def _triple(value, what, layer):
    values = (
        [int(value)] * 3
        if isinstance(value, (numbers.Integral, Dimension))
        else [int(v) for v in value]
    )
    if len(values) != 3:
        raise ValueError(f"{layer}: {what} must be an int or a triple of ints but got {value!r}")
    return values


class Conv3D(Conv2D):
    """3-D convolution over NDHWC inputs with a [kd, kh, kw, in, filters] kernel, plus bias and
    activation."""

    _default_name = "conv3d"
    _rank, _layout = 5, "NDHWC"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1, 1),
        **kwargs,
    ):
        super().__init__(filters, 1, padding=padding, data_format=data_format, **kwargs)
        self.kernel_size = _triple(kernel_size, "kernel_size", "Conv3D")
        self.strides = _triple(strides, "strides", "Conv3D")
        self.dilation_rate = _triple(dilation_rate, "dilation_rate", "Conv3D")

    def call(self, inputs):
        outputs = conv_variants.conv3d(
            inputs,
            self.kernel.value(),
            strides=[1, *self.strides, 1],
            padding=self.padding,
            dilations=[1, *self.dilation_rate, 1],
        )
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


def conv3d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1, 1),
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=zeros_initializer(),
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.conv3d`."""
    layer = Conv3D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


class _Pooling3D(Layer):
    _pool = None

    def __init__(
        self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs
    ):
        super().__init__(name=name, **kwargs)
        _channels_last(self, data_format)
        what = type(self).__name__
        self.pool_size = _triple(pool_size, "pool_size", what)
        self.strides = _triple(strides, "strides", what)
        self.padding = _padding(padding, what)

    def call(self, inputs):
        if inputs.shape.ndims != 5:
            raise ValueError(
                f"Inputs to {type(self).__name__} should have rank 5 (NDHWC). Received input "
                f"shape: {inputs.shape}"
            )
        return type(self)._pool(
            inputs, [1, *self.pool_size, 1], [1, *self.strides, 1], self.padding
        )


class MaxPooling3D(_Pooling3D):
    """Max over pool_size windows of an NDHWC tensor."""

    _default_name = "max_pooling3d"
    _pool = staticmethod(conv_variants.max_pool3d)


class AveragePooling3D(_Pooling3D):
    """Mean over pool_size windows of an NDHWC tensor (the padding cells of 'same' are not
    counted)."""

    _default_name = "average_pooling3d"
    _pool = staticmethod(conv_variants.avg_pool3d)


def max_pooling3d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """Functional `tf.layers.max_pooling3d`."""
    return MaxPooling3D(pool_size, strides, padding=padding, data_format=data_format, name=name)(
        inputs
    )


def average_pooling3d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """Functional `tf.layers.average_pooling3d`."""
    return AveragePooling3D(
        pool_size, strides, padding=padding, data_format=data_format, name=name
    )(inputs)


# ---- separable convolution -----------------------------------------------------------------------


class SeparableConv2D(Conv2D):
    """Depthwise then pointwise convolution over NHWC inputs (`tf.layers.SeparableConv2D`): a
    [kh, kw, in, depth_multiplier] ``depthwise_kernel``, a [1, 1, in * depth_multiplier, filters]
    ``pointwise_kernel``, plus bias and activation."""

    _default_name = "separable_conv2d"
    _rank, _layout = 4, "NHWC"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1),
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer=None,
        pointwise_initializer=None,
        bias_initializer=zeros_initializer(),
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint,
            trainable=trainable,
            name=name,
            **kwargs,
        )
        _no_constraint(
            self,
            depthwise_constraint=depthwise_constraint,
            pointwise_constraint=pointwise_constraint,
        )
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "SeparableConv2D: when dilation rate is greater than 1, then all values of strides "
                f"must be 1. Received: dilation_rate {self.dilation_rate}, strides {self.strides}"
            )
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        if input_shape.ndims != self._rank:
            raise ValueError(
                f"Inputs to {type(self).__name__} should have rank {self._rank} ({self._layout}). "
                f"Received input shape: {input_shape}"
            )
        channels = input_shape[-1].value
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. Found `None` (input shape "
                f"{input_shape})."
            )
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            self.kernel_size + [channels, self.depth_multiplier],
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            [1] * len(self.kernel_size) + [channels * self.depth_multiplier, self.filters],
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [self.filters],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def call(self, inputs):
        outputs = conv_variants.separable_conv2d(
            inputs,
            self.depthwise_kernel.value(),
            self.pointwise_kernel.value(),
            strides=[1] + self.strides + [1],
            padding=self.padding,
            rate=self.dilation_rate,
        )
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


class SeparableConv1D(SeparableConv2D):
    """Depthwise then pointwise convolution over NWC inputs (`tf.layers.SeparableConv1D`): a
    [k, in, depth_multiplier] ``depthwise_kernel`` and a [1, in * depth_multiplier, filters]
    ``pointwise_kernel``, applied as SeparableConv2D's over an inserted height of 1, as TF's;
    padding may also be 'causal'."""

    _default_name = "separable_conv1d"
    _rank, _layout = 3, "NWC"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, **kwargs):
        causal = isinstance(padding, str) and padding.lower() == "causal"
        super().__init__(filters, 1, padding="valid" if causal else padding, **kwargs)
        self.kernel_size = _one(kernel_size, "kernel_size", "SeparableConv1D")
        self.strides = _one(strides, "strides", "SeparableConv1D")
        self.dilation_rate = _one(dilation_rate, "dilation_rate", "SeparableConv1D")
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(
                "SeparableConv1D: when dilation rate is greater than 1, then all values of strides "
                f"must be 1. Received: dilation_rate {self.dilation_rate}, strides {self.strides}"
            )
        self.causal = causal

    def call(self, inputs):
        if self.causal:
            inputs = _pad_before(inputs, self.dilation_rate[0] * (self.kernel_size[0] - 1))
        rows = array_ops.expand_dims(inputs, 1)
        outputs = conv_variants.separable_conv2d(
            rows,
            array_ops.expand_dims(self.depthwise_kernel.value(), 0),
            array_ops.expand_dims(self.pointwise_kernel.value(), 0),
            strides=[1, 1, self.strides[0], 1],
            padding=self.padding,
            rate=[1, self.dilation_rate[0]],
        )
        outputs = array_ops.squeeze(outputs, [1])
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias.value(), name="BiasAdd")
        return _activate(self.activation, outputs)


def separable_conv1d(
    inputs,
    filters,
    kernel_size,
    strides=1,
    padding="valid",
    data_format="channels_last",
    dilation_rate=1,
    depth_multiplier=1,
    activation=None,
    use_bias=True,
    depthwise_initializer=None,
    pointwise_initializer=None,
    bias_initializer=zeros_initializer(),
    depthwise_regularizer=None,
    pointwise_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    depthwise_constraint=None,
    pointwise_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.separable_conv1d`."""
    layer = SeparableConv1D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        depth_multiplier=depth_multiplier,
        activation=activation,
        use_bias=use_bias,
        depthwise_initializer=depthwise_initializer,
        pointwise_initializer=pointwise_initializer,
        bias_initializer=bias_initializer,
        depthwise_regularizer=depthwise_regularizer,
        pointwise_regularizer=pointwise_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        depthwise_constraint=depthwise_constraint,
        pointwise_constraint=pointwise_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


def separable_conv2d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1),
    depth_multiplier=1,
    activation=None,
    use_bias=True,
    depthwise_initializer=None,
    pointwise_initializer=None,
    bias_initializer=zeros_initializer(),
    depthwise_regularizer=None,
    pointwise_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    depthwise_constraint=None,
    pointwise_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Functional `tf.layers.separable_conv2d`."""
    layer = SeparableConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        depth_multiplier=depth_multiplier,
        activation=activation,
        use_bias=use_bias,
        depthwise_initializer=depthwise_initializer,
        pointwise_initializer=pointwise_initializer,
        bias_initializer=bias_initializer,
        depthwise_regularizer=depthwise_regularizer,
        pointwise_regularizer=pointwise_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        depthwise_constraint=depthwise_constraint,
        pointwise_constraint=pointwise_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


# ---- flatten -------------------------------------------------------------------------------------


class Flatten(Layer):
    """[batch, d1, d2, ...] -> [batch, d1 * d2 * ...]; a vector becomes [batch, 1]."""

    _default_name = "flatten"

    def __init__(self, data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        _channels_last(self, data_format)

    def call(self, inputs):
        return flatten_tensor(inputs, "Flatten")


def flatten_tensor(inputs, what):
    """The reshape that Flatten (and contrib's flatten) makes; only one unknown side is allowed."""
    shape = inputs.shape.as_list() if inputs.shape.ndims is not None else None
    if shape is None or len(shape) == 0:
        raise ValueError(f"{what} needs inputs of known rank >= 1 but got shape {inputs.shape}")
    if len(shape) == 1:
        return array_ops.expand_dims(inputs, 1)
    rest = shape[1:]
    if all(d is not None for d in rest):
        return array_ops.reshape(inputs, [-1, int(np.prod(rest, dtype=np.int64))], name="Reshape")
    if shape[0] is not None:
        return array_ops.reshape(inputs, [shape[0], -1], name="Reshape")
    raise ValueError(
        f"{what} needs either the batch dim or all other dims known, but the input has shape "
        f"{inputs.shape}"
    )


def flatten(inputs, name=None, data_format="channels_last"):
    """Functional `tf.layers.flatten`."""
    return Flatten(data_format=data_format, name=name)(inputs)


# ---- dropout -------------------------------------------------------------------------------------


class Dropout(Layer):
    """Training: zero each element with probability ``rate`` and scale the rest by 1 / (1 - rate).

    ``training`` is a Python bool or a bool tensor (e.g. a fed placeholder); for a tensor the keep
    probability is ``1 - rate * cast(training)``, which keeps every element (scaled by 1) when
    false.
    """

    _default_name = "dropout"

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1) but got {rate}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs, training=False):
        if self.rate == 0 or (not _is_tensor(training) and not training):
            return math_ops.identity(inputs, name="Identity")
        if not _is_tensor(training):
            return random_ops.dropout(
                inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed
            )
        flag = math_ops.cast(training, inputs.dtype)
        keep_prob = math_ops.subtract(1.0, math_ops.multiply(flag, self.rate))
        return random_ops.dropout(
            inputs, keep_prob=keep_prob, noise_shape=self.noise_shape, seed=self.seed
        )


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Functional `tf.layers.dropout` (note: ``rate`` drops, unlike tf.nn.dropout's keep_prob)."""
    return Dropout(rate, noise_shape=noise_shape, seed=seed, name=name)(inputs, training=training)


# ---- batch normalization -------------------------------------------------------------------------


class BatchNormalization(Layer):
    """Normalizes over every axis but ``axis`` with batch statistics (training) or moving averages.

    In training the layer adds two ``assign_sub`` updates to ``update_ops``:
    ``moving -= (moving - batch_stat) * (1 - momentum)``; run them with the train op (e.g. under
    ``tf.control_dependencies(tf.get_collection(UPDATE_OPS))``). As in TF 1.15, 4-D inputs take the
    fused path, whose moving variance is fed the unbiased (n / (n - 1)) batch variance; other ranks
    use the biased one. A bool-tensor ``training`` picks batch or moving statistics at run time and
    makes the updates no-ops (momentum 1) when false.
    """

    _default_name = "batch_normalization"

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer=zeros_initializer(),
        gamma_initializer=ones_initializer(),
        moving_mean_initializer=zeros_initializer(),
        moving_variance_initializer=ones_initializer(),
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        fused=None,
        virtual_batch_size=None,
        adjustment=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraint(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise ValueError(
                "BatchNormalization: renorm, virtual_batch_size and adjustment are not supported "
                "by tgc"
            )
        if not isinstance(axis, numbers.Integral):
            raise ValueError(f"BatchNormalization: axis must be one int in tgc but got {axis!r}")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale, self.fused = center, scale, fused
        self.initializers = (
            beta_initializer,
            gamma_initializer,
            moving_mean_initializer,
            moving_variance_initializer,
        )
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.gamma = self.beta = None

    def build(self, input_shape):
        ndims = input_shape.ndims
        if ndims is None or not -ndims <= self.axis < ndims:
            raise ValueError(
                f"BatchNormalization: axis {self.axis} is out of range for input shape "
                f"{input_shape}"
            )
        self.axis %= ndims
        channels = input_shape[self.axis].value
        if channels is None:
            raise ValueError(f"Input has undefined `axis` dimension. Input shape: {input_shape}")
        if self.fused is None:
            self.fused = ndims == 4
        if self.fused and (ndims != 4 or self.axis != 3):
            raise ValueError(
                "BatchNormalization: fused batch norm in tgc needs NHWC inputs with axis 3, got "
                f"shape {input_shape} and axis {self.axis}"
            )
        beta_init, gamma_init, mean_init, var_init = self.initializers
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", [channels], initializer=gamma_init, regularizer=self.gamma_regularizer
            )
        if self.center:
            self.beta = self.add_weight(
                "beta", [channels], initializer=beta_init, regularizer=self.beta_regularizer
            )
        self.moving_mean = self.add_weight(
            "moving_mean", [channels], initializer=mean_init, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", [channels], initializer=var_init, trainable=False
        )

    def call(self, inputs, training=False):
        if not _is_tensor(training) and not training:
            return self._normalize(inputs, self.moving_mean.value(), self.moving_variance.value())
        mean, variance = self._moments(inputs)
        stat_for_update = self._unbiased(inputs, variance) if self.fused else variance
        momentum = self.momentum
        if _is_tensor(training):
            training = _scalar_flag(training)
            mean = math_ops.where(training, mean, self.moving_mean.value())
            variance = math_ops.where(training, variance, self.moving_variance.value())
            stat_for_update = math_ops.where(
                training, stat_for_update, self.moving_variance.value()
            )
            momentum = math_ops.where(
                training,
                convert_to_tensor(self.momentum, dtype=inputs.dtype),
                convert_to_tensor(1.0, dtype=inputs.dtype),
            )
        self._add_update(self.moving_mean, mean, momentum)
        self._add_update(self.moving_variance, stat_for_update, momentum)
        return self._normalize(inputs, mean, variance)

    def _moments(self, inputs):
        """Per-channel mean and biased variance over every other axis."""
        axes = [i for i in range(inputs.shape.ndims) if i != self.axis]
        with get_default_graph().name_scope("moments"):
            mean = math_ops.reduce_mean(inputs, axis=axes, keepdims=True)
            variance = math_ops.reduce_mean(
                math_ops.square(math_ops.subtract(inputs, mean)), axis=axes
            )
            return array_ops.reshape(mean, [-1]), variance

    def _unbiased(self, inputs, variance):
        """variance * n / (n - 1), n the elements per channel: what TF's fused kernel hands the
        moving average."""
        n = math_ops.divide(
            math_ops.cast(array_ops.size(inputs), inputs.dtype),
            float(inputs.shape[self.axis].value),
        )
        return math_ops.multiply(
            variance, math_ops.divide(n, math_ops.maximum(math_ops.subtract(n, 1.0), 1.0))
        )

    def _add_update(self, variable, value, momentum):
        with get_default_graph().name_scope("AssignMovingAvg"):
            decay = math_ops.subtract(convert_to_tensor(1.0, dtype=variable.dtype), momentum)
            delta = math_ops.multiply(math_ops.subtract(variable.value(), value), decay)
            update = variable.assign_sub(delta)
        self.updates.append(update)
        get_default_graph().add_to_collection(UPDATE_OPS, update)

    def _normalize(self, inputs, mean, variance):
        """(x - mean) * rsqrt(variance + eps) * gamma + beta, as x * inv + (beta - mean * inv)."""
        shape = [1] * inputs.shape.ndims
        shape[self.axis] = -1
        as_channel = (
            (lambda v: v)
            if self.axis == inputs.shape.ndims - 1
            else (lambda v: array_ops.reshape(v, shape))
        )
        inv = math_ops.rsqrt(math_ops.add(variance, self.epsilon))
        if self.gamma is not None:
            inv = math_ops.multiply(inv, self.gamma.value())
        shift = math_ops.negative(math_ops.multiply(mean, inv))
        if self.beta is not None:
            shift = math_ops.add(shift, self.beta.value())
        return math_ops.add(
            math_ops.multiply(inputs, as_channel(inv)), as_channel(shift), name="batchnorm"
        )


def _scalar_flag(training):
    """The bool tensor ``training`` as a scalar: TF1 programs write
    ``tf.placeholder(tf.bool, None)`` (unknown rank), which TF's cond takes as its scalar pred; a
    fed value of another shape is refused at run time by the reshape."""
    training = convert_to_tensor(training)
    if training.dtype.name != "bool":
        raise TypeError(
            f"batch_normalization: training must be a Python bool or a bool tensor but "
            f"'{training.name}' is {training.dtype.name}"
        )
    if training.spec.shape == ():
        return training
    if training.spec.shape is not None and training.spec.is_static and training.spec.shape:
        if int(np.prod(training.spec.shape)) != 1:
            raise ValueError(
                f"batch_normalization: training must be a scalar but '{training.name}' has "
                f"shape {training.shape}"
            )
    return array_ops.reshape(training, [], name="training_flag")


def batch_normalization(
    inputs,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    center=True,
    scale=True,
    beta_initializer=zeros_initializer(),
    gamma_initializer=ones_initializer(),
    moving_mean_initializer=zeros_initializer(),
    moving_variance_initializer=ones_initializer(),
    beta_regularizer=None,
    gamma_regularizer=None,
    beta_constraint=None,
    gamma_constraint=None,
    training=False,
    trainable=True,
    name=None,
    reuse=None,
    renorm=False,
    renorm_clipping=None,
    renorm_momentum=0.99,
    fused=None,
    virtual_batch_size=None,
    adjustment=None,
):
    """Functional `tf.layers.batch_normalization`; remember to run the ``update_ops`` collection."""
    if renorm_clipping is not None:
        raise ValueError("batch_normalization: renorm is not supported by tgc")
    layer = BatchNormalization(
        axis=axis,
        momentum=momentum,
        epsilon=epsilon,
        center=center,
        scale=scale,
        beta_initializer=beta_initializer,
        gamma_initializer=gamma_initializer,
        moving_mean_initializer=moving_mean_initializer,
        moving_variance_initializer=moving_variance_initializer,
        beta_regularizer=beta_regularizer,
        gamma_regularizer=gamma_regularizer,
        beta_constraint=beta_constraint,
        gamma_constraint=gamma_constraint,
        renorm=renorm,
        fused=fused,
        virtual_batch_size=virtual_batch_size,
        adjustment=adjustment,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs, training=training)
