"""TF1's dataset iterators: one-shot, initializable, reinitializable (``Iterator.from_structure``)
and feedable (``Iterator.from_string_handle``).

An iterator's ops are host ops (as a queue's are, tgc/frontend/queues.py): ``get_next`` is a source
that runs before the compiled part of a run and feeds it the next element; the initializer takes the
values of the tensors the dataset was built from (fed placeholders, or tensors the compiled part
computes) and starts a new pass in the session. The pass itself lives in the session (one per
session, as variables do), so two sessions read an iterator independently.
"""

from __future__ import annotations

import threading
import weakref

from tgc import errors
from tgc.dialect.types import TensorSpec
from tgc.frontend.data import structure
from tgc.frontend.data.functions import RunContext
from tgc.frontend.queues import GRAPHS_WITH_QUEUES
from tgc.graph.graph import Tensor, get_default_graph

_NOT_INITIALIZED = (
    "GetNext() failed because the iterator has not been initialized. Ensure that you have run the "
    "initializer operation for this iterator before getting the next element."
)


class _Pass:
    """An iterator's state in one session: the generator of the current pass (None before the
    first initialization), behind a lock for runs from several threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.elements = None
        self.finished = False

    def start(self, dataset, context) -> None:
        with self.lock:
            self.elements = dataset._elements(context)
            self.finished = False

    def next(self, op, start=None):
        with self.lock:
            if self.elements is None and start is not None:
                start()
            if self.elements is None:
                raise errors.FailedPreconditionError(None, op, _NOT_INITIALIZED)
            if not self.finished:
                try:
                    return next(self.elements)
                except StopIteration:
                    self.finished = True
            raise errors.OutOfRangeError(None, op, "End of sequence")


class Iterator(structure.HasElementStructure):
    """`tf.data.Iterator`: ``get_next()`` gives the next element's tensors (the dataset's
    structure) each run."""

    def __init__(self, specs, name=None, shared_name=None, one_shot=None):
        self._graph = get_default_graph()
        self._specs = specs
        self._one_shot = one_shot
        self._initializer = None
        self.name = self._graph.unique_name(name or "Iterator")
        self._shared_name = shared_name or self.name
        _ITERATORS.setdefault(self._graph, {})[self._shared_name] = self

    # ---- making iterators ---------------------------------------------------------------------

    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None):
        """An iterator for any dataset of this structure; ``make_initializer(dataset)`` gives the
        op that starts a pass over one (switching between a training and a test dataset)."""
        shapes = structure.shape_structure(output_types, output_shapes)
        specs = structure.map_structure(structure.spec_of, output_types, shapes)
        return Iterator(specs, shared_name=shared_name)

    @staticmethod
    def from_string_handle(string_handle, output_types, output_shapes=None, output_classes=None):
        """A feedable iterator: each run reads the iterator whose ``string_handle()`` value is fed
        to ``string_handle`` (a string placeholder)."""
        shapes = structure.shape_structure(output_types, output_shapes)
        specs = structure.map_structure(structure.spec_of, output_types, shapes)
        return _FeedableIterator(specs, string_handle)

    # ---- ops ----------------------------------------------------------------------------------

    @property
    def initializer(self):
        if self._initializer is None:
            raise ValueError(
                "The iterator does not have an initializer. This means it was likely created using "
                "`tf.data.Dataset.make_one_shot_iterator()`. For an initializable iterator, use "
                "`tf.data.Dataset.make_initializable_iterator()` instead. (An iterator made with "
                "Iterator.from_structure is started by make_initializer(dataset).)"
            )
        return self._initializer

    def make_initializer(self, dataset, name=None):
        """The op that starts a pass over ``dataset`` (of this iterator's structure)."""
        _check_fits(self._specs, dataset)
        captures = dataset.all_captures()

        def run(session, options, *values):
            context = RunContext(session, dict(zip(captures, values)))
            self._state(session).start(dataset, context)
            return ()

        return self._op("MakeIterator", name or "MakeIterator", captures, [], run)

    def get_next(self, name=None):
        """The next element's tensors; each run of them advances the iterator (OutOfRangeError
        at the end of the data)."""
        flat_specs = structure.flatten(self._specs)

        made = []  # the op, for its errors (it is made after its run function)

        def run(session, options, *values):
            op = made[0]
            element = self._next(session, op, values)
            return [
                _fetched(self._checked(op, i, v, s))
                for i, (v, s) in enumerate(zip(element, flat_specs))
            ]

        inputs = self._handle_inputs()
        made.append(self._op("IteratorGetNext", name or "IteratorGetNext", inputs, flat_specs, run))
        return structure.pack(self._specs, made[0].outputs)

    def string_handle(self, name=None):
        """A string scalar naming this iterator, to feed an iterator made with
        ``Iterator.from_string_handle``."""
        handle = self._shared_name.encode()

        def run(session, options, *values):
            return [structure.as_component(handle, TensorSpec((), "string"))]

        op = self._op(
            "IteratorToStringHandle",
            name or "IteratorToStringHandle",
            [],
            [TensorSpec((), "string")],
            run,
        )
        return op.outputs[0]

    # ---- running ------------------------------------------------------------------------------

    def _handle_inputs(self) -> list:
        return []

    def _state(self, session) -> _Pass:
        return session.host_state(("iterator", self._shared_name), _Pass)

    def _next(self, session, op, values):
        start = None
        if self._one_shot is not None:
            dataset = self._one_shot

            def start():
                captures = dataset.all_captures()
                values = session.run(captures) if captures else []
                state = self._state(session)
                state.elements = dataset._elements(RunContext(session, dict(zip(captures, values))))

        return self._state(session).next(op, start)

    def _checked(self, op, index, value, spec):
        if not structure.compatible_shape(spec.shape, value.shape):
            raise errors.InvalidArgumentError(
                None,
                op,
                f"'{op.name}': component {index} of the element has shape {list(value.shape)}, "
                f"where the iterator's shape is {structure.shape_text(spec.shape)}",
            )
        return value

    def _op(self, op_type, name, inputs, specs, run):
        op = self._graph.create_op(op_type, op_type, list(inputs), {}, list(specs), name=name)
        GRAPHS_WITH_QUEUES.add(self._graph)  # its outputs feed compiled ops: plan sources
        op.host_fn = _needs_session
        op.session_fn = run
        op.iterator = self
        return op


class _FeedableIterator(Iterator):
    """`Iterator.from_string_handle`: reads the iterator named by the fed handle."""

    def __init__(self, specs, handle):
        if not isinstance(handle, Tensor) or handle.spec.dtype != "string":
            raise TypeError("Iterator.from_string_handle takes a string tensor (a placeholder)")
        super().__init__(specs, name="Iterator")
        self._handle = handle

    def _handle_inputs(self) -> list:
        return [self._handle]

    def _next(self, session, op, values):
        name = values[0]
        name = name.item() if hasattr(name, "item") else name
        name = name.decode() if isinstance(name, bytes) else str(name)
        target = _ITERATORS.get(self._graph, {}).get(name)
        if target is None:
            raise errors.InvalidArgumentError(
                None, op, f"'{op.name}': no iterator has the string handle {name!r}"
            )
        if not _same_specs(self._specs, target._specs):
            raise errors.InvalidArgumentError(
                None,
                op,
                f"'{op.name}': the iterator of handle {name!r} gives elements of types "
                f"{target.output_types} and shapes {target.output_shapes}, not this iterator's "
                f"{self.output_types} and {self.output_shapes}",
            )
        return target._next(session, op, ())

    def make_initializer(self, dataset, name=None):
        raise TypeError(
            "an iterator made with Iterator.from_string_handle reads other iterators; initialize "
            "those"
        )

    def string_handle(self, name=None):
        return self._handle


def make_one_shot_iterator(dataset):
    """`tf.compat.v1.data.make_one_shot_iterator`: starts by itself at its first get_next; the
    dataset cannot depend on placeholders (TF's rule: nothing is fed to start it)."""
    _check_dataset(dataset)
    for tensor in dataset.all_captures():
        placeholder = _upstream_placeholder(tensor)
        if placeholder is not None:
            raise ValueError(
                f"Cannot capture a placeholder (name:{placeholder.op.name}, type:Placeholder) by "
                "value."
            )
    return Iterator(dataset._specs, name="OneShotIterator", one_shot=dataset)


def make_initializable_iterator(dataset, shared_name=None):
    """`tf.compat.v1.data.make_initializable_iterator`: ``iterator.initializer`` starts a pass
    (again on each run), with the placeholders the dataset was built from fed."""
    _check_dataset(dataset)
    iterator = Iterator(dataset._specs, shared_name=shared_name)
    iterator._initializer = iterator.make_initializer(dataset)
    return iterator


def get_output_types(dataset_or_iterator):
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator):
    return dataset_or_iterator.output_shapes


