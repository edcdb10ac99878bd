"""`tf.data.Dataset` (TF1's DatasetV1) as host-side pipelines of numpy elements.

A Dataset is a description: its element structure (``_specs``, a TensorSpec per component), the
graph tensors whose values it needs when an iterator is initialized (``_captures``), and
``_elements(context)``, a generator of elements (flat tuples of arrays) for one pass. Iterators
(tgc/frontend/data/iterator_ops.py) run it inside the session: nothing of it is compiled except the
functions given to map, filter and flat_map (tgc/frontend/data/functions.py).
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.frontend.data import iterator_ops, structure
from tgc.frontend.data.functions import TracedFunction, as_bool
from tgc.graph.graph import Tensor, get_default_graph


class Dataset(structure.HasElementStructure):
    """A pipeline of elements (`tf.data.Dataset`)."""

    is_dataset = True  # how iterators and functions tell a Dataset (they do not import this module)

    def __init__(self, specs, inputs=(), captures=()):
        self._specs = specs
        self._inputs = list(inputs)
        self._captures = list(captures)
        self._graph = get_default_graph()

    def _flat_specs(self) -> list:
        return structure.flatten(self._specs)

    def all_captures(self) -> list:
        """The tensors whose values the pipeline needs, its inputs' included (each once)."""
        found = []
        for dataset in [self, *self._inputs]:
            tensors = dataset._captures if dataset is self else dataset.all_captures()
            found.extend(t for t in tensors if t not in found)
        return found

    def _elements(self, context):
        raise NotImplementedError  # every subclass defines its elements

    # ---- sources ------------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors):
        return _Slices(tensors)

    @staticmethod
    def from_tensors(tensors):
        return _Tensors(tensors)

    @staticmethod
    def range(*args, output_type="int64"):
        return _Range(args, output_type)

    @staticmethod
    def zip(datasets):
        return _Zip(datasets)

    @staticmethod
    def from_generator(generator, output_types, output_shapes=None, args=None):
        return _Generator(generator, output_types, output_shapes, args)

    # ---- transformations ----------------------------------------------------------------------

    def batch(self, batch_size, drop_remainder=False):
        return _Batch(self, batch_size, drop_remainder)

    def padded_batch(
        self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False
    ):
        return _PaddedBatch(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def unbatch(self):
        return _Unbatch(self)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        return _Shuffle(self, buffer_size, seed, reshuffle_each_iteration)

    def repeat(self, count=None):
        return _Repeat(self, count)

    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        return _Map(self, map_func)

    def filter(self, predicate):
        return _Filter(self, predicate)

    def flat_map(self, map_func):
        return _FlatMap(self, map_func)

    def interleave(
        self, map_func, cycle_length=None, block_length=None, num_parallel_calls=None, **unused
    ):
        return _Interleave(self, map_func, cycle_length, block_length)

    def take(self, count):
        return _Take(self, count)

    def skip(self, count):
        return _Skip(self, count)

    def shard(self, num_shards, index):
        return _Shard(self, num_shards, index)

    def prefetch(self, buffer_size):
        """Prefetching overlaps input with training in TF; here elements are made when a run asks
        for them, so it changes nothing."""
        return _Identity(self)

    def cache(self, filename=""):
        if filename:
            raise ValueError(
                "tgc's Dataset.cache keeps elements in memory only; cache(filename="
                f"{filename!r}) is not supported (call cache() without a file name)"
            )
        return _Cache(self)

    def concatenate(self, dataset):
        return _Concatenate(self, dataset)

    def enumerate(self, start=0):
        return Dataset.zip((Dataset.range(start, np.iinfo(np.int64).max), self))

    def apply(self, transformation_func):
        result = transformation_func(self)
        if not isinstance(result, Dataset):
            raise TypeError(
                f"the function given to Dataset.apply returned {type(result).__name__}, not a "
                "Dataset"
            )
        return result

    def with_options(self, options):
        """Options tune TF's threads and optimizations; tgc's pipelines have neither."""
        return self

    def options(self):
        return Options()

    def unique(self):
        return _Unique(self)

    def map_with_legacy_function(self, map_func, num_parallel_calls=None, deterministic=None):
        return self.map(map_func)

    def filter_with_legacy_function(self, predicate):
        return self.filter(predicate)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None):
        """The files matching the pattern(s), sorted; shuffled unless ``shuffle=False`` (each
        pass anew, deterministically with a seed, as shuffle)."""
        files = _ListFiles(file_pattern)
        if shuffle is False:
            return files
        return files.shuffle(_LIST_FILES_BUFFER, seed=seed)

    def __getattr__(self, name):
        reason = _NOT_SUPPORTED.get(name)
        if reason is not None:
            from tgc.frontend.unsupported import UnsupportedError

            raise UnsupportedError(f"tgc does not support Dataset.{name} yet: {reason}")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # ---- iterators (TF1) ----------------------------------------------------------------------

    def make_one_shot_iterator(self):
        return iterator_ops.make_one_shot_iterator(self)

    def make_initializable_iterator(self, shared_name=None):
        return iterator_ops.make_initializable_iterator(self, shared_name)

    def __iter__(self):
        raise RuntimeError(
            "iterating over a Dataset in Python needs eager execution; in a TF1 graph use "
            "dataset.make_one_shot_iterator().get_next() and Session.run"
        )

    def __repr__(self):
        types = structure.map_structure(lambda s: s.dtype, self._specs)
        shapes = structure.map_structure(lambda s: structure.shape_text(s.shape), self._specs)
        return f"<{type(self).__name__.lstrip('_')}Dataset shapes: {shapes}, types: {types}>"


