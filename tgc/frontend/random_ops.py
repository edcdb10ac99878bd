"""The TF1 random API: ``random_uniform``, ``random_normal``, ``truncated_normal`` and ``dropout``.

Each random op takes the graph's hidden ``rng_step`` placeholder as its first operand; the Session
feeds it a counter that grows by one per run (``Session._execute``), so every run draws new numbers
while a fresh graph and session with the same seeds replay the same ones. Seeds follow TF's rule
(``Graph.next_seeds``): graph seed from ``tgc.set_random_seed``, op seed from ``seed=``. The numbers
themselves come from the counter-based generator described in ``tgc/dialect/ops/random.py``.
"""

from __future__ import annotations

import numbers

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.frontend.build import convert_to_tensor, make_op
from tgc.graph.graph import Tensor, TensorShape, get_default_graph
from tgc.frontend import math_ops

# Integer bounds travel as f64 attributes, exact up to 2**53.
_INT_BOUND_LIMIT = 2**53


def rng_step(graph=None) -> Tensor:
    """The graph's run-counter placeholder (rank-0 int64), created on first use outside any
    scope."""
    graph = graph or get_default_graph()
    if graph._rng_step is None:
        with graph.name_scope(None), graph.control_dependencies(None):
            graph._rng_step = graph.create_op(
                "Placeholder",
                "rng_step",
                [],
                {"dtype": "int64", "shape": ()},
                [TensorSpec((), "int64")],
                name="rng_step",
            )
    return graph._rng_step.outputs[0]


def static_shape(shape, what="shape") -> list:
    """A fully known shape as a list of ints, from a list, TensorShape, numpy array or constant
    tensor."""
    if isinstance(shape, Tensor):
        if shape.op.opdef != "constant":
            raise TypeError(
                f"{what} must be known when the graph is built; '{shape.name}' is computed at run "
                "time"
            )
        shape = shape.op.attrs["value"]
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError(f"{what} must be fully known but got {shape}")
        return shape.as_list()
    array = np.asarray(shape)
    if array.dtype.kind not in "iu" and array.size:
        raise TypeError(f"{what} must be a list of ints but got {shape!r}")
    dims = [int(d) for d in array.reshape(-1)]
    if any(d < 0 for d in dims):
        raise ValueError(f"{what} must have non-negative dims but got {dims}")
    return dims


def _is_tensor(value) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "_as_graph_element")


def _draw(opname, shape, dtype, seed, name, **attrs) -> Tensor:
    graph = get_default_graph()
    seed1, seed2 = graph.next_seeds(seed)
    source = _run_time_size_source(shape, opname)
    if source is not None and source.shape.is_fully_defined():
        # tf.shape(y) of a y the graph knows: the static op, which every target runs
        shape, source = source.shape.as_list(), None
    if source is not None:
        return make_op(
            f"{opname}_sized",
            [source, rng_step(graph)],
            name=name,
            dtype=as_dtype(dtype).name,
            seed=seed1,
            seed2=seed2,
            **attrs,
        )
    return make_op(
        opname,
        [rng_step(graph)],
        name=name,
        shape=static_shape(shape),
        dtype=as_dtype(dtype).name,
        seed=seed1,
        seed2=seed2,
        **attrs,
    )


def _run_time_size_source(shape, opname):
    """For a shape computed at run time, a tensor of that shape whose values are never read (the
    *_sized ops take only its dims); None for a shape known when the graph is built.

    ``tf.shape(y)`` gives y itself; a list holding scalar tensors (``[tf.shape(x)[0], 2]``) or a
    computed shape vector gives ``tf.zeros(shape)``, whose run-time fill fails the run with TF's
    InvalidArgumentError for a negative dim."""
    from tgc.frontend import array_ops

    source = array_ops._shape_source(shape)
    if source is not None:
        if source.spec.shape is None:
            raise ValueError(
                f"{opname}: the shape of '{source.name}' must have a known rank to draw it"
            )
        return source
    if not array_ops._has_computed_dims(shape):
        return None
    if isinstance(shape, Tensor) and (
        shape.spec.shape is None or len(shape.spec.shape) != 1 or shape.spec.shape[0] is None
    ):
        raise ValueError(
            f"{opname}: shape '{shape.name}' must be a vector of known length (the rank of the "
            f"draw) but has shape {shape.shape}"
        )
    return array_ops.zeros(shape, "int32", name=f"{opname}_shape")


