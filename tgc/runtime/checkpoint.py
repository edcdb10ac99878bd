"""Checkpoints of variable values: one ``.npz`` file, written atomically.

Used by loaded artifacts (tgc/runtime/artifact.py) and by ``tf.train.Saver`` to save and restore
variables. A save writes a temporary file in the destination's directory, flushes it to disk,
renames it over the destination (``os.replace``) and flushes the directory, so a reader sees either
the old checkpoint or the new one, never half a file, even if the process dies mid-write. The
temporary file is named ``.tmp-<pid>-*``: one left by a process that was killed is removed by the
next save into that directory (``remove_stale_temporaries``), never one whose writer still runs.
Imports numpy only.
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np

_STEP_KEY = "__tgc_step__"  # the random-number step counter, when the artifact has one
TEMPORARY_PREFIX = ".tmp-"
_TEMPORARY = re.compile(
    r"^\.(?:[^/]*\.)?tmp-(?P<pid>\d+)-"
)  # .tmp-<pid>-..., .<name>.tmp-<pid>-...


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: names the file and what is wrong."""


def save(path: str, variables: dict, step: int | None = None) -> str:
    """Writes ``variables`` (name -> array) to ``path`` atomically; returns the path written."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"  # np.savez would add it to the temporary name, not the final one
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(directory)
    arrays = {name: np.asarray(value) for name, value in variables.items()}
    if step is not None:
        arrays[_STEP_KEY] = np.asarray(step, np.int64)
    write_atomically(path, lambda handle: np.savez(handle, **arrays))
    return path


def write_atomically(path: str, write, text: bool = False) -> None:
    """Calls ``write(handle)`` on a temporary file beside ``path``, syncs it, renames it to ``path``
    and syncs the directory; on any failure the temporary file is removed and ``path`` is
    untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = (
        f".{os.path.basename(path)}.tmp-{os.getpid()}-"
        if text
        else f"{TEMPORARY_PREFIX}{os.getpid()}-"
    )
    fd, temporary = tempfile.mkstemp(prefix=prefix, suffix="" if text else ".npz", dir=directory)
    try:
        with os.fdopen(fd, "w" if text else "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    sync_directory(directory)


def sync_directory(directory: str) -> None:
    """Makes a rename in ``directory`` durable (where the system allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(directory: str) -> list:
    """Removes temporary files left in ``directory`` by writers that no longer run; returns them."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if match and not _process_alive(int(match["pid"])):
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass  # another saver removed it first
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process's own writes in progress (another thread)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return True


def restore(path: str) -> tuple[dict, int | None]:
    """(name -> array, step or None) read from a checkpoint written by ``save``."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CheckpointError(
                f"checkpoint {path} holds a single array, not named variables (.npz)"
            )
        with data:
            values = {name: data[name] for name in data.files if name != _STEP_KEY}
            step = int(data[_STEP_KEY]) if _STEP_KEY in data.files else None
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - a damaged zip raises many kinds (BadZipFile, zlib.error, ...)
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    return values, step


__all__ = ["save", "restore", "write_atomically", "remove_stale_temporaries", "CheckpointError"]