DatasetV1 = Dataset

_EAGER = "it needs eager execution; in a TF1 graph read the dataset through an iterator"
_NOT_SUPPORTED = {
    "window": "tgc's elements are tensors, not nested datasets",
    "reduce": _EAGER,
    "as_numpy_iterator": _EAGER,
    "get_single_element": _EAGER,
    "cardinality": "tgc's pipelines do not count their elements ahead",
    "scan": "no stateful scan over elements in tgc's pipelines",
    "group_by_window": "tgc's elements are tensors, not nested datasets",
    "bucket_by_sequence_length": "not provided: use padded_batch",
    "rejection_resample": "not provided",
    "snapshot": "not provided: use cache()",
    "ignore_errors": "not provided: an element's error fails the run",
    "from_sparse_tensor_slices": "tgc has no sparse tensors",
    "sparse_batch": "tgc has no sparse tensors",
    "random": "not provided: use tf.data.Dataset.range(...).map with a random op",
}
_LIST_FILES_BUFFER = 1 << 30  # list_files shuffles all the names (a buffer larger than any list)


# ---- sources ----------------------------------------------------------------------------------


def _component(value, what: str):
    """A graph tensor, or an array of TF's dtype for ``value`` (Python ints are int32, floats
    float32; numpy arrays keep their dtype; text is string)."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        from tgc.frontend.build import convert_to_tensor

        return convert_to_tensor(value)
    if isinstance(value, Dataset):
        raise TypeError(f"{what} takes tensors, not a Dataset")
    array = np.asarray(value)
    if array.dtype.kind in "US" or (array.dtype == object and _all_text(array)):
        return structure.as_component(array, TensorSpec(array.shape, "string"))
    if array.dtype == object:
        raise TypeError(f"{what} cannot make a tensor of {value!r}")
    if not isinstance(value, np.ndarray) and not isinstance(value, np.generic):
        if array.dtype == np.int64:
            array = array.astype(np.int32)
        elif array.dtype == np.float64:
            array = array.astype(np.float32)
    as_dtype(array.dtype)  # raises for a dtype tgc has not
    return np.array(array, order="C")  # (ascontiguousarray would make a scalar rank 1)


def _all_text(array) -> bool:
    return all(isinstance(v, (str, bytes)) for v in array.flat)


def _spec(component) -> TensorSpec:
    if isinstance(component, Tensor):
        return component.spec
    dtype = "string" if component.dtype == object else as_dtype(component.dtype).name
    return TensorSpec(tuple(component.shape), dtype)


def _value(component, context):
    return context.value(component) if isinstance(component, Tensor) else component


class _Tensors(Dataset):
    """`Dataset.from_tensors`: one element, the given tensors."""

    what = "Dataset.from_tensors"

    def __init__(self, tensors):
        self._components = structure.map_structure(
            lambda v: _component(v, self.what), _tuple_lists_to_values(tensors)
        )
        flat = structure.flatten(self._components)
        specs = structure.map_structure(self._element_spec, self._components)
        super().__init__(specs, captures=[c for c in flat if isinstance(c, Tensor)])

    def _element_spec(self, component) -> TensorSpec:
        return _spec(component)

    def _elements(self, context):
        flat = structure.flatten(self._components)
        yield tuple(
            structure.as_component(_value(c, context), s) for c, s in zip(flat, self._flat_specs())
        )


class _Slices(_Tensors):
    """`Dataset.from_tensor_slices`: the elements are the rows (along dim 0) of the tensors."""

    what = "Dataset.from_tensor_slices"

    def __init__(self, tensors):
        super().__init__(tensors)
        sizes = {s.shape[0] for s in structure.flatten(self._full_specs()) if s.shape}
        sizes.discard(None)
        if len(sizes) > 1:
            first, second = sorted(sizes)[:2]
            raise ValueError(
                f"Dimensions {first} and {second} are not compatible ({self.what}: every component "
                "needs the same size of dimension 0)"
            )

    def _full_specs(self):
        return structure.map_structure(_spec, self._components)

    def _element_spec(self, component) -> TensorSpec:
        spec = _spec(component)
        if spec.shape is not None and len(spec.shape) == 0:
            raise ValueError(
                "Unbatching a tensor is only supported for rank >= 1: "
                f"{self.what} slices the tensors along their first dimension; got a scalar"
                + (f" ('{component.name}')" if isinstance(component, Tensor) else "")
            )
        return TensorSpec(None if spec.shape is None else spec.shape[1:], spec.dtype)

    def _elements(self, context):
        arrays = [np.asarray(_value(c, context)) for c in structure.flatten(self._components)]
        sizes = {a.shape[0] if a.ndim else None for a in arrays}
        if len(sizes) != 1 or None in sizes:
            raise _invalid(
                f"{self.what}: the components fed have shapes {[list(a.shape) for a in arrays]}; "
                "each needs rank 1 or more and the same size of dimension 0"
            )
        specs = self._flat_specs()
        for i in range(sizes.pop()):
            yield tuple(structure.as_component(a[i], s) for a, s in zip(arrays, specs))


def _tuple_lists_to_values(tensors):
    """In from_tensor(s/_slices), a list is one tensor: a list holding graph tensors is packed
    with tf.stack, as TF converts it."""
    return structure.map_structure(_packed_list, tensors)


def _packed_list(value):
    if isinstance(value, list) and any(
        isinstance(v, Tensor) or hasattr(v, "_as_graph_element") for v in value
    ):
        from tgc.frontend.array_ops import stack

        return stack(value)
    return value


class _Range(Dataset):
    def __init__(self, args, output_type):
        if not 1 <= len(args) <= 3:
            raise ValueError(
                f"Dataset.range takes 1 to 3 arguments (start, stop, step), got {args}"
            )
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
        if not isinstance(step, Tensor) and int(step) == 0:
            raise ValueError("Dataset.range: step must not be 0")
        self._args = [_scalar(v, "Dataset.range") for v in (start, stop, step)]
        super().__init__(TensorSpec((), as_dtype(output_type).name), captures=_tensors(self._args))

    def _elements(self, context):
        dtype = self._specs
        start, stop, step = (_int(v, context) for v in self._args)
        if step == 0:
            raise _invalid("Dataset.range: step must not be 0")
        for i in range(start, stop, step):
            yield (structure.as_component(i, dtype),)


class _Zip(Dataset):
    def __init__(self, datasets):
        flat = structure.flatten(datasets)
        if not flat or not all(isinstance(d, Dataset) for d in flat):
            raise TypeError("Dataset.zip takes a (nested) tuple or dict of Datasets")
        self._datasets = datasets
        specs = structure.map_structure(lambda d: d._specs, datasets)
        super().__init__(specs, inputs=flat)

    def _elements(self, context):
        streams = [d._elements(context) for d in self._inputs]
        for parts in zip(*streams):
            yield tuple(c for part in parts for c in part)


class _Generator(Dataset):
    """`Dataset.from_generator`: the elements a Python generator yields, run on the host."""

    def __init__(self, generator, output_types, output_shapes, args):
        if not callable(generator):
            raise TypeError("Dataset.from_generator takes a callable that returns an iterator")
        shapes = structure.shape_structure(output_types, output_shapes)
        self._generator = generator
        self._args = [_component(a, "Dataset.from_generator's args") for a in (args or ())]
        specs = structure.map_structure(structure.spec_of, output_types, shapes)
        super().__init__(specs, captures=_tensors(self._args))

    def _elements(self, context):
        specs = self._flat_specs()
        items = _python_errors_as_tf(self._generator(*self._call_args(context)))
        for item in items:
            item = _lists_as_tuples(item, self._specs)
            if structure.is_sequence(self._specs) and not structure.same_structure(
                self._specs, item
            ):
                raise _invalid(
                    "TypeError: `generator` yielded an element that did not match the expected "
                    f"structure. The expected structure was {structure.types_of(self._specs)}, "
                    f"but the yielded element was {item!r}."
                )
            yield tuple(
                _checked(v, s, i)
                for i, (v, s) in enumerate(zip(_flat_item_of(self._specs, item), specs))
            )

    def _call_args(self, context) -> list:
        """TF passes args as numpy values: arrays, numpy scalars for rank 0, bytes for a string."""
        values = [np.asarray(_value(a, context)) for a in self._args]
        return [v.item() if v.dtype == object and v.ndim == 0 else v[()] for v in values]


def _python_errors_as_tf(iterator):
    """A generator's error fails the run as TF's: InvalidArgumentError saying "Type: message"."""
    from tgc import errors

    iterator = iter(iterator)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except errors.OpError:
            raise
        except Exception as exc:  # the user's generator: any error it raises fails the run
            raise _invalid(f"{type(exc).__name__}: {exc}") from exc
        yield item


def _lists_as_tuples(item, specs):
    if isinstance(specs, tuple) and isinstance(item, list):
        return tuple(_lists_as_tuples(i, s) for i, s in zip(item, specs))
    if isinstance(specs, tuple) and isinstance(item, tuple):
        return tuple(_lists_as_tuples(i, s) for i, s in zip(item, specs))
    return item


def _flat_item_of(specs, item) -> list:
    """A generated element's components (one component's value may itself be a tuple)."""
    return structure.flatten(item) if structure.is_sequence(specs) else [item]


def _shape_repr(shape) -> str:
    return (
        "<unknown>"
        if shape is None
        else str(tuple("None" if d is None else d for d in shape)).replace("'", "")
    )


def _checked(value, spec, index):
    """A generated component converted to its declared dtype and checked against its shape."""
    try:
        array = structure.as_component(value, spec)
    except (TypeError, ValueError) as exc:
        raise _invalid(
            f"TypeError: `generator` yielded an element that could not be converted to the "
            f"expected type. The expected type was {spec.dtype}, but the yielded element was "
            f"{value!r} ({exc})."
        ) from None
    if not structure.compatible_shape(spec.shape, array.shape):
        raise _invalid(
            f"TypeError: `generator` yielded an element of shape {tuple(array.shape)} where an "
            f"element of shape {_shape_repr(spec.shape)} was expected (component {index})."
        )
    return array


# ---- transformations --------------------------------------------------------------------------


class _Identity(Dataset):
    def __init__(self, dataset):
        super().__init__(dataset._specs, inputs=[dataset])

    def _elements(self, context):
        return self._inputs[0]._elements(context)


class _Batch(Dataset):
    def __init__(self, dataset, batch_size, drop_remainder):
        self._size = _scalar(batch_size, "batch_size", minimum=1)
        self._drop = bool(drop_remainder)
        outer = self._size if self._drop and isinstance(self._size, int) else None
        specs = structure.map_structure(
            lambda s: TensorSpec(None if s.shape is None else (outer, *s.shape), s.dtype),
            dataset._specs,
        )
        super().__init__(specs, inputs=[dataset], captures=_tensors([self._size]))

    def _elements(self, context):
        stream = self._inputs[0]._elements(context)
        size = _int(self._size, context, "batch_size", minimum=1)
        while True:
            rows = list(itertools.islice(stream, size))
            if not rows or (self._drop and len(rows) < size):
                return
            yield tuple(self._stack([r[i] for r in rows], i, context) for i in range(len(rows[0])))

    def _stack(self, parts, index, context):
        first = parts[0].shape
        for k, part in enumerate(parts):
            if part.shape != first:
                raise _invalid(
                    f"Cannot batch tensors with different shapes in component {index}. First "
                    f"element had shape {list(first)} and element {k} had shape {list(part.shape)}."
                )
        return np.stack(parts)


class _PaddedBatch(_Batch):
    def __init__(self, dataset, batch_size, padded_shapes, padding_values, drop_remainder):
        specs = dataset._flat_specs()
        if padded_shapes is None:
            shapes = [s.shape for s in specs]
        else:
            shapes = [structure.shape_tuple(s) for s in _flat_shapes(padded_shapes, dataset._specs)]
        for spec, shape in zip(specs, shapes):
            if spec.shape is None or shape is None:
                raise ValueError("padded_batch needs the rank of every component")
            if not structure.compatible_shape(shape, spec.shape) and not _pads(shape, spec.shape):
                raise ValueError(
                    f"padded_batch: padded shape {structure.shape_text(shape)} cannot hold "
                    f"components of shape {structure.shape_text(spec.shape)}"
                )
        self._padded = shapes
        self._fill = _padding_values(padding_values, dataset._specs)
        super().__init__(dataset, batch_size, drop_remainder)
        self._captures += _tensors(self._fill)
        outer = self._size if self._drop and isinstance(self._size, int) else None
        self._specs = structure.pack(
            dataset._specs,
            [TensorSpec((outer, *shape), s.dtype) for shape, s in zip(shapes, specs)],
        )

    def _stack(self, parts, index, context):
        wanted = self._padded[index]
        dims = [
            max(p.shape[axis] for p in parts) if d is None else d for axis, d in enumerate(wanted)
        ]
        fill = structure.as_component(_value(self._fill[index], context), self._flat_specs()[index])
        out = np.full(
            (len(parts), *dims), fill.item() if fill.dtype == object else fill, fill.dtype
        )
        for k, part in enumerate(parts):
            if any(have > want for have, want in zip(part.shape, dims)):
                raise _invalid(
                    f"Attempted to pad to a smaller size than the input element: component "
                    f"{index} has shape {list(part.shape)}, padded shape {dims}."
                )
            # (an object array's 0-d part is assigned by its item, not as an array object)
            out[(k, *[slice(0, d) for d in part.shape])] = part if part.ndim else part.item()
        return out


def _padding_values(values, specs) -> list:
    """One padding value per component (a graph tensor or an array): zeros (empty strings) by
    default; given values must have their component's dtype, as in TF (Python ints are int32)."""
    flat = structure.flatten(specs)
    if values is None:
        return [structure.as_component(b"" if s.dtype == "string" else 0, s) for s in flat]
    given = [_component(v, "padded_batch") for v in _flat_shapes(values, specs)]
    for value, spec in zip(given, flat):
        dtype = _spec(value).dtype
        if dtype != spec.dtype:
            raise TypeError(
                f"Invalid `padding_values`. `padding_values` values type <dtype: '{dtype}'> does "
                f"not match type <dtype: '{spec.dtype}'> of the corresponding input component."
            )
        if _spec(value).shape not in ((), None):
            raise ValueError(f"padded_batch: a padding value must be a scalar, got {value!r}")
    return given


