"""`tf.logging`: TF1's logging functions over Python's ``logging`` (the logger "tgc").

The levels are Python's (``tf.logging.INFO == logging.INFO``), as in TF; the default verbosity is
WARN. The logger gets a handler to stderr the first time it logs with no handler of its own or the
root's, so ``tf.logging.info`` prints after ``set_verbosity(INFO)`` as it does in TF.
"""

from __future__ import annotations

import logging as _logging
import sys as _sys
import threading as _threading

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = _logging.WARN
ERROR = _logging.ERROR
FATAL = _logging.FATAL

_logger = _logging.getLogger("tgc")
_handler_lock = _threading.Lock()
_counts: dict = {}


def get_logger() -> _logging.Logger:
    """The logger behind tf.logging, with a stderr handler once something is logged."""
    with _handler_lock:
        if not _logger.handlers and not _logging.getLogger().handlers:
            handler = _logging.StreamHandler(_sys.stderr)
            handler.setFormatter(_logging.Formatter("%(levelname)s:tgc:%(message)s"))
            _logger.addHandler(handler)
        if _logger.level == _logging.NOTSET:
            _logger.setLevel(WARN)
    return _logger


def set_verbosity(v) -> None:
    get_logger().setLevel(v)


def get_verbosity() -> int:
    return get_logger().getEffectiveLevel()


def log(level, msg, *args, **kwargs) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def debug(msg, *args, **kwargs) -> None:
    get_logger().debug(msg, *args, **kwargs)


def info(msg, *args, **kwargs) -> None:
    get_logger().info(msg, *args, **kwargs)


def warning(msg, *args, **kwargs) -> None:
    get_logger().warning(msg, *args, **kwargs)


warn = warning


def error(msg, *args, **kwargs) -> None:
    get_logger().error(msg, *args, **kwargs)


def fatal(msg, *args, **kwargs) -> None:
    get_logger().critical(msg, *args, **kwargs)


def vlog(level, msg, *args, **kwargs) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def log_if(level, msg, condition, *args) -> None:
    if condition:
        log(level, msg, *args)


def _caller_key():
    frame = _sys._getframe(2)
    return frame.f_code.co_filename, frame.f_lineno


def log_every_n(level, msg, n, *args) -> None:
    """Logs the 1st, (n+1)th, (2n+1)th... call from the same line."""
    key = _caller_key()
    count = _counts.get(key, 0)
    _counts[key] = count + 1
    log_if(level, msg, count % max(int(n), 1) == 0, *args)


def log_first_n(level, msg, n, *args) -> None:
    """Logs the first n calls from the same line."""
    key = _caller_key()
    count = _counts.get(key, 0)
    _counts[key] = count + 1
    log_if(level, msg, count < n, *args)


def flush() -> None:
    for handler in get_logger().handlers:
        handler.flush()


class TaskLevelStatusMessage:
    def __init__(self, msg):
        self._msg = msg

    def __enter__(self):
        info(self._msg)
        return self

    def __exit__(self, *exc):
        return False
