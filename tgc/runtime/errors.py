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


class AlreadyExistsError(OpError):
    """What an op (or a tf.gfile function) would create exists already."""


class PermissionDeniedError(OpError):
    pass


class InternalError(OpError):
    pass


class ResourceExhaustedError(OpError):
    """Memory ran out: TF's ``OOM when allocating tensor with shape[...]``."""


class UnavailableError(OpError):
    """A task or device of the run went away (a lost worker or parameter server); TF retries the
    step or restores from a checkpoint."""


class AbortedError(OpError):
    """The step was aborted (another part of the run failed first)."""


class DeadlineExceededError(OpError):
    """The step did not finish in time (a receive that never came)."""


class OutOfRangeError(OpError):
    """Past the end of the input: a closed queue has too few elements for a dequeue."""


class CancelledError(OpError):
    """The op was cancelled: an enqueue into a closed queue, a run blocked when its session
    closed."""