def _pads(padded, shape) -> bool:
    return len(padded) == len(shape) and all(
        p is None or s is None or p >= s for p, s in zip(padded, shape)
    )


def _flat_shapes(shapes, specs) -> list:
    if isinstance(specs, (tuple, dict)):
        if isinstance(specs, dict):
            return [s for key in sorted(specs) for s in _flat_shapes(shapes[key], specs[key])]
        return [s for sub, spec in zip(shapes, specs) for s in _flat_shapes(sub, spec)]
    return [shapes]


class _Unbatch(Dataset):
    def __init__(self, dataset):
        specs = structure.map_structure(
            lambda s: TensorSpec(None if s.shape is None else s.shape[1:], s.dtype),
            dataset._specs,
        )
        super().__init__(specs, inputs=[dataset])

    def _elements(self, context):
        for element in self._inputs[0]._elements(context):
            for i in range(element[0].shape[0] if element else 0):
                yield tuple(c[i] for c in element)


class _Shuffle(Dataset):
    """TF's shuffle: a buffer of ``buffer_size`` elements, from which each step takes a random
    one and puts the next input element in its place. With a seed (op or graph), the order is the
    same in every session and every initialization (not TF's order: its random generator differs);
    each pass of a repeat draws another order unless ``reshuffle_each_iteration=False``."""

    def __init__(self, dataset, buffer_size, seed, reshuffle_each_iteration):
        self._buffer = _scalar(buffer_size, "buffer_size", minimum=1)
        graph = get_default_graph()
        self._seeds = None if seed is None and graph.seed is None else graph.next_seeds(seed)
        self._reshuffle = reshuffle_each_iteration in (None, True)
        super().__init__(dataset._specs, inputs=[dataset], captures=_tensors([self._buffer]))

    def _rng(self, context):
        if self._seeds is None:
            return np.random.default_rng()
        passes = context.kept.get(id(self), 0)
        context.kept[id(self)] = passes + 1
        return np.random.default_rng([*self._seeds, passes if self._reshuffle else 0])

    def _elements(self, context):
        rng = self._rng(context)
        stream = self._inputs[0]._elements(context)
        size = _int(self._buffer, context, "buffer_size", minimum=1)
        buffer = list(itertools.islice(stream, size))
        for element in stream:
            k = int(rng.integers(len(buffer)))
            yield buffer[k]
            buffer[k] = element
        while buffer:
            k = int(rng.integers(len(buffer)))
            buffer[k], buffer[-1] = buffer[-1], buffer[k]
            yield buffer.pop()


