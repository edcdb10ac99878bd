"""`tf.data.experimental`: the names TF1 programs use from it."""

from tgc.frontend.data.combinators import choose_from_datasets, sample_from_datasets
from tgc.frontend.data.dataset_ops import Dataset
from tgc.frontend.data.readers import CsvDataset

# num_parallel_calls / buffer_size value asking TF to tune it; tgc makes elements one at a time.
AUTOTUNE = -1


def shuffle_and_repeat(buffer_size, count=None, seed=None):
    """`dataset.apply(shuffle_and_repeat(...))`: shuffle, then repeat (each pass reshuffled)."""
    return lambda dataset: dataset.shuffle(buffer_size, seed).repeat(count)


def map_and_batch(
    map_func,
    batch_size,
    num_parallel_batches=None,
    drop_remainder=False,
    num_parallel_calls=None,
):
    """`dataset.apply(map_and_batch(...))`: map, then batch."""
    return lambda dataset: dataset.map(map_func).batch(batch_size, drop_remainder)


def parallel_interleave(
    map_func,
    cycle_length,
    block_length=1,
    sloppy=False,
    buffer_output_elements=None,
    prefetch_input_elements=None,
):
    """`dataset.apply(parallel_interleave(...))`: interleave's order (tgc reads the datasets in
    turn; ``sloppy=True`` allows any order, and tgc gives this one)."""
    return lambda dataset: dataset.interleave(map_func, cycle_length, block_length)


def unbatch():
    """`dataset.apply(unbatch())`: each row of each element."""
    return lambda dataset: dataset.unbatch()


def enumerate_dataset(start=0):
    """`dataset.apply(enumerate_dataset())`: (index, element) pairs."""
    return lambda dataset: dataset.enumerate(start)


__all__ = [
    "AUTOTUNE",
    "choose_from_datasets",
    "sample_from_datasets",
    "CsvDataset",
    "Dataset",
    "enumerate_dataset",
    "map_and_batch",
    "parallel_interleave",
    "shuffle_and_repeat",
    "unbatch",
]
