"""TF1's file input pipeline on queues: `tf.train.string_input_producer`,
`tf.train.match_filenames_once`, the readers (`tf.TextLineReader`, `tf.FixedLengthRecordReader`,
`tf.WholeFileReader`), `tf.read_file`, and the decoders `tf.decode_csv` and `tf.decode_raw`.

All are host ops, as a queue's dequeue is (tgc/frontend/queues.py): they run before the compiled
part of a run (strings never reach compiled code), and their numeric outputs (decode_csv's fields,
decode_raw's bytes) are fed to it. A reader's position (its file, its next record) lives in the
session that runs it, behind a lock, so queue-runner threads share it as TF's do.
"""

from __future__ import annotations

import csv
import glob
import threading

import numpy as np

from tgc import errors
from tgc.dialect.types import TensorSpec, as_dtype, numpy_dtype
from tgc.frontend import summary_ops
from tgc.frontend.build import constant, convert_to_tensor
from tgc.frontend.data.readers import _default, _parse, split_lines
from tgc.frontend.math_ops import cast
from tgc.frontend.queue_runner import QueueRunner, add_queue_runner
from tgc.frontend.queues import GRAPHS_WITH_QUEUES, FIFOQueue, QueueBase
from tgc.frontend.variables import LOCAL_VARIABLES, Variable
from tgc.graph.graph import Tensor, get_default_graph

_STRING = "string"


def _host_op(op_type, inputs, specs, name, run):
    """A host op computing its outputs from its inputs' values with ``run(session, op, *values)``
    (one value per output); its outputs may feed compiled ops of the same run."""
    graph = get_default_graph()
    op = graph.create_op(op_type, op_type, inputs, {}, specs, name=name or op_type)
    GRAPHS_WITH_QUEUES.add(graph)  # compiled ops may take this op's outputs
    op.host_fn = _needs_session
    op.session_fn = lambda session, options, *values: run(session, op, *values)
    return op


def _needs_session(*values):
    raise RuntimeError("a reader or decoder runs only in Session.run")


def _strings(tensor, what):
    if isinstance(tensor, (str, bytes, list, tuple, np.ndarray)):
        tensor = constant(tensor)  # Python strings make a host string constant
    tensor = convert_to_tensor(tensor)
    if tensor.spec.dtype != _STRING:
        raise TypeError(f"{what} takes strings; '{tensor.name}' has dtype {tensor.spec.dtype}")
    return tensor


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fetchable(array):
    """A scalar string as TF fetches it (bytes); other values as they are."""
    return array.item() if array.ndim == 0 and array.dtype == object else array


def _read_bytes(name, op) -> bytes:
    """The file's contents, or TF's NotFoundError ("<name>; No such file or directory")."""
    try:
        with open(name, "rb") as stream:
            return stream.read()
    except OSError as exc:
        error = errors.NotFoundError if isinstance(exc, FileNotFoundError) else errors.UnknownError
        raise error(None, op, f"{name}; {exc.strerror}") from None


# ---- file names ------------------------------------------------------------------------------


def match_filenames_once(pattern, name=None):
    """`tf.train.match_filenames_once`: the sorted names of the files matching ``pattern`` (a glob,
    or a list of them), matched once per session, at the first run that needs them (TF matches
    when the local variables are initialized)."""
    patterns = [_text(p) for p in np.asarray(pattern, dtype=object).ravel()]

    def run(session, op):
        def match():
            return np.array(
                [n.encode() for p in patterns for n in sorted(glob.glob(p))], dtype=object
            )

        return [session.host_state(("matching_files", op.name), match)]

    op = _host_op(
        "MatchingFiles", [], [TensorSpec((None,), _STRING)], name or "matching_filenames", run
    )
    return op.outputs[0]