class _Repeat(Dataset):
    def __init__(self, dataset, count):
        self._count = -1 if count is None else _scalar(count, "Dataset.repeat's count")
        super().__init__(dataset._specs, inputs=[dataset], captures=_tensors([self._count]))

    def _elements(self, context):
        count = _int(self._count, context)
        passes = itertools.count() if count < 0 else range(count)
        for _ in passes:
            empty = True
            for element in self._inputs[0]._elements(context):
                empty = False
                yield element
            if empty:
                return  # an empty dataset repeated forever is empty (TF's rule too)


class _Map(Dataset):
    def __init__(self, dataset, fn):
        self._fn = TracedFunction(fn, dataset._specs, "map")
        if not hasattr(self._fn, "specs"):
            raise TypeError("the function given to Dataset.map returned a Dataset; use flat_map")
        super().__init__(self._fn.specs, inputs=[dataset], captures=self._fn.captures)

    def _elements(self, context):
        for element in self._inputs[0]._elements(context):
            yield self._fn(context, element)


class _Filter(Dataset):
    def __init__(self, dataset, predicate):
        self._fn = TracedFunction(predicate, dataset._specs, "filter")
        result = getattr(self._fn, "specs", None)
        if (
            not isinstance(result, TensorSpec)
            or result.dtype != "bool"
            or result.shape
            not in (
                (),
                None,
            )
        ):
            raise ValueError(
                "Invalid `predicate`. `predicate` must return a `tf.bool` scalar tensor, but its "
                f"return type is {result}."
            )
        super().__init__(dataset._specs, inputs=[dataset], captures=self._fn.captures)

    def _elements(self, context):
        for element in self._inputs[0]._elements(context):
            if as_bool(self._fn(context, element)[0]):
                yield element


