"""Errors for TF1 names tgc lacks: ``tf.scan`` raises "tgc does not support tf.scan
yet" with the reason when one is known, instead of a bare "module has no attribute".

The error is an AttributeError (a subclass), so ``hasattr(tf, name)`` and ``getattr(tf, name,
default)`` behave as for any module. ``install_unsupported_names`` gives a module a ``__getattr__``
(called by Python only for names the module does not define).
"""

from __future__ import annotations

# Why a name is missing, when there is more to say than "not yet" (README: "What a TF1 program can
# use"). Keys are the name as a program writes it.
REASONS = {
    "tf.Print": "printing from compiled code needs a host callback (planned, issue 17)",
    "tf.print": "printing from compiled code needs a host callback (planned, issue 17)",
    "tf.py_func": "compiled graphs cannot call back into Python",
    "tf.numpy_function": "compiled graphs cannot call back into Python",
    "tf.SparseTensor": "tgc has no sparse tensors",
    "tf.sparse_placeholder": "tgc has no sparse tensors",
    "tf.data": "tf.data pipelines are not supported; use feeds or tf.train's queues",
    "tf.image": "image ops are not supported",
    "tf.string_split": "tgc computes on numbers only (strings are fed, fetched and summarized)",
    "tf.nn.rnn_cell": "recurrent networks are planned (issue 17)",
    "tf.nn.dynamic_rnn": "recurrent networks are planned (issue 17)",
    "tf.nn.static_rnn": "recurrent networks are planned (issue 17)",
    "tf.nn.bidirectional_dynamic_rnn": "recurrent networks are planned (issue 17)",
    "tf.nn.nce_loss": "candidate sampling is not supported yet",
    "tf.nn.sampled_softmax_loss": "candidate sampling is not supported yet",
    "tf.contrib.rnn": "recurrent networks are planned (issue 17)",
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
