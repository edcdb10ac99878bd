"""The default-session stack, per thread: ``with sess:`` and ``sess.as_default()`` push a session,
``Tensor.eval`` and ``Operation.run`` run on the top one.

It lives in the graph core so that the graph needs no Session class: sessions push and pop
themselves.
"""

from __future__ import annotations

import threading

_local = threading.local()


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def push(session) -> None:
    _stack().append(session)


def pop() -> None:
    _stack().pop()


def remove(session) -> None:
    """Take ``session`` off the stack wherever it is (an InteractiveSession closed out of order)."""
    stack = _stack()
    if session in stack:
        stack.remove(session)


def get_default_session():
    stack = _stack()
    if not stack:
        raise ValueError(
            "no default session is registered: use 'with tgc.Session() as sess:' or pass session="
        )
    return stack[-1]