class _FlatMap(Dataset):
    """`flat_map`: ``fn`` returns a Dataset made from an element's components; its elements are
    produced in turn. The inner dataset's captured tensors are evaluated per element."""

    def __init__(self, dataset, fn):
        from tgc.frontend.data.functions import outer_placeholders

        self._fn = TracedFunction(fn, dataset._specs, "flat_map")
        inner = self._fn.result
        if not isinstance(inner, Dataset):
            raise TypeError(
                f"the function given to Dataset.flat_map must return a Dataset, got "
                f"{type(inner).__name__}"
            )
        self._inner = inner
        self._inner_tensors = inner.all_captures()
        captures = outer_placeholders(self._inner_tensors, self._fn.args)
        super().__init__(inner._specs, inputs=[dataset], captures=captures)

    def _inner_streams(self, context):
        """The inner dataset's elements for each input element, in turn."""
        for element in self._inputs[0]._elements(context):
            values = context.run(self._inner_tensors, self._fn.feeds(element))
            inner = context.with_values(dict(zip(self._inner_tensors, values)))
            yield self._inner._elements(inner)

    def _elements(self, context):
        for stream in self._inner_streams(context):
            yield from stream


class _Interleave(_FlatMap):
    """`interleave`: datasets of ``cycle_length`` input elements open at once, ``block_length``
    elements taken from each in turn; one that ends is replaced by the next input element's. TF's
    default cycle length (AUTOTUNE) is the number of CPU cores, as here."""

    def __init__(self, dataset, fn, cycle_length, block_length):
        super().__init__(dataset, fn)
        auto = cycle_length is None or int(cycle_length) == -1
        self._cycle = (os.cpu_count() or 1) if auto else _positive(cycle_length, "cycle_length")
        self._block = 1 if block_length is None else _positive(block_length, "block_length")

    def _elements(self, context):
        # TF's order (InterleaveDatasetOp): slots are opened when the cycle reaches them; a slot
        # whose dataset ends is emptied and the cycle moves on, refilling it on its next turn.
        inputs = self._inner_streams(context)
        slots, k, block, open_slots, inputs_left = [None] * self._cycle, 0, 0, 0, True
        while inputs_left or open_slots:
            if slots[k] is not None:
                element = next(slots[k], None)
                if element is not None:
                    yield element
                    block += 1
                    if block == self._block:
                        block, k = 0, (k + 1) % self._cycle
                    continue
                slots[k], open_slots = None, open_slots - 1
                block, k = 0, (k + 1) % self._cycle
            elif inputs_left:
                slots[k] = next(inputs, None)
                if slots[k] is None:
                    inputs_left = False
                else:
                    open_slots += 1
            else:
                block, k = 0, (k + 1) % self._cycle