def _affine(unit: Tensor, scale, shift, name) -> Tensor:
    """unit * scale + shift with tensor parameters, for bounds or moments given as tensors."""
    scaled = math_ops.multiply(unit, convert_to_tensor(scale, dtype=unit.dtype))
    return math_ops.add(scaled, convert_to_tensor(shift, dtype=unit.dtype), name=name)


def random_uniform(shape, minval=0, maxval=None, dtype="float32", seed=None, name=None) -> Tensor:
    """Uniform values in [minval, maxval) (`tf.random_uniform`); ints for int32/int64 dtypes."""
    dtype = as_dtype(dtype)
    name = name or "random_uniform"
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"Must specify maxval for integer dtype {dtype.name}")
        lo, hi = _int_bound(minval, "minval"), _int_bound(maxval, "maxval")
        if lo >= hi:
            raise ValueError(
                f"random_uniform needs minval < maxval but got minval={lo}, maxval={hi}"
            )
        return _draw("random_uniform", shape, dtype, seed, name, minval=float(lo), maxval=float(hi))
    if not dtype.is_floating:
        raise ValueError(f"random_uniform does not support dtype {dtype.name}")
    maxval = 1.0 if maxval is None else maxval
    if _is_tensor(minval) or _is_tensor(maxval):
        unit = _draw("random_uniform", shape, dtype, seed, None)
        return _affine(
            unit,
            math_ops.subtract(
                convert_to_tensor(maxval, dtype=dtype), convert_to_tensor(minval, dtype=dtype)
            ),
            minval,
            name,
        )
    return _draw(
        "random_uniform", shape, dtype, seed, name, minval=float(minval), maxval=float(maxval)
    )


def _int_bound(value, what) -> int:
    if _is_tensor(value) or not float(value).is_integer():
        raise TypeError(f"integer random_uniform needs a Python int {what} but got {value!r}")
    if abs(int(value)) > _INT_BOUND_LIMIT:
        raise ValueError(
            f"{what}={value} is beyond +-2**53, which tgc's integer random_uniform supports"
        )
    return int(value)


def _normal(opname, default_name, shape, mean, stddev, dtype, seed, name) -> Tensor:
    dtype = as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{default_name} needs a floating-point dtype but got {dtype.name}")
    name = name or default_name
    if _is_tensor(mean) or _is_tensor(stddev):
        return _affine(_draw(opname, shape, dtype, seed, None), stddev, mean, name)
    return _draw(opname, shape, dtype, seed, name, mean=float(mean), stddev=float(stddev))


def random_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None, name=None) -> Tensor:
    """Normal values (`tf.random_normal`)."""
    return _normal("random_normal", "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None, name=None) -> Tensor:
    """Normal values within two stddev of the mean, others drawn again (`tf.truncated_normal`)."""
    return _normal("truncated_normal", "truncated_normal", shape, mean, stddev, dtype, seed, name)


# ---- dropout -------------------------------------------------------------------------------------


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None) -> Tensor:
    """Zeroes elements with probability 1 - keep_prob and scales the rest by 1/keep_prob
    (`tf.nn.dropout`).

    ``keep_prob`` (or ``rate`` = 1 - keep_prob) is a Python float or a rank-0 tensor, e.g. a fed
    placeholder. ``noise_shape`` draws one keep/drop decision per element of that (broadcast) shape.
    """
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(
            "x has to be a floating point tensor since it's going to be scaled. Got a "
            f"{x.dtype.name} tensor instead."
        )
    keep_prob = _keep_prob(keep_prob, rate, x)
    if isinstance(keep_prob, numbers.Real) and keep_prob == 1:
        return x
    kp = convert_to_tensor(keep_prob, dtype=x.dtype)
    graph = get_default_graph()
    noise = _noise_shape(noise_shape, x)
    if noise is None:
        seed1, seed2 = graph.next_seeds(seed)
        return make_op(
            "dropout", [x, kp, rng_step(graph)], name=name or "dropout", seed=seed1, seed2=seed2
        )
    # Broadcast noise: one decision per element of noise_shape, built from core ops so that the
    # gradient of x * mask / keep_prob flows through multiply and divide with the same mask.
    u = random_uniform(noise, dtype=x.dtype, seed=seed)
    mask = math_ops.floor(math_ops.add(kp, u))
    return math_ops.divide(math_ops.multiply(x, mask), kp, name=name or "dropout")


