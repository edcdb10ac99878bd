"""TensorFlow-style errors (`tf.errors.*`) raised by sessions, plus the compiler's own
CompileError."""

from __future__ import annotations

from tgc.runtime.errors import (  # noqa: F401 - tf.errors.* are the runtime's
    AbortedError,
    AlreadyExistsError,
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OpError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
)


class CompileError(Exception):
    """Compiling a graph failed; the message lists each diagnostic with the user's file:line."""