class _Unique(Dataset):
    """`unique()`: each distinct element once, in order of first appearance (one component of an
    integer or string dtype, as TF requires)."""

    def __init__(self, dataset):
        spec = dataset._specs
        if (
            not isinstance(spec, TensorSpec)
            or spec.shape != ()
            or (spec.dtype not in ("int32", "int64", "string"))
        ):
            raise TypeError(
                "Dataset.unique needs elements that are one scalar of dtype int32, int64 or "
                f"string, got {structure.types_of(spec)} of shape {structure.shapes_of(spec)}"
            )
        super().__init__(spec, inputs=[dataset])

    def _elements(self, context):
        seen = set()
        for element in self._inputs[0]._elements(context):
            key = element[0].item()
            if key not in seen:
                seen.add(key)
                yield element


class _ListFiles(Dataset):
    """The names of the files matching ``pattern`` (a string, a list, or a string tensor), sorted,
    found when a pass starts (TF's error when none matches)."""

    def __init__(self, pattern):
        self._pattern = _component(pattern, "Dataset.list_files")
        captures = [self._pattern] if isinstance(self._pattern, Tensor) else []
        super().__init__(TensorSpec((), "string"), captures=captures)

    def _elements(self, context):
        import glob

        patterns = np.asarray(_value(self._pattern, context), dtype=object).ravel()
        patterns = [p.decode() if isinstance(p, bytes) else str(p) for p in patterns]
        names = sorted({name for p in patterns for name in glob.glob(p)})
        if not names:
            raise _invalid(
                f"Expected 'file_pattern' argument to match at least one file, got {patterns}"
            )
        spec = self._specs
        for name in names:
            yield (structure.as_component(name, spec),)