def _keep_prob(keep_prob, rate, x):
    if (keep_prob is None) == (rate is None):
        raise ValueError("dropout needs exactly one of keep_prob and rate")
    if rate is not None:
        keep_prob = (
            1 - rate
            if not _is_tensor(rate)
            else math_ops.subtract(
                convert_to_tensor(1.0, dtype=x.dtype), convert_to_tensor(rate, dtype=x.dtype)
            )
        )
    if isinstance(keep_prob, numbers.Real) and not 0 < keep_prob <= 1:
        raise ValueError(
            f"keep_prob must be a scalar tensor or a float in the range (0, 1], got {keep_prob:g}"
        )
    if _is_tensor(keep_prob):
        kp = convert_to_tensor(keep_prob, dtype=x.dtype)
        if kp.spec.shape is not None and kp.spec.shape != ():
            raise ValueError(
                f"keep_prob must be a scalar tensor but '{kp.name}' has shape {kp.shape}"
            )
    return keep_prob


def _noise_shape(noise_shape, x):
    """None when the noise covers x's whole shape, else the broadcast noise shape: a list of ints
    and scalar tensors (dims known only at run time, e.g. ``tf.shape(x)[0]``), or a computed shape
    vector. A None entry takes x's dim, read at run time when the graph does not know it."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, Tensor):
        if noise_shape.op.opdef == "shape" and noise_shape.op.inputs[0] is x:
            return None
        if _computed(noise_shape):
            return noise_shape  # a vector known at run time: the multiply checks it broadcasts
        noise_shape = static_shape(noise_shape, "noise_shape")
    dims = list(noise_shape.as_list() if isinstance(noise_shape, TensorShape) else noise_shape)
    xshape = x.spec.shape
    if xshape is None or len(dims) != len(xshape):
        raise ValueError(f"noise_shape {dims} must have the rank of x {x.shape}")
    resolved = [_noise_dim(n, d, x, axis) for axis, (n, d) in enumerate(zip(dims, xshape))]
    for n, d in zip(resolved, xshape):
        if isinstance(n, int) and n != 1 and d is not None and n != d:
            raise ValueError(f"noise_shape {dims} does not broadcast to x's shape {x.shape}")
    if all(isinstance(n, int) for n in resolved) and resolved == list(xshape):
        return None
    return resolved


def _computed(value) -> bool:
    from tgc.frontend.array_ops import _is_computed

    return _is_computed(value)


def _noise_dim(n, d, x, axis):
    """One noise_shape entry: an int, or a scalar tensor for a dim known only at run time."""
    if n is None:
        if d is not None:
            return d
        from tgc.frontend.array_ops import shape

        return shape(x)[axis]
    if _computed(n):
        return convert_to_tensor(n)
    return int(n)


# ---- categorical draws and random crops ----------------------------------------------------------


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    """`tf.multinomial` (`tf.random.categorical`): for each row of ``logits`` [batch, classes],
    ``num_samples`` class indices drawn with probabilities softmax(row).

    Drawn by the Gumbel-max rule: argmax over classes of ``logits + G`` with G = -log(-log(U)),
    U uniform, is a draw from softmax(logits) (a -inf logit is never drawn). The numbers differ
    from TF's (another generator); their law is the same."""
    graph = get_default_graph()
    with graph.name_scope(name or "multinomial"):
        logits = convert_to_tensor(logits)
        if logits.shape.ndims != 2:
            raise ValueError(
                f"multinomial: logits should be a matrix [batch, classes], but '{logits.name}' "
                f"has shape {logits.shape}"
            )
        if not logits.dtype.is_floating:
            raise TypeError(f"multinomial: logits must be floats but are {logits.dtype.name}")
        count = _static_count(num_samples)
        classes = logits.shape[1].value
        if classes is None:
            raise ValueError(f"multinomial: the class count of '{logits.name}' must be known")
        rows = _expand_dims(logits, 1)  # [batch, 1, classes]
        like = math_ops.add(rows, np.zeros([1, count, classes], logits.dtype.name))
        seed1, seed2 = graph.next_seeds(seed)
        u = make_op("random_uniform_like", [like, rng_step(graph)], seed=seed1, seed2=seed2)
        gumbel = math_ops.negative(math_ops.log(math_ops.negative(math_ops.log(u))))
        dtype = as_dtype(output_dtype or "int64")
        return math_ops.argmax(
            math_ops.add(like, gumbel), axis=2, output_type=dtype, name="Multinomial"
        )


categorical = multinomial


