"""Checkpoints of variable values: one ``.npz`` file, written atomically.

Used by loaded artifacts (tgc/runtime/artifact.py) to save and restore the variables a compiled
training step keeps between calls. A save writes a temporary file in the destination's directory,
flushes it to disk, then renames it over the destination (``os.replace``), so a reader sees either
the old checkpoint or the new one, never half a file, even if the process dies mid-write.
Imports numpy only.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

_STEP_KEY = "__tgc_step__"  # the random-number step counter, when the artifact has one


def save(path: str, variables: dict, step: int | None = None) -> str:
    """Writes ``variables`` (name -> array) to ``path`` atomically; returns the path written."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"  # np.savez would add it to the temporary name, not the final one
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    arrays = {name: np.asarray(value) for name, value in variables.items()}
    if step is not None:
        arrays[_STEP_KEY] = np.asarray(step, np.int64)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def restore(path: str) -> tuple[dict, int | None]:
    """(name -> array, step or None) read from a checkpoint written by ``save``."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    with np.load(path, allow_pickle=False) as data:
        values = {name: data[name] for name in data.files if name != _STEP_KEY}
        step = int(data[_STEP_KEY]) if _STEP_KEY in data.files else None
    return values, step


__all__ = ["save", "restore"]
