"""``tgc.runtime.load(path)``: the loader of an artifact chosen by its manifest's "format".

The compiler finds a format's loader in its target registry (tgc/dialect/targets.py); the runtime
sits below the registry and runs where only numpy is installed, so it keeps this table of the
formats tgc's targets write. An artifact whose manifest cannot be read goes to the CPU loader,
which says what is wrong with it.
"""

from __future__ import annotations

import json
import os
import tarfile
from importlib import import_module

CPU_FORMAT = "tgc-artifact"
LOADERS = {
    CPU_FORMAT: "tgc.runtime.artifact:load",
    "tgc-nvptx-artifact": "tgc.runtime.gpu_artifact:load",
    "tgc-accel-artifact": "tgc.runtime.accel_artifact:load",
}


def artifact_format(path: str) -> str:
    """The manifest's "format" of an artifact directory or archive; the CPU's when it cannot be
    read."""
    try:
        found = json.loads(_manifest_text(os.fspath(path))).get("format")
    except Exception:  # noqa: BLE001 - a damaged archive raises many kinds; its loader says which
        found = None
    return found if isinstance(found, str) and found else CPU_FORMAT


def _manifest_text(path: str) -> str:
    if os.path.isdir(path):
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
            return fh.read()
    with tarfile.open(path) as archive:
        # The archive holds the artifact directory, or its files at the top.
        for member in archive.getmembers():
            if member.isfile() and member.name.split("/")[-1] == "manifest.json":
                if member.name.count("/") <= 1:
                    return archive.extractfile(member).read().decode("utf-8")
    raise OSError(f"{path} holds no manifest.json")


def load(path: str, **kwargs):
    """Loads an artifact directory or archive with the loader of its format."""
    module, _, function = LOADERS.get(artifact_format(path), LOADERS[CPU_FORMAT]).partition(":")
    return getattr(import_module(module), function)(path, **kwargs)
