"""Errors for TF1 names tgc lacks: ``tf.scan`` raises "tgc does not support tf.scan
yet" with the reason when one is known, instead of a bare "module has no attribute".

The error is an AttributeError (a subclass), so ``hasattr(tf, name)`` and ``getattr(tf, name,
default)`` behave as for any module. ``install_unsupported_names`` gives a module a ``__getattr__``
(called by Python only for names the module does not define).
"""

from __future__ import annotations

_RECORDS = "TFRecord files are not read (tgc has no protocol buffer records)"

# Why a name is missing, when there is more to say than "not yet" (README: "What a TF1 program can
# use"). Keys are the name as a program writes it.
REASONS = {
    "tf.py_func": "compiled graphs cannot call back into Python",
    "tf.numpy_function": "compiled graphs cannot call back into Python",
    "tf.SparseTensor": "tgc has no sparse tensors",
    "tf.sparse_placeholder": "tgc has no sparse tensors",
    "tf.data.TFRecordDataset": _RECORDS,
    "tf.image.decode_jpeg": "tgc computes on numbers only: decode images in Python (PIL, imageio) "
    "and feed them",
    "tf.image.decode_png": "tgc computes on numbers only: decode images in Python (PIL, imageio) "
    "and feed them",
    "tf.image.decode_image": "tgc computes on numbers only: decode images in Python (PIL, imageio) "
    "and feed them",
    "tf.image.encode_jpeg": "tgc computes on numbers only: encode images in Python (PIL) from "
    "fetched arrays",
    "tf.image.encode_png": "tgc computes on numbers only: encode images in Python (PIL) from "
    "fetched arrays",
    "tf.string_split": "tgc computes on numbers only (strings are fed, fetched and summarized)",
    # TFRecord files hold protocol buffers; tgc's readers read text lines, fixed-length records
    # and whole files.
    "tf.TFRecordReader": _RECORDS,
    "tf.parse_single_example": _RECORDS,
    "tf.FixedLenFeature": _RECORDS,
    "tf.python_io": "TFRecord files are not written (tgc has no protocol buffer records)",
    "tf.io": "TF2's tf.io (records, file decoding) is not provided: TF1's tf.decode_csv, "
    "tf.decode_raw, tf.read_file and tf.gfile are",
    "tf.train.Example": _RECORDS,
    "tf.train.Features": _RECORDS,
    "tf.train.Feature": _RECORDS,
    "tf.train.BytesList": _RECORDS,
    "tf.train.Int64List": _RECORDS,
    "tf.train.FloatList": _RECORDS,
    "tf.estimator": "Estimators are not provided: tgc runs graphs with Session and "
    "MonitoredTrainingSession",
    "tf.contrib.learn": "tf.contrib.learn (Estimators) is not provided",
    "tf.contrib.factorization": "tf.contrib.factorization is not provided",
    "tf.contrib.tensor_forest": "tf.contrib.tensor_forest is not provided",
    "tf.contrib.tensorboard": "the embedding projector's plugin is not provided; tf.summary is",
    "tf.contrib.legacy_seq2seq": "the seq2seq library is not provided",
    "tf.nn.seq2seq": "removed in TF 1.0 (tf.contrib.legacy_seq2seq), not provided",
    "tf.nn.rnn": "removed in TF 1.0: use tf.nn.static_rnn",
    "tf.python": "TensorFlow's internal modules are not part of tgc's API",
}


class UnsupportedError(AttributeError):
    """A TF1 name tgc does not provide (yet)."""


def unsupported(qualified: str, module_name: str) -> UnsupportedError:
    reason = REASONS.get(qualified)
    tail = f": {reason}" if reason else ""
    attr = qualified.rsplit(".", 1)[-1]
    return UnsupportedError(
        f"tgc does not support {qualified} yet{tail} (module '{module_name}' has no attribute "
        f"'{attr}')"
    )


def install_unsupported_names(module, qualified_prefix: str) -> None:
    """Gives ``module`` a ``__getattr__`` raising UnsupportedError for names it lacks; dunder
    names (looked up by Python's machinery, copy, pickle, pytest) keep the plain error."""
    if "__getattr__" in vars(module):
        return
    module_name = module.__name__

    def __getattr__(name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module '{module_name}' has no attribute '{name}'")
        raise unsupported(f"{qualified_prefix}.{name}", module_name)

    module.__getattr__ = __getattr__