class _Take(Dataset):
    what = "take"

    def __init__(self, dataset, count):
        self._count = _scalar(count, f"Dataset.{self.what}'s count")
        super().__init__(dataset._specs, inputs=[dataset], captures=_tensors([self._count]))

    def _elements(self, context):
        stream = self._inputs[0]._elements(context)
        count = _int(self._count, context)
        return stream if count < 0 else itertools.islice(stream, count)


class _Skip(Dataset):
    what = "skip"

    def __init__(self, dataset, count):
        self._count = _scalar(count, f"Dataset.{self.what}'s count")
        super().__init__(dataset._specs, inputs=[dataset], captures=_tensors([self._count]))

    def _elements(self, context):
        stream = self._inputs[0]._elements(context)
        count = _int(self._count, context)
        if count < 0:
            return iter(())
        return itertools.islice(stream, count, None)


class _Shard(Dataset):
    def __init__(self, dataset, num_shards, index):
        self._shards = _positive(num_shards, "num_shards")
        self._index = int(index)
        if not 0 <= self._index < self._shards:
            raise ValueError(f"Dataset.shard: index {index} is not in [0, {num_shards})")
        super().__init__(dataset._specs, inputs=[dataset])

    def _elements(self, context):
        stream = self._inputs[0]._elements(context)
        return itertools.islice(stream, self._index, None, self._shards)


