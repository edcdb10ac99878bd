"""The user functions of a pipeline (map, filter, flat_map) and the context a pipeline runs in.

A function is traced once, when the transformation is made: each component of the element becomes
a placeholder in the user's graph (under a name scope of its own, as TF keeps a dataset function in
a function graph of its own), and the function builds ordinary tgc ops on them. At run time each
element is fed to those placeholders and the function's outputs are fetched with a run of the
session that runs the iterator, so the function's ops compile once and read the session's variables
and random state, as TF's dataset functions do. Placeholders of the user's that a function reads
(not its arguments) are captured: their values are those fed with the iterator's initializer.
"""

from __future__ import annotations

import numpy as np

from tgc.frontend.build import convert_to_tensor, placeholder
from tgc.frontend.data import structure
from tgc.graph.graph import Tensor, get_default_graph


class RunContext:
    """One initialization of an iterator: the session, the values of the pipeline's captured
    tensors, and what transformations keep for as long as the iterator lives (caches, epochs)."""

    def __init__(self, session, values: dict):
        self.session = session
        self.values = values
        self.kept: dict = {}

    def value(self, tensor):
        return self.values[tensor]

    def with_values(self, values: dict) -> "RunContext":
        """A context that also knows ``values`` (flat_map's inner dataset of one element)."""
        inner = RunContext(self.session, {**self.values, **values})
        inner.kept = self.kept
        return inner

    def run(self, fetches, feeds: dict):
        """Fetches graph tensors in the iterator's session, the captured placeholders fed."""
        feed_dict = dict(feeds)
        for tensor in self.values:
            if tensor.op.type == "Placeholder" and tensor not in feed_dict:
                feed_dict[tensor] = self.values[tensor]
        return self.session.run(fetches, feed_dict)


def outer_placeholders(tensors, inside=()) -> list:
    """The placeholders upstream of ``tensors`` that are not in ``inside`` (a function's own
    arguments): the values a function captures from the user's graph."""
    inside = set(inside)
    found, seen, stack = [], set(), [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        for tensor in op.inputs:
            if tensor in inside:
                continue
            if tensor.op.type == "Placeholder":
                # (the graph's random-number step counter is a placeholder the session feeds)
                if tensor not in found and tensor.op is not _rng_step(tensor.op):
                    found.append(tensor)
                continue
            stack.append(tensor.op)
        stack.extend(op.control_inputs)
    return found


def _rng_step(op):
    return getattr(op.graph, "_rng_step", None)


class TracedFunction:
    """A user function traced on placeholders of an element's structure (``specs``)."""

    def __init__(self, fn, specs, what: str):
        self.what = what
        graph = get_default_graph()
        with graph.name_scope(f"{what}_fn"):
            self.args = [
                placeholder(s.dtype, s.shape, name=f"args_{i}")
                for i, s in enumerate(structure.flatten(specs))
            ]
            packed = structure.pack(specs, self.args)
            result = _call(fn, packed)
            self.result = result
            if not _is_dataset(result):
                self.outputs = structure.map_structure(self._as_tensor, _tuple_lists(result))
        if not _is_dataset(result):
            self.flat_outputs = structure.flatten(self.outputs)
            self.specs = structure.map_structure(lambda t: t.spec, self.outputs)
            self.captures = outer_placeholders(self.flat_outputs, self.args)

    def _as_tensor(self, value) -> Tensor:
        if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
            return convert_to_tensor(value)
        if _is_dataset(value):
            raise TypeError(f"the function of {self.what} returned a Dataset inside a structure")
        try:
            return convert_to_tensor(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"the function of {self.what} returned {value!r}, which is not a tensor: {exc}"
            ) from None

    def feeds(self, element) -> dict:
        return dict(zip(self.args, element))

    def __call__(self, context: RunContext, element) -> tuple:
        """The function's outputs for one element (a flat tuple of arrays)."""
        if not self.flat_outputs:
            return ()
        values = context.run(self.flat_outputs, self.feeds(element))
        return tuple(structure.as_component(v, t.spec) for v, t in zip(values, self.flat_outputs))


def _call(fn, element):
    """TF's convention: a tuple element is passed as separate arguments, anything else as one."""
    if isinstance(element, tuple) and not hasattr(element, "_fields"):
        return fn(*element)
    return fn(element)


def _tuple_lists(value):
    """A list a function returns is a tuple of components (TF converts it the same way)."""
    if isinstance(value, list):
        return tuple(_tuple_lists(v) for v in value)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_tuple_lists(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuple_lists(v) for k, v in value.items()}
    return value


def _is_dataset(value) -> bool:
    return getattr(value, "is_dataset", False) is True


def as_bool(value) -> bool:
    return bool(np.asarray(value))
