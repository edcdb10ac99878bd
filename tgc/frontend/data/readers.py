"""Datasets read from files on the host: `tf.data.TextLineDataset` and
`tf.data.experimental.CsvDataset`.

File names are Python strings (or a list of them) or a string tensor (a placeholder fed to the
iterator's initializer); files are read when a pass reaches them, plain or gzip/zlib-compressed.
"""

from __future__ import annotations

import csv
import gzip
import zlib

import numpy as np

from tgc import errors
from tgc.dialect.types import TensorSpec, as_dtype
from tgc.frontend.data import structure
from tgc.frontend.data.dataset_ops import Dataset, _component, _value
from tgc.graph.graph import Tensor

_COMPRESSIONS = (None, "", "GZIP", "ZLIB")


class _FileDataset(Dataset):
    def __init__(self, filenames, compression_type, specs, what):
        if compression_type not in _COMPRESSIONS:
            raise ValueError(
                f"{what}: compression_type must be '', 'GZIP' or 'ZLIB', got {compression_type!r}"
            )
        self._what = what
        self._compression = compression_type or ""
        self._filenames = _component(filenames, what)
        spec = self._filenames.spec if isinstance(self._filenames, Tensor) else None
        if spec is not None and spec.dtype != "string":
            raise TypeError(f"{what} takes file names (strings); '{self._filenames.name}' is not")
        captures = [self._filenames] if isinstance(self._filenames, Tensor) else []
        super().__init__(specs, captures=captures)

    def _names(self, context) -> list:
        names = np.asarray(_value(self._filenames, context), dtype=object).ravel()
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    def _lines(self, name):
        """The file's lines, without their line ends (bytes)."""
        try:
            with open(name, "rb") as stream:
                raw = stream.read()
        except OSError as exc:
            raise errors.NotFoundError(
                None, None, f"{self._what}: {name}: {exc.strerror}"
            ) from None
        if self._compression == "GZIP":
            raw = gzip.decompress(raw)
        elif self._compression == "ZLIB":
            raw = zlib.decompress(raw)
        return split_lines(raw)


def split_lines(raw: bytes) -> list:
    """A file's lines without their line ends (a newline, or a carriage return and a newline), as
    TF reads them (shared with tf.TextLineReader, tgc/frontend/readers.py)."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the last line's end ends the file, it starts no line
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


class TextLineDataset(_FileDataset):
    """`tf.data.TextLineDataset`: each line of the files (bytes, without the line end)."""

    def __init__(self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None):
        super().__init__(filenames, compression_type, TensorSpec((), "string"), "TextLineDataset")

    def _elements(self, context):
        spec = self._specs
        for name in self._names(context):
            for line in self._lines(name):
                yield (structure.as_component(line, spec),)


class CsvDataset(_FileDataset):
    """`tf.data.experimental.CsvDataset`: one element per record, a scalar per selected column.
    ``record_defaults``: per column a dtype (the field is required) or a default value (used when
    the field is empty)."""

    def __init__(
        self,
        filenames,
        record_defaults,
        compression_type=None,
        buffer_size=None,
        header=False,
        field_delim=",",
        use_quote_delim=True,
        na_value="",
        select_cols=None,
        exclude_cols=None,
    ):
        if exclude_cols is not None and select_cols is not None:
            raise ValueError("CsvDataset: give select_cols or exclude_cols, not both")
        self._defaults = [_default(d) for d in record_defaults]
        self._header = bool(header)
        self._delim = field_delim
        self._quoting = use_quote_delim
        self._na = na_value
        self._select = None if select_cols is None else [int(c) for c in select_cols]
        self._exclude = None if exclude_cols is None else {int(c) for c in exclude_cols}
        if self._select is not None:
            if sorted(set(self._select)) != self._select:
                raise ValueError("CsvDataset: select_cols must be increasing column indices")
            if len(self._select) != len(self._defaults):
                raise ValueError(
                    f"CsvDataset: {len(self._select)} select_cols but {len(self._defaults)} "
                    "record_defaults"
                )
        specs = tuple(TensorSpec((), dtype) for dtype, _ in self._defaults)
        super().__init__(filenames, compression_type, specs, "CsvDataset")

    def _columns(self, width):
        if self._select is not None:
            return self._select
        if self._exclude is not None:
            return [c for c in range(width) if c not in self._exclude]
        return list(range(width))

    def _elements(self, context):
        for name in self._names(context):
            lines = [line.decode("utf-8") for line in self._lines(name)]
            if self._header:
                lines = lines[1:]
            reader = csv.reader(
                lines,
                delimiter=self._delim,
                quoting=csv.QUOTE_MINIMAL if self._quoting else csv.QUOTE_NONE,
            )
            for number, fields in enumerate(reader, start=2 if self._header else 1):
                yield self._record(fields, name, number)

    def _record(self, fields, name, number):
        columns = self._columns(len(fields))
        if len(columns) != len(self._defaults) or (columns and columns[-1] >= len(fields)):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Expect {len(self._defaults)} fields but have {len(fields)} in record "
                f"{number} of {name}",
            )
        out = []
        for k, (column, (dtype, default)) in enumerate(zip(columns, self._defaults)):
            field = fields[column]
            if field == "" or field == self._na:
                if default is None:
                    raise errors.InvalidArgumentError(
                        None,
                        None,
                        f"Field {k} is required but missing in record! (record {number} of {name})",
                    )
                out.append(default)
                continue
            out.append(_parse(field, dtype, k, number))
        return tuple(out)


def _default(record_default):
    """(dtype name, default array or None for a required field)."""
    if isinstance(record_default, Tensor):
        raise TypeError(
            "tgc's CsvDataset takes record_defaults as dtypes or Python values, not tensors"
        )
    try:
        return as_dtype(record_default).name, None
    except (TypeError, ValueError, KeyError):
        pass
    value = _component(record_default, "CsvDataset")
    array = np.asarray(value)
    if array.size == 0:
        dtype = "string" if array.dtype == object else as_dtype(array.dtype).name
        return dtype, None
    dtype = "string" if array.dtype == object else as_dtype(array.dtype).name
    return dtype, structure.as_component(array.reshape(()), TensorSpec((), dtype))


def _parse(field, dtype, index, number):
    spec = TensorSpec((), dtype)
    if dtype == "string":
        return structure.as_component(field, spec)
    try:
        value = float(field) if as_dtype(dtype).is_floating else int(field)
    except ValueError:
        raise errors.InvalidArgumentError(
            None, None, f"Field {index} in record {number} is not a valid {dtype}: {field}"
        ) from None
    return structure.as_component(value, spec)
