"""TensorFlow-style errors (`tf.errors.*`) raised by sessions, plus the compiler's own CompileError."""

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


class CompileError(Exception):
    """Compiling a graph failed; the message lists each diagnostic with the user's file:line."""
