"""`tf.gfile`: TF1's file functions, on the local file system.

Tutorials use them to make log and checkpoint folders (``tf.gfile.MakeDirs``), clear them
(``DeleteRecursively``), test for data (``Exists``) and read frozen graphs (``GFile(path, 'rb')``).
The errors are TF's: a missing file is ``tf.errors.NotFoundError``, a copy or rename onto an
existing file without ``overwrite`` is ``tf.errors.AlreadyExistsError``; both name the path.
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
from typing import NamedTuple

from tgc.runtime.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
)


def _os_error(err: OSError, path: str):
    """TF's error class for an OSError on ``path``."""
    if isinstance(err, FileNotFoundError):
        return NotFoundError(None, None, f"{path}; No such file or directory")
    if isinstance(err, FileExistsError):
        return AlreadyExistsError(None, None, f"{path}; File exists")
    if isinstance(err, PermissionError):
        return PermissionDeniedError(None, None, f"{path}; Permission denied")
    if isinstance(err, (IsADirectoryError, NotADirectoryError)):
        return FailedPreconditionError(None, None, f"{path}; {err.strerror}")
    return FailedPreconditionError(None, None, f"{path}; {err}")


class GFile:
    """A file opened as ``open`` would (modes 'r', 'rb', 'w', 'wb', 'a', 'ab'), with TF1's
    methods: read(n=-1), readline, readlines, write, flush, close, size, seek, tell, and
    iteration and ``with``."""

    def __init__(self, name, mode="r"):
        self.name = os.fspath(name)
        self.mode = mode
        try:
            self._file = open(self.name, mode)
        except OSError as err:
            raise _os_error(err, self.name) from None

    def read(self, n=-1):
        return self._file.read(n)

    def readline(self):
        return self._file.readline()

    def readlines(self):
        return self._file.readlines()

    def write(self, file_content):
        if "b" in self.mode and isinstance(file_content, str):
            file_content = file_content.encode()
        self._file.write(file_content)

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()

    def size(self) -> int:
        return os.path.getsize(self.name)

    def seek(self, offset=None, whence=0, position=None):
        return self._file.seek(position if offset is None else offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def __iter__(self):
        return iter(self._file)

    def __next__(self):
        return next(self._file)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


Open = GFile
FastGFile = GFile


def Exists(filename) -> bool:
    return os.path.exists(filename)


def IsDirectory(dirname) -> bool:
    return os.path.isdir(dirname)


def MakeDirs(dirname) -> None:
    """The folder and its missing parents; an existing folder is fine."""
    try:
        os.makedirs(dirname, exist_ok=True)
    except OSError as err:
        raise _os_error(err, os.fspath(dirname)) from None


def MkDir(dirname) -> None:
    """One folder; its parent must exist, and it must not."""
    try:
        os.mkdir(dirname)
    except OSError as err:
        raise _os_error(err, os.fspath(dirname)) from None


def ListDirectory(dirname) -> list:
    if not os.path.isdir(dirname):
        raise NotFoundError(None, None, f"Could not find directory {dirname}")
    return sorted(os.listdir(dirname))


def Glob(filename) -> list:
    return sorted(_glob.glob(os.fspath(filename)))


def Remove(filename) -> None:
    try:
        os.remove(filename)
    except OSError as err:
        raise _os_error(err, os.fspath(filename)) from None


def DeleteRecursively(dirname) -> None:
    """A folder and everything in it (a file is removed too); a missing path is NotFoundError."""
    path = os.fspath(dirname)
    if not os.path.exists(path):
        raise NotFoundError(None, None, f"{path}; No such file or directory")
    try:
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    except OSError as err:
        raise _os_error(err, path) from None


def _refuse_overwrite(newpath: str, overwrite: bool) -> None:
    if not overwrite and os.path.exists(newpath):
        raise AlreadyExistsError(None, None, f"file already exists: {newpath}")


def Copy(oldpath, newpath, overwrite=False) -> None:
    oldpath, newpath = os.fspath(oldpath), os.fspath(newpath)
    _refuse_overwrite(newpath, overwrite)
    try:
        shutil.copyfile(oldpath, newpath)
    except OSError as err:
        raise _os_error(err, oldpath if not os.path.exists(oldpath) else newpath) from None


def Rename(oldname, newname, overwrite=False) -> None:
    oldname, newname = os.fspath(oldname), os.fspath(newname)
    _refuse_overwrite(newname, overwrite)
    try:
        os.replace(oldname, newname)
    except OSError as err:
        raise _os_error(err, oldname if not os.path.exists(oldname) else newname) from None


class FileStatistics(NamedTuple):
    length: int
    mtime_nsec: int
    is_directory: bool


def Stat(filename) -> FileStatistics:
    try:
        st = os.stat(filename)
    except OSError as err:
        raise _os_error(err, os.fspath(filename)) from None
    return FileStatistics(st.st_size, st.st_mtime_ns, os.path.isdir(filename))


def Walk(top, in_order=True):
    """(folder, subfolder names, file names) for ``top`` and every folder below it; parents
    first when ``in_order``, else children first. A missing ``top`` yields nothing, as TF."""
    for dirpath, dirnames, filenames in os.walk(top, topdown=in_order):
        dirnames.sort()
        yield dirpath, dirnames, sorted(filenames)
