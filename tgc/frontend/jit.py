"""``@tgc.jit``, ``tgc.grad`` and ``tgc.value_and_grad`` for plain Python functions of arrays.

A call traces the function once per input signature (shapes and dtypes of the array arguments,
values of static arguments) into a fresh Graph whose placeholders stand for the arguments; the graph
is then compiled by the same path as ``Session.run`` and cached. Results come back as numpy arrays
in the structure the function returned (tuples, lists, dicts).
"""

from __future__ import annotations

import functools

import numpy as np

from tgc.dialect.types import as_dtype
from tgc.frontend.build import placeholder
from tgc.graph.graph import Graph, Tensor
from tgc.frontend.session import Session

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _as_array(value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == np.float64 and not isinstance(value, np.ndarray):
        array = array.astype(np.float32)  # Python floats are weakly typed: float32, as in JAX
    if array.dtype == np.int64 and not isinstance(value, np.ndarray):
        array = array.astype(np.int32)
    as_dtype(array.dtype)  # rejects unsupported dtypes with a clear message
    return array


def _flatten(tree, leaves):
    if isinstance(tree, dict):
        return ("dict", [(k, _flatten(v, leaves)) for k, v in tree.items()])
    if isinstance(tree, (list, tuple)):
        return (type(tree), [_flatten(v, leaves) for v in tree])
    leaves.append(tree)
    return ("leaf", len(leaves) - 1)


def _unflatten(node, values):
    kind, body = node
    if kind == "leaf":
        return values[body]
    if kind == "dict":
        return {k: _unflatten(v, values) for k, v in body}
    return kind(_unflatten(v, values) for v in body)


class _Traced:
    """One traced and compiled signature of a function, its ops placed on ``device`` (a full device
    name; None: wherever placement puts them)."""

    def __init__(self, fn, arrays, static, transform, device=None, threads=0):
        self.graph = Graph()
        with self.graph.as_default(), _device_scope(self.graph, device):
            self.inputs = [
                placeholder(as_dtype(a.dtype), a.shape, name=f"arg{i}") if a is not None else None
                for i, a in enumerate(arrays)
            ]
            args = [s if t is None else t for t, s in zip(self.inputs, static)]
            outputs = transform(fn, args, self.inputs)
            leaves: list = []
            self.structure = _flatten(outputs, leaves)
            self.fetches = [_as_tensor(v) for v in leaves]
        self.session = Session(graph=self.graph, config=_config_for(device, threads))

    def __call__(self, arrays):
        feeds = {t: a for t, a in zip(self.inputs, arrays) if t is not None}
        values = self.session.run(self.fetches, feeds)
        return _unflatten(self.structure, list(values))


def _as_tensor(value):
    if isinstance(value, Tensor):
        return value
    from tgc.frontend.build import convert_to_tensor

    return convert_to_tensor(value)


def _plain(fn, args, inputs):
    return fn(*args)


def _device_name(device) -> str | None:
    """``'gpu'``, ``'cpu:1'``, ``'/gpu:0'`` or a full name -> the full device name (None stays)."""
    if device is None:
        return None
    from tgc.dialect.devices import full_device_name

    text = str(device)
    if not text.startswith("/"):
        kind, _, index = text.partition(":")
        text = f"/device:{kind.upper()}:{index or 0}"
    return full_device_name(text)


def _device_scope(graph, device):
    import contextlib

    return contextlib.nullcontext() if device is None else graph.device(device)


def _config_for(device, threads=0):
    """The config of a jitted function's session: the devices it makes (the CPU, and the one it
    asks for; ops that device cannot run fall back to the CPU by soft placement) and the most
    threads its runs' matmuls use (``threads``, 0: tgc decides)."""
    from tgc.frontend.config import ConfigProto

    if device is None:
        return ConfigProto(intra_op_parallelism_threads=threads) if threads else None
    from tgc.dialect.devices import DeviceSpec

    spec = DeviceSpec.from_string(device)
    config = ConfigProto(
        device_count={spec.device_type: (spec.device_index or 0) + 1},
        allow_soft_placement=True,
        intra_op_parallelism_threads=threads,
    )
    if device not in config.device_names():
        raise ValueError(
            f"tgc.jit(device=...): this machine has no device {device} "
            f"(its devices: {', '.join(config.device_names())})"
        )
    return config


class _Compiled:
    """What ``jit`` returns: calls dispatch on the signature; ``compile_count`` counts traces."""

    def __init__(self, fn, static_argnums, transform, device=None, threads=0):
        from tgc.runtime.blas_threads import check_thread_limit

        self.threads = check_thread_limit("tgc.jit(threads=...)", threads)
        self.device = _device_name(device)
        if self.device is not None:
            _config_for(self.device)  # a device this machine lacks is refused at once
        self.fn = fn
        self.static_argnums = frozenset(static_argnums)
        self.transform = transform
        self.cache: dict = {}
        functools.update_wrapper(self, fn)

    @property
    def compile_count(self) -> int:
        return len(self.cache)

    def __call__(self, *args):
        arrays, static, key = [], [], []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                arrays.append(None)
                static.append(a)
                key.append(("static", a))
            else:
                array = _as_array(a)
                arrays.append(array)
                static.append(None)
                key.append((array.shape, array.dtype.str))
        key = tuple(key)
        traced = self.cache.get(key)
        if traced is None:
            traced = _Traced(self.fn, arrays, static, self.transform, self.device, self.threads)
            self.cache[key] = traced
        return traced(arrays)


def jit(fn=None, *, static_argnums=(), device=None, threads=0):
    """Compiles ``fn`` once per input signature (`jax.jit`); usable as ``@jit`` or
    ``@jit(static_argnums=..., device=..., threads=...)``. ``device`` ('gpu', 'cpu', 'gpu:1',
    '/gpu:0') places the function's ops on that device, those it cannot run on the CPU; a device
    this machine does not have is a ValueError. ``threads`` is the most threads a call's matmuls
    use, as a session's ``intra_op_parallelism_threads`` (0: tgc decides)."""
    if fn is None:
        return lambda f: jit(f, static_argnums=static_argnums, device=device, threads=threads)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    return _Compiled(fn, static, _plain, device, threads)


def _grad_transform(argnums, has_aux, with_value):
    single = isinstance(argnums, int)
    positions = (argnums,) if single else tuple(argnums)

    def transform(fn, args, inputs):
        from tgc.frontend.build import make_op
        from tgc.frontend.gradients import gradients

        out = fn(*args)
        value, aux = out if has_aux else (out, None)
        value = _as_tensor(value)
        if value.spec.shape != ():
            raise TypeError(
                f"grad requires a scalar output but the function returned shape {value.shape}"
            )
        if value.spec.dtype not in _FLOATS:
            raise TypeError(f"grad requires a floating-point output but got {value.spec.dtype}")
        wrt = [_differentiable_input(inputs, i) for i in positions]
        grads = gradients(value, wrt)
        grads = [
            g if g is not None else make_op("fill_like", [x], value=0.0) for g, x in zip(grads, wrt)
        ]
        grads = grads[0] if single else tuple(grads)
        result = (value, grads) if with_value else grads
        return (result, aux) if has_aux else result

    return transform


def _differentiable_input(inputs, i):
    if i >= len(inputs):
        raise TypeError(
            f"argnums {i} is out of range for a function called with {len(inputs)} arguments"
        )
    t = inputs[i]
    if t is None:
        raise TypeError(f"cannot differentiate with respect to static argument {i}")
    if t.spec.dtype not in _FLOATS:
        raise TypeError(
            f"grad requires floating-point inputs; argument {i} has dtype {t.spec.dtype}"
        )
    return t


def grad(fn, argnums=0, has_aux=False):
    """The gradient of a scalar-valued ``fn`` with respect to argument(s) ``argnums``
    (`jax.grad`)."""
    return _Compiled(fn, (), _grad_transform(argnums, has_aux, with_value=False))


def value_and_grad(fn, argnums=0, has_aux=False):
    """``(fn(*args), grad(fn)(*args))`` computed in one compiled function (`jax.value_and_grad`)."""
    return _Compiled(fn, (), _grad_transform(argnums, has_aux, with_value=True))