def _static_count(value):
    if _is_tensor(value):
        value = convert_to_tensor(value)
        if value.op.opdef != "constant":
            raise ValueError(
                f"multinomial: num_samples must be known when the graph is built, not "
                f"'{value.name}'"
            )
        value = np.asarray(value.op.attrs["value"])
    if np.ndim(value) != 0 or int(value) < 0:
        raise ValueError(f"multinomial: num_samples must be a non-negative int but got {value!r}")
    return int(value)


def _expand_dims(x, axis):
    return make_op("expand_dims", [x], axis=axis)


def random_crop(value, size, seed=None, name=None):
    """`tf.random_crop`: a block of shape ``size`` at an offset drawn uniformly from every
    position where it fits (each axis's offset uniform over [0, dim - size])."""
    from tgc.frontend.array_ops import _static_ints
    from tgc.frontend.gather_ops import gather

    from tgc.frontend.array_ops import _has_computed_dims

    graph = get_default_graph()
    with graph.name_scope(name or "random_crop") as scope:
        value = convert_to_tensor(value)
        if _has_computed_dims(size) or (
            value.shape.ndims is not None and None in value.shape.as_list()
        ):
            return math_ops.identity(_run_time_crop(value, size, seed), name=scope)
        size = _static_ints(size, "random_crop size")
        shape = value.shape.as_list() if value.shape.ndims is not None else None
        if shape is None or len(shape) != len(size):
            raise ValueError(
                f"random_crop: size {size} must give one length per dim of '{value.name}' "
                f"{value.shape}"
            )
        cropped_axes = [d for d, (n, s) in enumerate(zip(shape, size)) if n is None or s < n]
        for d in cropped_axes:
            if shape[d] is None:
                raise ValueError(
                    f"random_crop: dim {d} of '{value.name}' {value.shape} must be known to crop "
                    f"it to {size[d]}"
                )
        if any(s > n for n, s in zip(shape, size)):
            raise ValueError(f"Need value.shape >= size, got {shape} {size}")
        limits = np.array([shape[d] - size[d] + 1 for d in cropped_axes], np.float32)
        out = value
        if cropped_axes:
            u = random_uniform([len(cropped_axes)], seed=seed)
            offsets = math_ops.minimum(
                math_ops.cast(math_ops.floor(u * limits), "int32"), (limits - 1).astype(np.int32)
            )
            for k, d in enumerate(cropped_axes):
                positions = offsets[k] + np.arange(size[d], dtype=np.int32)
                out = gather(out, positions, axis=d)
        return math_ops.identity(out, name=scope)


def _run_time_crop(value, size, seed):
    """random_crop when the value's dims or the size are known only at run time: every axis
    cropped at an offset drawn uniformly from [0, dim - size], with TF's run-time check that the
    size fits ("Need value.shape >= size")."""
    from tgc.frontend import array_ops
    from tgc.frontend.build import assert_op
    from tgc.frontend.gather_ops import gather

    rank = value.shape.ndims
    if rank is None:
        raise ValueError(f"random_crop: '{value.name}' must have a known rank")
    sizes, _ = array_ops._shape_vector(size)
    sizes = math_ops.cast(sizes, "int32")
    if sizes.spec.shape != (rank,):
        raise ValueError(
            f"random_crop: size '{sizes.name}' must give one length per dim of '{value.name}' "
            f"{value.shape}"
        )
    shape = array_ops.shape(value)
    fits = math_ops.logical_and(
        math_ops.reduce_all(math_ops.greater_equal(shape, sizes)),
        math_ops.reduce_all(math_ops.greater_equal(sizes, 0)),
    )
    check = assert_op(fits, ["Need value.shape >= size, got ", shape, sizes], summarize=1000)
    limits = math_ops.add(math_ops.subtract(shape, sizes), 1)
    u = random_uniform([rank], seed=seed)
    offsets = math_ops.minimum(
        math_ops.cast(math_ops.floor(u * math_ops.cast(limits, "float32")), "int32"),
        math_ops.subtract(limits, 1),
    )
    out = value
    with get_default_graph().control_dependencies([check]):
        for axis, length in enumerate(_size_entries(size, sizes, rank)):
            positions = math_ops.add(offsets[axis], array_ops.range(0, length))
            out = gather(out, positions, axis=axis)
    return out


def _size_entries(size, sizes, rank):
    """Each crop length: a Python int where the graph knows it (the result's dim stays known),
    else that entry of the run-time size vector."""
    from tgc.frontend.array_ops import _is_computed

    if isinstance(size, (list, tuple)):
        return [sizes[d] if _is_computed(s) else int(s) for d, s in enumerate(size)]
    return [sizes[d] for d in range(rank)]