def string_input_producer(
    string_tensor,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
    cancel_op=None,
):
    """`tf.train.string_input_producer`: a FIFO queue of the strings (file names), enqueued once
    per epoch (in a new random order each epoch with ``shuffle``) by a queue-runner thread. With
    ``num_epochs``, the count of epochs is a local variable (``input_producer/limit_epochs/epochs``,
    so ``tf.local_variables_initializer()`` must run first, as in TF); after the last epoch the
    queue closes and readers past its end raise OutOfRangeError."""
    if isinstance(string_tensor, (list, tuple)) and not string_tensor:
        raise ValueError("string_input_producer requires a non-null input tensor")
    graph = get_default_graph()
    with graph.name_scope(name or "input_producer") as scope:
        strings = _strings(string_tensor, "string_input_producer")
        if strings.spec.shape is not None and len(strings.spec.shape) != 1:
            raise ValueError(
                f"string_input_producer takes a 1-D tensor of strings; '{strings.name}' has shape "
                f"{strings.shape}"
            )
        counter = None
        if num_epochs is not None:
            with graph.name_scope("limit_epochs"):
                counter = Variable(
                    np.int64(0), trainable=False, collections=[LOCAL_VARIABLES], name="epochs"
                )
        # TF names the queue as its scope ("input_producer").
        queue = FIFOQueue(capacity, [_STRING], [[]], shared_name=shared_name, name=scope)
        rng_seed = (
            None if seed is None and graph.seed is None else [graph.seed or 87654321, seed or 0]
        )
        enqueue = _epoch_enqueue(queue, strings, num_epochs, counter, shuffle, rng_seed)
        add_queue_runner(QueueRunner(queue, [enqueue], cancel_op=cancel_op))
        # As TF's: how full the queue is, a summary merge_all() includes.
        fraction = cast(queue.size(), "float32") * (1.0 / capacity)
        summary_ops.scalar(f"fraction_of_{capacity}_full", fraction)
    return queue


class _EpochState:
    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rng = np.random.default_rng(seed)
        self.count = 0  # for a cluster session, whose variables live in its tasks


def _epoch_enqueue(queue, strings, num_epochs, counter, shuffle, rng_seed):
    """A host op enqueueing one epoch of ``strings`` per run, counting the epochs in ``counter``."""

    def run(op, session, options, values):
        names = np.asarray(values[0], dtype=object).ravel()
        if names.size == 0:
            raise errors.InvalidArgumentError(
                None, op, "string_input_producer requires a non-null input tensor"
            )
        state = session.host_state(("epochs", op.name), lambda: _EpochState(rng_seed))
        with state.lock:
            if counter is not None:
                _count_epoch(session, state, op, counter, num_epochs)
            order = state.rng.permutation(names.size) if shuffle else range(names.size)
        queue._state(session).put([(np.array(names[i], dtype=object),) for i in order], op, None)
        return ()

    return queue._op("QueueEnqueueManyV2", f"{queue.name}_EnqueueMany", [strings], [], run)


def _count_epoch(session, state, op, counter, num_epochs):
    """Adds one to the epoch counter, or raises OutOfRangeError once ``num_epochs`` are done (TF's
    CountUpTo). An uninitialized counter raises TF's FailedPreconditionError."""
    if getattr(session, "_cluster", None) is not None:
        count = state.count
    else:
        # The counter is a local variable of the session (tgc/frontend/session.py keeps their
        # values in ``_variables``); only this op, under the state's lock, updates it.
        [value] = session._variable_values([counter._name])
        count = int(value)
    if count >= num_epochs:
        raise errors.OutOfRangeError(None, op, f"Reached limit of {num_epochs}")
    state.count = count + 1
    if getattr(session, "_cluster", None) is None:
        session._variables[counter._name] = np.asarray(count + 1, np.int64)


# ---- readers ---------------------------------------------------------------------------------