def get_output_classes(dataset_or_iterator):
    return dataset_or_iterator.output_classes


# Iterators by graph and shared name, for feedable iterators' handles.
_ITERATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check_dataset(dataset) -> None:
    if not getattr(dataset, "is_dataset", False):
        raise TypeError(f"expected a tf.data.Dataset, got {type(dataset).__name__}")
    if dataset._graph is not get_default_graph():
        # Its tensors and functions live in that graph, as a TF dataset's do.
        raise ValueError(
            "the dataset was made in another graph than the default graph, where its iterator "
            "would be: make the dataset inside the graph's `with graph.as_default():`"
        )


def _check_fits(specs, dataset) -> None:
    _check_dataset(dataset)
    theirs = dataset._specs
    if not structure.same_structure(specs, theirs):
        raise TypeError(
            f"Expected output types {structure.types_of(specs)} but got dataset with output types "
            f"{dataset.output_types}."
        )
    for mine, other in zip(structure.flatten(specs), structure.flatten(theirs)):
        if mine.dtype != other.dtype:
            raise TypeError(
                f"Expected output types {structure.types_of(specs)} but got dataset with output "
                f"types {dataset.output_types}."
            )
        if not structure.compatible_shape(mine.shape, other.shape):
            raise TypeError(
                f"Expected output shapes compatible with {structure.shapes_of(specs)} but got "
                f"dataset with output shapes {dataset.output_shapes}."
            )


def _same_specs(a, b) -> bool:
    if not structure.same_structure(a, b):
        return False
    return all(
        x.dtype == y.dtype and structure.compatible_shape(x.shape, y.shape)
        for x, y in zip(structure.flatten(a), structure.flatten(b))
    )


def _upstream_placeholder(tensor):
    from tgc.frontend.data.functions import outer_placeholders

    if tensor.op.type == "Placeholder":
        return tensor
    found = outer_placeholders([tensor])
    return found[0] if found else None


def _fetched(value):
    """A scalar string is fetched as bytes (TF's and tgc's string constants' way)."""
    return value.item() if value.dtype == object and value.ndim == 0 else value


def _needs_session(*values):
    raise RuntimeError("an iterator op runs only in Session.run")
