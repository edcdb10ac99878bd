"""tgc's version: the installed distribution's, else (a source tree on PYTHONPATH, never installed)
the version pyproject.toml declares, else "0+unknown"."""

import importlib.metadata
import os


def _from_pyproject() -> str:
    import tomllib

    path = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyproject.toml"
    )
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0+unknown"


try:
    __version__ = importlib.metadata.version("tgc")
except importlib.metadata.PackageNotFoundError:
    __version__ = _from_pyproject()