class _ReaderState:
    """A reader's position in a session: the file it reads, its records, the next one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records: list = []  # (key, value) bytes of the current file
        self.next = 0
        self.produced = 0
        self.completed = 0


class ReaderBase:
    """A reader of records from files whose names it dequeues from a queue (TF's ReaderBase):
    ``read`` gives the next record's (key, value), taking the next file when one ends."""

    reader_type = "ReaderV2"

    def __init__(self, name=None):
        graph = get_default_graph()
        self._graph = graph
        self.op = graph.create_op(self.reader_type, self.reader_type, [], {}, [], name=name)
        self.op.host_fn = _needs_session
        self.op.session_fn = lambda session, options: (self._state(session), ())[1]
        self.name = self.op.name

    @property
    def reader_ref(self):
        return self

    @property
    def supports_serialize(self) -> bool:
        return False

    def _state(self, session) -> _ReaderState:
        return session.host_state(("reader", self.name), _ReaderState)

    def _records(self, filename: str, op) -> list:
        """The (key, value) records of file ``filename``, as bytes."""
        raise NotImplementedError  # each reader class defines it

    def _next(self, session, op, queue, options):
        """The next (key, value), opening the next file from ``queue`` when needed."""
        from tgc.frontend.queues import _deadline

        state = self._state(session)
        with state.lock:
            while state.next >= len(state.records):
                if state.records:
                    state.completed += 1
                state.records, state.next = [], 0
                [(filename,)] = queue._state(session).take(1, op, _deadline(options), False)
                state.records = self._records(_text(filename.item()), op)
            record = state.records[state.next]
            state.next += 1
            state.produced += 1
            return record

    def read(self, queue, name=None):
        """(key, value): the next record, both scalar strings."""
        queue = _queue_of(queue, "read")

        def run(session, op):
            return list(self._next(session, op, queue, None))  # bytes, as TF fetches them

        op = _host_op(
            "ReaderReadV2",
            [],
            [TensorSpec((), _STRING), TensorSpec((), _STRING)],
            name or f"{self.name}_ReaderReadV2",
            run,
        )
        op.reader = self  # decode_raw knows a fixed-length reader's record size
        return op.outputs[0], op.outputs[1]

    def read_up_to(self, queue, num_records, name=None):
        """(keys, values): up to ``num_records`` records (fewer only at the end of the input)."""
        queue = _queue_of(queue, "read_up_to")
        count = int(num_records)

        def run(session, op):
            records = []
            try:
                while len(records) < count:
                    records.append(self._next(session, op, queue, None))
            except errors.OutOfRangeError:
                if not records:
                    raise
            keys = np.array([k for k, _ in records], dtype=object)
            values = np.array([v for _, v in records], dtype=object)
            return [keys, values]

        op = _host_op(
            "ReaderReadUpToV2",
            [],
            [TensorSpec((None,), _STRING), TensorSpec((None,), _STRING)],
            name or f"{self.name}_ReaderReadUpToV2",
            run,
        )
        return op.outputs[0], op.outputs[1]

    def num_records_produced(self, name=None):
        return self._counter("ReaderNumRecordsProducedV2", "produced", name)

    def num_work_units_completed(self, name=None):
        return self._counter("ReaderNumWorkUnitsCompletedV2", "completed", name)

    def _counter(self, op_type, field, name):
        def run(session, op):
            return [np.asarray(getattr(self._state(session), field), np.int64)]

        return _host_op(op_type, [], [TensorSpec((), "int64")], name, run).outputs[0]

    def reset(self, name=None):
        """Forgets the current file and the counts (TF's ReaderReset)."""

        def run(session, op):
            state = self._state(session)
            with state.lock:
                state.records, state.next, state.produced, state.completed = [], 0, 0, 0
            return ()

        return _host_op("ReaderResetV2", [], [], name, run)


def _queue_of(queue, what) -> QueueBase:
    queue = getattr(queue, "queue_ref", queue)
    if not isinstance(queue, QueueBase):
        raise TypeError(f"reader.{what} takes a queue of file names (string_input_producer)")
    if [d.name for d in queue.dtypes] != [_STRING]:
        raise TypeError(
            f"reader.{what}: queue '{queue.name}' holds {[d.name for d in queue.dtypes]}, not "
            "file names (one string)"
        )
    return queue


class TextLineReader(ReaderBase):
    """`tf.TextLineReader`: each line of the files (without its line end), keyed
    ``"<file>:<line number>"`` (from 1); ``skip_header_lines`` lines are skipped per file."""

    reader_type = "TextLineReaderV2"

    def __init__(self, skip_header_lines=None, name=None):
        self._skip = int(skip_header_lines or 0)
        super().__init__(name or "TextLineReaderV2")

    def _records(self, filename, op):
        lines = split_lines(_read_bytes(filename, op))
        return [
            (f"{filename}:{number}".encode(), line)
            for number, line in enumerate(lines, start=1)
            if number > self._skip
        ]


class FixedLengthRecordReader(ReaderBase):
    """`tf.FixedLengthRecordReader`: records of ``record_bytes`` bytes after ``header_bytes`` and
    before ``footer_bytes``, keyed ``"<file>:<record index>"`` (from 0); ``hop_bytes`` (when not
    0) is the step between records' starts. A partial record at the end is dropped, as in TF."""

    reader_type = "FixedLengthRecordReaderV2"

    def __init__(
        self, record_bytes, header_bytes=None, footer_bytes=None, hop_bytes=None, name=None
    ):
        self._record = int(record_bytes)
        self._header = int(header_bytes or 0)
        self._footer = int(footer_bytes or 0)
        self._hop = int(hop_bytes or 0) or self._record
        if self._record <= 0:
            raise ValueError(
                f"FixedLengthRecordReader: record_bytes must be > 0, got {record_bytes}"
            )
        super().__init__(name or "FixedLengthRecordReaderV2")

    def _records(self, filename, op):
        raw = _read_bytes(filename, op)
        body = raw[self._header : len(raw) - self._footer]
        return [
            (f"{filename}:{index}".encode(), body[start : start + self._record])
            for index, start in enumerate(range(0, len(body) - self._record + 1, self._hop))
        ]


class WholeFileReader(ReaderBase):
    """`tf.WholeFileReader`: one record per file, its name and its contents."""

    reader_type = "WholeFileReaderV2"

    def __init__(self, name=None):
        super().__init__(name or "WholeFileReaderV2")

    def _records(self, filename, op):
        return [(filename.encode(), _read_bytes(filename, op))]


def read_file(filename, name=None):
    """`tf.read_file`: the contents of the file named by the scalar string ``filename``."""
    filename = _strings(filename, "read_file")

    def run(session, op, value):
        return [_read_bytes(_text(np.asarray(value).item()), op)]

    return _host_op("ReadFile", [filename], [TensorSpec((), _STRING)], name, run).outputs[0]


# ---- decoders --------------------------------------------------------------------------------


def decode_csv(
    records,
    record_defaults,
    field_delim=",",
    use_quote_delim=True,
    name=None,
    na_value="",
    select_cols=None,
):
    """`tf.decode_csv`: one tensor per column (the shape of ``records``) of the CSV records.
    ``record_defaults``: per column a one-element list or constant (the default, its dtype the
    column's) or an empty one (the field is required)."""
    records = _strings(records, "decode_csv")
    defaults = [_csv_default(d) for d in record_defaults]
    select = None if select_cols is None else [int(c) for c in select_cols]
    if select is not None:
        if sorted(set(select)) != select:
            raise ValueError("decode_csv: select_cols is not strictly increasing")
        if len(select) != len(defaults):
            raise ValueError("decode_csv: length of select_cols and record_defaults do not match")
    quoting = csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE

    def run(session, op, values):
        if len(field_delim) != 1:
            raise errors.InvalidArgumentError(None, op, "field_delim should be only 1 char")
        lines = np.asarray(values, dtype=object)
        columns = [[] for _ in defaults]
        for index, record in enumerate(lines.ravel()):
            fields = next(csv.reader([_text(record)], delimiter=field_delim, quoting=quoting), [""])
            for k, value in enumerate(_csv_fields(op, fields, defaults, select, na_value, index)):
                columns[k].append(value)
        return [
            _fetchable(np.array(c, dtype=numpy_dtype(d)).reshape(lines.shape))
            for c, (d, _) in zip(columns, defaults)
        ]

    specs = [TensorSpec(records.spec.shape, dtype) for dtype, _ in defaults]
    return list(_host_op("DecodeCSV", [records], specs, name, run).outputs)


def _csv_default(default):
    """(dtype, default value or None): a Python value, or a constant tensor's value."""
    if isinstance(default, Tensor) or hasattr(default, "_as_graph_element"):
        tensor = convert_to_tensor(default)
        if tensor.op.type != "Const":
            raise TypeError(
                f"tgc's decode_csv takes record_defaults known when the graph is built (Python "
                f"values or constants); '{tensor.name}' is computed"
            )
        if tensor.spec.dtype == _STRING:
            default = np.asarray(tensor.op.host_fn(), dtype=object)
        else:
            default = tensor.op.attrs["value"]
    if np.size(np.asarray(default, dtype=object)) > 1:
        raise ValueError("decode_csv: each record default must have at most one element")
    return _default(default)


# TF's DecodeCSV names the column types as C++ does.
_CSV_TYPE_NAMES = {"float32": "float", "float64": "double"}


def _csv_fields(op, fields, defaults, select, na_value, index):
    """The values of one record's selected fields, or TF's InvalidArgumentError."""
    columns = select if select is not None else list(range(len(fields)))
    if (select is None and len(fields) != len(defaults)) or (
        select is not None and select[-1] >= len(fields)
    ):
        raise errors.InvalidArgumentError(
            None, op, f"Expect {len(defaults)} fields but have {len(fields)} in record {index}"
        )
    out = []
    for k, (column, (dtype, default)) in enumerate(zip(columns, defaults)):
        field = fields[column]
        if field == "" or field == na_value:
            if default is None:
                raise errors.InvalidArgumentError(
                    None, op, f"Field {k} is required but missing in record {index}!"
                )
            out.append(default)
            continue
        try:
            out.append(_parse(field, dtype, k, index))
        except (errors.InvalidArgumentError, OverflowError):  # not a number, or out of range
            kind = _CSV_TYPE_NAMES.get(dtype, dtype)
            raise errors.InvalidArgumentError(
                None, op, f"Field {k} in record {index} is not a valid {kind}: {field}"
            ) from None
    return out


def decode_raw(input_bytes=None, out_type=None, little_endian=True, name=None, bytes=None):  # noqa: A002
    """`tf.decode_raw`: each string's bytes as numbers of ``out_type``; the result has the shape of
    the input plus one dimension (every string must have the same length)."""
    source = _strings(input_bytes if input_bytes is not None else bytes, "decode_raw")
    dtype = as_dtype(out_type)
    if dtype.name in (_STRING, "bool") or dtype.name.startswith("complex"):
        raise TypeError(f"decode_raw: out_type {dtype.name} is not a number type")
    item = np.dtype(numpy_dtype(dtype.name)).newbyteorder("<" if little_endian else ">")

    def run(session, op, values):
        strings = np.asarray(values, dtype=object)
        flat = [s if isinstance(s, type(b"")) else str(s).encode() for s in strings.ravel()]
        if flat:
            if len(flat[0]) % item.itemsize:
                raise errors.InvalidArgumentError(
                    None,
                    op,
                    f"Input to DecodeRaw has length {len(flat[0])} that is not a multiple of "
                    f"{item.itemsize}, the size of {dtype.name}",
                )
            for k, s in enumerate(flat[1:], start=1):
                if len(s) != len(flat[0]):
                    raise errors.InvalidArgumentError(
                        None,
                        op,
                        f"DecodeRaw requires input strings to all be the same size, but element "
                        f"{k} has size {len(flat[0])} != {len(s)}",
                    )
        width = len(flat[0]) // item.itemsize if flat else 0
        out = np.array([np.frombuffer(s, item) for s in flat], dtype=item).reshape(
            (*strings.shape, width)
        )
        return [np.ascontiguousarray(out, dtype=numpy_dtype(dtype.name))]

    shape = None if source.spec.shape is None else (*source.spec.shape, _width(source, item))
    return _host_op("DecodeRaw", [source], [TensorSpec(shape, dtype.name)], name, run).outputs[0]


def _width(source, item):
    """The number of values per string when every string has a size known now (the records of a
    FixedLengthRecordReader), else None (TF's unknown dim). Knowing it lets the slices of a record
    (cifar10_input.py's label and image) have static shapes, as batching needs."""
    reader = getattr(source.op, "reader", None)
    size = getattr(reader, "_record", None) if source.value_index == 1 else None
    if size is None or size % item.itemsize:
        return None
    return size // item.itemsize
