"""`tf.data` (TF1's API, `tf.compat.v1.data`): datasets run on the host, read by iterators whose
``get_next()`` feeds the compiled graph. See dataset_ops.py and iterator_ops.py."""

from tgc.frontend.data import experimental
from tgc.frontend.unsupported import install_unsupported_names
from tgc.frontend.data.dataset_ops import Dataset, DatasetV1, Options
from tgc.frontend.data.readers import TextLineDataset
from tgc.frontend.data.iterator_ops import (
    Iterator,
    get_output_classes,
    get_output_shapes,
    get_output_types,
    make_initializable_iterator,
    make_one_shot_iterator,
)

AUTOTUNE = experimental.AUTOTUNE

# tf.data.experimental.X that tgc lacks says so (tf.data itself: tgc/__init__.py does it).
install_unsupported_names(experimental, "tf.data.experimental")

__all__ = [
    "AUTOTUNE",
    "Dataset",
    "DatasetV1",
    "Iterator",
    "Options",
    "TextLineDataset",
    "experimental",
    "get_output_classes",
    "get_output_shapes",
    "get_output_types",
    "make_initializable_iterator",
    "make_one_shot_iterator",
]
