"""`tf.data.experimental.choose_from_datasets` and `sample_from_datasets`: one stream made of the
elements of several datasets of one structure."""

from __future__ import annotations

import numpy as np

from tgc.dialect.types import TensorSpec
from tgc.frontend.data import structure
from tgc.frontend.data.dataset_ops import Dataset, _invalid
from tgc.graph.graph import get_default_graph


def _common_specs(datasets, what: str):
    datasets = list(datasets)
    if not datasets or not all(getattr(d, "is_dataset", False) for d in datasets):
        raise TypeError(f"{what} takes a non-empty list of Datasets")
    first = datasets[0]._specs
    for other in datasets[1:]:
        same = structure.same_structure(first, other._specs) and all(
            a.dtype == b.dtype
            for a, b in zip(structure.flatten(first), structure.flatten(other._specs))
        )
        if not same:
            raise TypeError(
                f"{what}: all datasets need the same element types; got {datasets[0].output_types}"
                f" and {other.output_types}"
            )
    return datasets, structure.map_structure(
        lambda *specs: TensorSpec(_shared_shape([s.shape for s in specs]), specs[0].dtype),
        *[d._specs for d in datasets],
    )


def _shared_shape(shapes):
    shape = shapes[0]
    for other in shapes[1:]:
        shape = structure.most_specific_shape(shape, other)
    return shape


class _Choose(Dataset):
    """Each element of ``choice`` (an int64 scalar) picks the dataset whose next element comes
    next; a pick of an exhausted dataset is skipped (or ends the stream with
    ``stop_on_empty_dataset``)."""

    def __init__(self, datasets, choice, stop_on_empty_dataset):
        datasets, specs = _common_specs(datasets, "choose_from_datasets")
        spec = getattr(choice, "_specs", None)
        if not isinstance(spec, TensorSpec) or spec.dtype != "int64" or spec.shape != ():
            raise TypeError(
                "choose_from_datasets: choice_dataset must give scalar int64 elements, got "
                f"{getattr(choice, 'output_types', choice)}"
            )
        self._count = len(datasets)
        self._stop = bool(stop_on_empty_dataset)
        super().__init__(specs, inputs=[choice, *datasets])

    def _elements(self, context):
        choices = self._inputs[0]._elements(context)
        streams = [d._elements(context) for d in self._inputs[1:]]
        for (index,) in choices:
            k = int(index)
            if not 0 <= k < self._count:
                raise _invalid(
                    f"choose_from_datasets: choice {k} is not a dataset index in [0, {self._count})"
                )
            element = next(streams[k], None)
            if element is None:
                if self._stop:
                    return
                continue
            yield element


class _Sample(Dataset):
    """Each element comes from a dataset drawn with probability proportional to its weight (tgc's
    random draws, not TF's: deterministic with a seed, op or graph, as shuffle). An exhausted
    dataset leaves the draw (or ends the stream with ``stop_on_empty_dataset``)."""

    def __init__(self, datasets, weights, seed, stop_on_empty_dataset):
        datasets, specs = _common_specs(datasets, "sample_from_datasets")
        count = len(datasets)
        weights = np.ones(count) if weights is None else np.asarray(weights, np.float64)
        if weights.shape != (count,) or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(
                f"sample_from_datasets: weights must be {count} non-negative numbers, not all 0; "
                f"got {weights.tolist()}"
            )
        self._weights = weights
        graph = get_default_graph()
        self._seeds = None if seed is None and graph.seed is None else graph.next_seeds(seed)
        self._stop = bool(stop_on_empty_dataset)
        super().__init__(specs, inputs=datasets)

    def _elements(self, context):
        rng = np.random.default_rng(None if self._seeds is None else list(self._seeds))
        streams = [d._elements(context) for d in self._inputs]
        weights = self._weights.copy()
        while weights.sum() > 0:
            k = int(rng.choice(len(streams), p=weights / weights.sum()))
            element = next(streams[k], None)
            if element is None:
                if self._stop:
                    return
                weights[k] = 0.0
                continue
            yield element


def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=False):
    return _Choose(datasets, choice_dataset, stop_on_empty_dataset)


def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False):
    return _Sample(datasets, weights, seed, stop_on_empty_dataset)
