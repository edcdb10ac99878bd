"""The structure of a dataset's elements: nested tuples, dicts and namedtuples of components.

A structure is kept as the user gave it, with a TensorSpec (shape, dtype name) at each leaf; at run
time an element is the flat tuple of its components' numpy arrays, in ``flatten`` order (TF's
``nest`` order: sequences in order, dicts by sorted key).
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype, numpy_dtype
from tgc.graph.graph import TensorShape


def is_sequence(value) -> bool:
    """A tuple (namedtuple included) or a dict: the nodes of a structure. Lists are values, as in
    TF's tf.data (a list of numbers is one tensor)."""
    return isinstance(value, (tuple, dict))


def flatten(structure) -> list:
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, tuple):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack(structure, flat):
    """``structure`` rebuilt with the leaves of ``flat`` (in ``flatten`` order)."""
    leaves = iter(flat)
    packed = _pack(structure, leaves)
    return packed


def _pack(structure, leaves):
    if isinstance(structure, dict):
        built = {key: _pack(structure[key], leaves) for key in sorted(structure)}
        return type(structure)((key, built[key]) for key in structure)
    if isinstance(structure, tuple):
        items = [_pack(item, leaves) for item in structure]
        return type(structure)(*items) if hasattr(structure, "_fields") else tuple(items)
    return next(leaves)


def map_structure(fn, *structures):
    flats = [flatten(s) for s in structures]
    return pack(structures[0], [fn(*leaves) for leaves in zip(*flats)])


def same_structure(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and sorted(a) == sorted(b)
            and all(same_structure(a[k], b[k]) for k in a)
        )
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (
            isinstance(a, tuple)
            and isinstance(b, tuple)
            and len(a) == len(b)
            and all(same_structure(x, y) for x, y in zip(a, b))
        )
    return True


def spec_of(dtype, shape=None) -> TensorSpec:
    """A component's spec from a dtype (any spelling) and a shape (TensorShape, list, None)."""
    return TensorSpec(shape_tuple(shape), as_dtype(dtype).name)


def shape_tuple(shape):
    if shape is None:
        return None
    if isinstance(shape, TensorShape):
        return None if shape.ndims is None else tuple(shape.as_list())
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(
        None if getattr(d, "value", d) is None else int(getattr(d, "value", d)) for d in shape
    )


def types_of(specs):
    return map_structure(lambda s: as_dtype(s.dtype), specs)


def shapes_of(specs):
    return map_structure(lambda s: TensorShape(s.shape), specs)


def classes_of(specs):
    from tgc.graph.graph import Tensor

    return map_structure(lambda s: Tensor, specs)


class HasElementStructure:
    """TF's views of an element's structure (``_specs``), shared by datasets and iterators."""

    _specs = None

    @property
    def output_types(self):
        return types_of(self._specs)

    @property
    def output_shapes(self):
        return shapes_of(self._specs)

    @property
    def output_classes(self):
        return classes_of(self._specs)

    @property
    def element_spec(self):
        return self._specs


def compatible_shape(expected, actual) -> bool:
    """Whether a shape ``actual`` (None: unknown) fits ``expected`` (None dims: any)."""
    if expected is None or actual is None:
        return True
    return len(expected) == len(actual) and all(
        e is None or a is None or e == a for e, a in zip(expected, actual)
    )


def most_specific_shape(a, b):
    """The shape two components share: dims that differ become unknown (concatenate, from_structure
    of several datasets)."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


def shape_text(shape) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def as_component(value, spec: TensorSpec) -> np.ndarray:
    """A component's value as a row-major array of its spec's dtype (strings: an object array of
    bytes, as TF returns them)."""
    if spec.dtype == "string":
        array = np.asarray(value, dtype=object)
        out = np.empty(array.shape, dtype=object)
        for index, item in np.ndenumerate(array):
            out[index] = item.encode() if isinstance(item, str) else bytes(item)
        return out
    return np.asarray(value, dtype=numpy_dtype(spec.dtype), order="C")


def shape_structure(types, shapes):
    """output_shapes as a structure like output_types (a shape per component; None: unknown)."""
    if isinstance(types, dict):
        if shapes is not None and not isinstance(shapes, dict):
            raise TypeError("output_shapes must be a dict like output_types")
        return {
            k: shape_structure(v, None if shapes is None else shapes[k]) for k, v in types.items()
        }
    if isinstance(types, tuple):
        if shapes is not None and (
            not isinstance(shapes, (tuple, list)) or len(shapes) != len(types)
        ):
            raise TypeError(
                f"output_shapes {shapes!r} does not match the structure of "
                f"output_types ({len(types)} components)"
            )
        parts = [None] * len(types) if shapes is None else shapes
        return tuple(shape_structure(t, s) for t, s in zip(types, parts))
    # A TensorShape, not a tuple, so that a shape is a leaf of the structure.
    return TensorShape(shape_tuple(shapes))
