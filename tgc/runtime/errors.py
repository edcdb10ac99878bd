"""TensorFlow-style errors (`tf.errors.*`) raised by sessions and by compiled code at run time.

They live in the runtime, the lowest layer, because compiled code's run-time checks raise them where
only numpy is installed; ``tgc.errors`` (``tf.errors``) re-exports them.
"""

from __future__ import annotations


class OpError(Exception):
    """An error tied to an op of the graph, as TensorFlow's ``tf.errors.OpError``."""

    def __init__(self, node_def=None, op=None, message=""):
        if message == "" and isinstance(node_def, str) and op is None:
            node_def, message = None, node_def
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message


class InvalidArgumentError(OpError):
    pass


class FailedPreconditionError(OpError):
    pass


class NotFoundError(OpError):
    pass


class UnimplementedError(OpError):
    pass


class InternalError(OpError):
    pass


class ResourceExhaustedError(OpError):
    """Memory ran out: TF's ``OOM when allocating tensor with shape[...]``."""