class _Cache(Dataset):
    """`cache()`: the first complete pass is kept (for as long as the iterator's initialization
    lives) and later passes replay it."""

    def __init__(self, dataset):
        super().__init__(dataset._specs, inputs=[dataset])

    def _elements(self, context):
        kept = context.kept.get(id(self))
        if kept is not None:
            yield from kept
            return
        elements = []
        for element in self._inputs[0]._elements(context):
            elements.append(element)
            yield element
        context.kept[id(self)] = elements


class _Concatenate(Dataset):
    def __init__(self, first, second):
        if not isinstance(second, Dataset):
            raise TypeError("Dataset.concatenate takes a Dataset")
        a, b = first._specs, second._specs
        types_a = (
            structure.map_structure(lambda s: s.dtype, a)
            if structure.same_structure(a, b)
            else None
        )
        if types_a is None or types_a != structure.map_structure(lambda s: s.dtype, b):
            raise TypeError(
                f"Dataset.concatenate: the datasets have different element types: "
                f"{structure.types_of(a)} and {structure.types_of(b)}"
            )
        specs = structure.map_structure(
            lambda x, y: TensorSpec(structure.most_specific_shape(x.shape, y.shape), x.dtype), a, b
        )
        super().__init__(specs, inputs=[first, second])

    def _elements(self, context):
        for dataset in self._inputs:
            yield from dataset._elements(context)


def _scalar(value, what: str, minimum=None):
    """A count or size: a Python int (checked now), or a scalar integer tensor whose value the
    iterator's initializer reads (checked then)."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        from tgc.frontend.build import convert_to_tensor

        tensor = convert_to_tensor(value)
        if tensor.spec.dtype not in ("int32", "int64") or tensor.spec.shape not in ((), None):
            raise TypeError(
                f"{what} must be a scalar int32 or int64 tensor; '{tensor.name}' has dtype "
                f"{tensor.spec.dtype} and shape {structure.shape_text(tensor.spec.shape)}"
            )
        return tensor
    if minimum is not None:
        return _positive(value, what)
    return int(value)


def _int(value, context, what="", minimum=None) -> int:
    """A count's value in this initialization."""
    if not isinstance(value, Tensor):
        return value
    number = int(np.asarray(context.value(value)))
    if minimum is not None and number < minimum:
        raise _invalid(f"{what} must be greater than zero, got {number}")
    return number


def _tensors(values) -> list:
    return [v for v in values if isinstance(v, Tensor)]


def _positive(value, what: str) -> int:
    if isinstance(value, Tensor):
        raise TypeError(
            f"tgc's tf.data takes {what} as a Python int; '{value.name}' is a tensor (its value is "
            "known only at run time)"
        )
    value = int(value)
    if value <= 0:
        raise ValueError(f"{what} must be greater than zero, got {value}")
    return value


def _invalid(message):
    from tgc import errors

    return errors.InvalidArgumentError(None, None, message)


class Options:
    """`tf.data.Options`: settings of TF's threads and graph rewrites (``experimental_*``,
    ``threading``...). tgc's pipelines have neither, so any option may be set and none changes
    the elements; ``with_options`` returns the dataset unchanged."""

    def __init__(self):
        object.__setattr__(self, "_values", {})

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._values.setdefault(name, Options())

    def __setattr__(self, name, value):
        self._values[name] = value

    def merge(self, options):
        merged = Options()
        merged._values.update(self._values)
        merged._values.update(getattr(options, "_values", {}))
        return merged
