"""``Session.run``: runs only what the fetches need, compiling each run signature once.

A run signature is the fetched tensors and ops, the fed tensors, and the ranks of feeds whose rank
the graph leaves open. Its compiled function is cached, so the second run compiles nothing. Unknown
(``None``) dims do not enter the key: one compiled function serves every batch size, and the session
checks each new combination of feed shapes against the graph's shape rules before running it. A
target with static shapes (a GPU's kernels are sized at compile time) is the exception: there every
feed is typed by its array's whole shape, and each new combination of fed shapes compiles anew.
Variables live in the session, one store per session, and persist across runs.
"""

from __future__ import annotations

import operator
import contextlib
import sys
import threading
import time

import numpy as np

from tgc import errors
from tgc.dialect.ops.state import ASSIGNMENT_OPS
from tgc.dialect.registry import REGISTRY, ShapeError
from tgc.dialect.shapes import compatible
from tgc.dialect.types import DTYPES, TensorSpec, numpy_dtype
from tgc.driver.jit import compile_run
from tgc.driver.signature import HostOpInRun, RunSignature, UnfedPlaceholder, select
from tgc.frontend.queues import GRAPHS_WITH_QUEUES
from tgc.graph import default_session
from tgc.graph.graph import Operation, Tensor, get_default_graph
from tgc.runtime.blas_threads import ThreadScope

_NUMPY_DTYPES = {
    name: np.dtype(d.as_numpy_dtype) for name, d in DTYPES.items() if d.as_numpy_dtype is not None
}


class _FetchMapper:
    """Flattens nested fetches (lists, tuples, dicts, namedtuples) and rebuilds the structure."""

    def __init__(self, graph, fetches):
        self.graph = graph
        self.elements: list = []
        self.structure = self._flatten(fetches)

    def _flatten(self, f):
        if isinstance(f, dict):
            return ("dict", type(f), [(k, self._flatten(v)) for k, v in f.items()])
        if isinstance(f, tuple) and hasattr(f, "_fields"):
            return ("namedtuple", type(f), [self._flatten(v) for v in f])
        if isinstance(f, (list, tuple)):
            return ("seq", type(f), [self._flatten(v) for v in f])
        try:
            element = self.graph.as_graph_element(f)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"cannot fetch {f!r}: {exc}") from None
        except TypeError as exc:
            raise TypeError(
                f"Fetch argument {f!r} has invalid type {type(f).__name__}: {exc}"
            ) from None
        self.elements.append(element)
        return ("leaf", len(self.elements) - 1)

    def build(self, values, node=None):
        node = node or self.structure
        kind = node[0]
        if kind == "leaf":
            return values[node[1]]
        if kind == "dict":
            return node[1]((k, self.build(values, v)) for k, v in node[2])
        if kind == "namedtuple":
            return node[1](*[self.build(values, v) for v in node[2]])
        return node[1](self.build(values, v) for v in node[2])


class Session:
    """Runs graphs (`tf.Session`): ``run(fetches, feed_dict)``, variables kept per session."""

    def __init__(self, target="", graph=None, config=None):
        self.graph = graph or get_default_graph()
        self.config = config
        # A server's target runs the graph on its cluster's tasks (tgc/frontend/cluster.py).
        self._cluster = _cluster_of(target)
        self.sess_str = target  # TF1's name for the target (a cluster session's own task)
        self._variables: dict = {}
        self._cache: dict = {}
        self._closed = False
        self._step = 0
        self._plans: dict = {}
        self.compile_count = 0
        # Held by each run that contains an assignment made with use_locking, from reading the
        # variables to storing them: such runs from several threads lose no update.
        self._locking_runs = threading.Lock()
        # Runs from several threads (queue runners) compile a new signature once, one at a time.
        self._compiling = threading.Lock()
        # Per-session state of host ops that keep it (queues: tgc/frontend/queues.py), by op name.
        self._host_state: dict = {}
        self._host_state_lock = threading.Lock()
        # Traced runs write their ops' times into their variant's counters: one at a time.
        self._tracing = threading.Lock()
        # Each run's matmul threads (OpenBLAS's and tgc's generated GEMM's): at most
        # intra_op_parallelism_threads, fewer on busy cores.
        self._blas_threads = ThreadScope(
            getattr(config, "intra_op_parallelism_threads", 0), "intra_op_parallelism_threads"
        )

    # ---- context management ----------------------------------------------------------------------

    def __enter__(self):
        default_session.push(self)
        self._graph_ctx = self.graph.as_default()
        self._graph_ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._graph_ctx.__exit__(*exc)
        default_session.pop()
        self.close()

    def as_default(self):
        return _DefaultSession(self)

    def close(self):
        self._closed = True
        self._cache.clear()
        self._plans.clear()
        # Runs blocked on a queue of this session end with CancelledError, as in TF.
        for state in list(self._host_state.values()):
            cancel = getattr(state, "cancel", None)
            if cancel is not None:
                cancel()

    def host_state(self, key, make):
        """The state a host op keeps in this session under ``key`` (a queue's contents), made by
        ``make()`` on first use; one per session, as variables are."""
        state = self._host_state.get(key)
        if state is None:
            with self._host_state_lock:
                state = self._host_state.get(key)
                if state is None:
                    state = self._host_state[key] = make()
        return state

    # ---- run -------------------------------------------------------------------------------------

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if feed_dict is None:
            feed_dict = _NO_FEEDS
        key = _plan_key(fetches, feed_dict)
        plan = self._plans.get(key) if key is not None else None
        if plan is not None and plan.fast is not None and run_metadata is None:
            if plan.fast.single_threaded and not self._closed:
                # Code that runs on this thread alone (no OpenBLAS, no parallel runtime): the
                # ThreadScope would set counts nothing reads (y = x * 2 + 1: 9.2 -> 4.2 us a run).
                if plan.lock is None:
                    result = self._run_fast(plan, feed_dict)
                else:
                    with plan.lock:
                        result = self._run_fast(plan, feed_dict)
                if result is not _NO_FAST_PATH:
                    return result
        with self._blas_threads:
            return self._run(fetches, feed_dict, options, run_metadata, key, plan)

    def _run(self, fetches, feed_dict, options, run_metadata, key, plan):
        """A run in the ThreadScope: ``key`` is ``_plan_key``'s, ``plan`` its cached plan or
        None."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if plan is None:
            plan = self._plan(fetches, feed_dict, key)
        if run_metadata is not None and getattr(options, "trace_level", 0):
            return self._run_traced(plan, feed_dict, key, options, run_metadata)
        if plan.fast is not None:
            # The lock test inline, not a helper: a frame is a tenth of a microsecond a run.
            if plan.lock is None:
                result = self._run_fast(plan, feed_dict)
            else:
                with plan.lock:
                    result = self._run_fast(plan, feed_dict)
            if result is not _NO_FAST_PATH:
                return result
        return self._run_general(plan, feed_dict, key, options)

    def _run_traced(self, plan, feed_dict, key, options, run_metadata):
        """A run with ``trace_level`` set: its step stats get one entry per host op and one per
        graph op of the compiled part, from a variant of its function that times each op
        (``_run_compiled_traced``)."""
        trace: dict = {}  # device -> (name, label, start, end, executions[, outputs]) entries
        result = self._run_general(plan, feed_dict, key, options, trace)
        for device in sorted(trace, key=lambda d: (d != HOST_DEVICE, d)):
            run_metadata.add_trace(device, trace[device])
        return result

    def _run_general(self, plan, feed_dict, key, options=None, trace=None):
        timed = _Timer(trace)
        feeds = {t: self._feed_value(t, v) for t, v in zip(plan.feed_tensors, feed_dict.values())}
        by_tensor = dict(feeds)
        if plan.source_ops:
            # Host sources (a queue's dequeue) run first; the compiled part takes their outputs
            # as it takes feeds.
            for op in plan.source_ops:
                with timed(op.name, _label(op)):
                    self._run_host_op(op, by_tensor, options)
            feeds.update((t, by_tensor[t]) for t in plan.cut)
        if plan.device_elements:
            if trace is not None and self._can_trace():
                self._run_compiled_traced(plan, feeds, by_tensor, trace)
            else:
                # Untraced, or traced where ops cannot time themselves (a cluster, a GPU): one
                # entry for the whole compiled part.
                with timed("tgc/compiled_run", f"Compiled({len(plan.device_elements)} fetches)"):
                    self._run_compiled(plan, feeds, by_tensor, key)
        for op in plan.host_ops:
            with timed(op.name, _label(op)):
                self._run_host_op(op, by_tensor, options)
        # A fetched feed is returned as a copy, never the caller's own array.
        values = [
            None
            if not isinstance(e, Tensor)
            else feeds[e].copy()
            if e in feeds and e not in plan.cut
            else by_tensor[e]
            for e in plan.mapper.elements
        ]
        return plan.mapper.build(values)

    def _run_compiled(self, plan, feeds, by_tensor, key) -> None:
        if plan.static:
            compiled = self._compiled(plan.device_elements, feeds, static=True)
            if key is not None:
                # The fast path takes over from the next run (it compiles when a shape changes).
                self._adopt(plan, compiled, tuple(feeds[t].shape for t in plan.feed_tensors))
        else:
            compiled = plan.compiled or self._compiled(plan.device_elements, feeds)
        by_tensor.update(zip(compiled.fetches, self._execute(compiled, feeds)))

    def _run_compiled_traced(self, plan, feeds, by_tensor, trace: dict) -> None:
        """The compiled part of a traced run, by its traced variant (compiled and cached apart from
        the ordinary function, which stays uninstrumented): each graph op's code records its
        first start, total time and executions (tgc/lowering/trace_ops.py); ``trace`` gets one
        entry per op that ran under its device, its times made wall-clock nanoseconds."""
        compiled = self._compiled(plan.device_elements, feeds, static=plan.static, traced=True)
        table = compiled.trace
        with self._tracing:
            table.reset()
            by_tensor.update(zip(compiled.fetches, self._execute(compiled, feeds)))
            records = table.records(HOST_DEVICE)
        wall_offset = time.time_ns() - time.monotonic_ns()
        # Labels and output shapes depend on the feeds' shapes only: made once per shape.
        shapes = tuple(feeds[t].shape for t in compiled.feeds if t in feeds)
        described = table.host_notes.get(shapes)
        if described is None:
            described = table.host_notes[shapes] = self._describe_ops(compiled, feeds)
        for name, device, first, total, executions, _last in records:
            label, outputs = described.get(name) or (
                f"{table.kinds[table.names.index(name)]}()",
                [],
            )
            start = first + wall_offset
            entry = (name, label, start, start + total, executions, outputs)
            trace.setdefault(device, []).append(entry)

    def _describe_ops(self, compiled, feeds) -> dict:
        """name -> (timeline label, output specs) of each op a traced variant may time: the run's
        ops with the outputs of the fed shapes, and the ops of its loops' and conds' bodies (no
        outputs: their shapes are one pass's)."""
        specs = _run_specs(compiled.ops, feeds)
        described = {}
        for name in compiled.trace.names:
            op = self._graph_op(name)
            if op is not None:
                described[name] = (_label(op), [specs[t] for t in op.outputs if t in specs])
        return described

    def _graph_op(self, name: str):
        """The graph's op ``name`` (a loop's or cond's body op included), or None (a transfer)."""
        try:
            return self.graph.get_operation_by_name(name)
        except KeyError:
            return None

    def _can_trace(self) -> bool:
        """Whether this session's runs can time each op (CPU devices, in this process)."""
        from tgc.driver.jit import can_trace

        return self._cluster is None and can_trace(self._devices())

    def _run_host_op(self, op, by_tensor, options) -> None:
        """Runs a host op on the values of its inputs. One that keeps state in the session (a
        queue's op) has a ``session_fn(session, options, *inputs)`` returning one value per
        output; a summary's ``host_fn`` returns its one output."""
        values = [by_tensor[t] for t in op.inputs]
        session_fn = getattr(op, "session_fn", None)
        if session_fn is None:
            by_tensor[op.outputs[0]] = op.host_fn(*values)
            return
        by_tensor.update(zip(op.outputs, session_fn(self, options, *values)))

    def _plan(self, fetches, feed_dict, key) -> "_RunPlan":
        """What a call shape of run() needs, kept under ``key`` for fetches and feed keys given as
        graph objects, so a training loop's repeated run() skips the flattening and lookups (TF's
        callables do the same)."""
        mapper = _FetchMapper(self.graph, fetches)
        feed_tensors = [self._feed_key(k) for k in feed_dict]
        fed = dict.fromkeys(feed_tensors)
        sources, host_ops, device_elements, cut = _split_host(
            mapper.elements, fed, self.graph in GRAPHS_WITH_QUEUES
        )
        plan = _RunPlan(mapper, feed_tensors, host_ops, device_elements)
        plan.source_ops, plan.cut = sources, cut
        fed.update(dict.fromkeys(cut))
        # Only feeds with unknown dims are compiled differently for a target with static shapes.
        plan.static = (
            bool(device_elements)
            and any(t.spec.shape is not None and None in t.spec.shape for t in fed)
            and self._static_shapes()
        )
        if (
            key is not None
            and not plan.static
            and not any(t.spec.shape is None for t in fed)
            and device_elements
        ):
            # Fixed ranks: one compiled function serves every call of this shape.
            self._adopt(plan, self._compiled(device_elements, fed))
        if key is not None:
            self._plans[key] = plan
        return plan

    def _run_fast(self, plan, feed_dict):
        """The same run as the general path, for a plan whose one partition computes every fetch: no
        dictionaries per call, only lists in precomputed order (a training loop's steady state)."""
        fast = plan.fast
        arrays = []
        for (tensor, target, _), value in zip(fast.feeds, feed_dict.values()):
            # The common case inline: an array of the right dtype (the Executable makes it
            # row-major).
            arrays.append(
                value
                if type(value) is np.ndarray and value.dtype == target
                else self._feed_value(tensor, value)
            )
        # One tuple comparison per run: the shapes fed last time were checked then.
        shapes = tuple(map(_SHAPE, arrays))
        if shapes != fast.accepted_shapes:
            fast = self._accept_shapes(plan, arrays, shapes)
            if fast is None:
                return _NO_FAST_PATH
        args = arrays if fast.args_in_feed_order else [arrays[i] for i in fast.arg_order]
        if fast.uses_rng:
            args = args + [self._next_step()]
        variables = self._variables
        try:
            outs = fast.call(*args, *[variables[name] for name in fast.var_inputs])
        except KeyError:
            self._variable_values(fast.var_inputs)  # raises TF's error for the uninitialized one
            raise
        n = fast.num_fetches
        if fast.var_outputs:
            variables.update(zip(fast.var_outputs, outs[n:]))
        if fast.single is not None:  # one fetched tensor or op, not in a list
            i = fast.single
            return None if i is _OP else outs[i] if i >= 0 else arrays[-i - 1].copy()
        # A fetched feed is returned as a copy, never the caller's own array.
        values = [
            None if i is _OP else (outs[i] if i >= 0 else arrays[-i - 1].copy())
            for i in fast.element_sources
        ]
        return plan.mapper.build(values)

    def _accept_shapes(self, plan, arrays, shapes):
        """Feed shapes the fast path has not seen last: each must fit its placeholder (else TF's
        error), and with unknown dims the combination must satisfy the graph's shape rules. The
        fast path that runs them (with static shapes, that of their own compile; None: the general
        path runs them)."""
        fast = plan.fast
        for (tensor, _, static), array in zip(fast.feeds, arrays):
            if not _fits(static, array.shape):
                self._feed_value(
                    tensor, array
                )  # raises the error naming the tensor and both shapes
        if plan.static:
            feeds = dict(zip(plan.feed_tensors, arrays))
            compiled = self._compiled(plan.device_elements, feeds, static=True)  # checks shapes
            return self._adopt(plan, compiled, shapes)
        if fast.check_shapes:
            in_arg_order = tuple(shapes[i] for i in fast.arg_order)
            if in_arg_order not in plan.compiled.validated_shapes:
                self._check_shapes(plan.compiled, dict(zip(plan.feed_tensors, arrays)))
        fast.accepted_shapes = shapes
        return fast

    def _feed_key(self, key) -> Tensor:
        try:
            element = self.graph.as_graph_element(key)
        except (KeyError, ValueError, TypeError) as exc:
            raise TypeError(f"cannot interpret feed_dict key {key!r} as a Tensor: {exc}") from None
        if isinstance(element, Operation):
            raise TypeError(
                f"cannot feed operation '{element.name}'; feed one of its output tensors"
            )
        return element

    def _feed_value(self, tensor: Tensor, value) -> np.ndarray:
        target = _NUMPY_DTYPES.get(tensor.spec.dtype) or numpy_dtype(tensor.spec.dtype)
        if type(value) is np.ndarray and value.dtype == target and value.flags.c_contiguous:
            if _fits(tensor.spec.shape, value.shape):
                return (
                    value  # the common case: the right dtype and a fitting shape, passed as it is
                )
            array = value
        else:
            array = np.asarray(value)
        if tensor.spec.dtype == "string":
            return _string_feed(tensor, array)
        huge = _python_int_beyond_int64(array)
        if huge is not None:
            raise ValueError(
                f"Cannot feed value for Tensor '{tensor.name}': {huge} does not fit its dtype "
                f"{tensor.spec.dtype}"
            )
        if array.dtype == object or not (
            np.can_cast(array.dtype, target, casting="same_kind")
            or (array.dtype.kind in "biu" and target.kind in "biuf")
        ):
            raise ValueError(
                f"Cannot feed value of dtype {array.dtype} for Tensor '{tensor.name}', which has "
                f"dtype {tensor.spec.dtype}"
            )
        _check_feed_shape(tensor, array)
        with np.errstate(
            over="ignore", invalid="ignore"
        ):  # an overflow is reported below, by value
            converted = np.asarray(array, dtype=target, order="C")
        lost = _first_unrepresentable(array, converted)
        if lost is not None:
            raise ValueError(
                f"Cannot feed value for Tensor '{tensor.name}': {lost} ({array.dtype}) does not "
                f"fit its dtype {tensor.spec.dtype}"
            )
        return converted

    def _adopt(self, plan, compiled, shapes=None):
        """Runs of ``plan`` call ``compiled`` through its fast path, if it has one, which is
        returned. With static shapes the plan keeps no compiled function, only a fast path whose
        ``shapes`` (feed-dict order) are those ``compiled`` was made for."""
        fast = _FastPath.build(plan, compiled)
        if fast is not None:
            fast.accepted_shapes = shapes
        plan.lock = self._locking_runs if compiled.locking else None
        if not plan.static:
            plan.compiled = compiled
        plan.fast = fast
        return fast

    def _static_shapes(self) -> bool:
        """Whether a target this session compiles for needs every fed shape at compile time."""
        from tgc.dialect.targets import UnknownTargetError
        from tgc.driver.pipelines import targets_of

        try:
            return any(target.static_shapes for target in targets_of(self._devices()))
        except UnknownTargetError:
            return False  # the compile reports it

    def _compiled(self, elements, feeds, static=False, traced=False):
        """The compiled function of a run signature. ``static``: every feed is typed by its array's
        shape (the key has them all), not only those of unknown rank; ``traced``: the variant that
        times each op (a traced run's), cached apart."""
        # A fed string (a feedable iterator's handle, a summary's tag) is read by host ops only:
        # no compiled op takes strings, so it is no argument of the compiled function.
        if any(t.spec.dtype == "string" for t in feeds):
            feeds = {t: v for t, v in feeds.items() if t.spec.dtype != "string"}
        fed = list(feeds)
        key = (
            tuple(id(e) for e in elements),
            tuple(id(t) for t in fed),
            tuple(feeds[t].shape for t in fed if static or t.spec.shape is None),
            static,
            traced,
        )
        compiled = self._cache.get(key)
        if compiled is not None:
            return compiled
        with self._compiling:
            compiled = self._cache.get(key)
            if compiled is None:
                compiled = self._compile(key, elements, feeds, static, traced)
        return compiled

    def _compile(self, key, elements, feeds, static, traced=False):
        run = self._select(elements, feeds, static)
        if static:
            # Feeds that fit their placeholders but not each other get TF's error, not a failed
            # compile.
            check_concrete_shapes(
                run.ops, {t: TensorSpec(feeds[t].shape, t.spec.dtype) for t in feeds}
            )
        soft = bool(self.config is not None and self.config.allow_soft_placement)
        compiled = compile_run(
            run.ops,
            run.feeds,
            run.fetches,
            self._graph_pipeline(),
            self._devices(),
            soft,
            load=None if self._cluster is None else self._cluster.loader(run.ops),
            trace=traced,
        )
        if self.config is not None and self.config.log_device_placement:
            for name, op_type, device in compiled.placement:
                print(f"{name}: ({op_type}): {device}", file=sys.stderr)
        if static:
            compiled.validated_shapes.add(
                tuple(feeds[t].shape for t in compiled.feeds if t in feeds)
            )
        self.compile_count += 1
        self._cache[key] = compiled
        return compiled

    def _select(self, elements, feeds, static=False) -> RunSignature:
        """The run signature of the fetched ``elements`` (each once) and the fed tensors in feed
        order; a feed of unknown rank (every feed, with ``static``) is typed by its array. TF's
        errors for what cannot run."""
        requested = [
            (t, feeds[t].shape if static or t.spec.shape is None else None, None) for t in feeds
        ]
        try:
            return select(
                _unique(elements),
                requested,
                self.graph,
                ran=_host_controls(elements, feeds, self.graph),
            )
        except HostOpInRun as exc:
            raise TypeError(
                f"'{exc.op.name}' ({exc.op.type}) runs on the host: it can be fetched, merged or "
                f"its outputs used by compiled ops, not be a control input of '{exc.user}'"
            ) from None
        except UnfedPlaceholder as exc:
            op = exc.placeholder
            spec = op.outputs[0].spec
            shape = (
                "<unknown>"
                if spec.shape is None
                else "[" + ",".join("?" if d is None else str(d) for d in spec.shape) + "]"
            )
            raise errors.InvalidArgumentError(
                None,
                op,
                f"You must feed a value for placeholder tensor '{op.name}' with dtype {spec.dtype} "
                f"and shape {shape}",
            ) from None

    def _execute(self, compiled, feeds) -> list:
        args = [feeds[t] for t in compiled.feeds if t in feeds]
        self._check_shapes(compiled, feeds)
        if len(args) < len(compiled.feeds):  # the random-number step counter comes last
            args.append(self._next_step())
        if compiled.locking:
            with self._locking_runs:
                return self._call_and_store(compiled, args)
        return self._call_and_store(compiled, args)

    def _call_and_store(self, compiled, args) -> list:
        self._variable_values(compiled.var_inputs)  # every variable read must be initialized
        fetched, updated = compiled.call(args, self._variables)
        self._variables.update(updated)
        return fetched

    def _next_step(self) -> np.ndarray:
        """The random-number step counter for this run: each run draws new numbers, as in TF."""
        self._step += 1
        return np.asarray(self._step, np.int64)

    def _variable_values(self, names) -> list:
        """The session's values of ``names``, or TF's error for the first that is not
        initialized."""
        try:
            return [self._variables[name] for name in names]
        except KeyError as missing:
            raise errors.FailedPreconditionError(
                None, None, f"Attempting to use uninitialized value {missing.args[0]}"
            ) from None

    def _check_shapes(self, compiled, feeds) -> None:
        """Feeds with unknown dims: check the graph's shape rules once per new shape combination."""
        shapes = tuple(feeds[t].shape for t in compiled.feeds if t in feeds)
        if shapes in compiled.validated_shapes:
            return
        check_concrete_shapes(
            compiled.ops, {t: TensorSpec(feeds[t].shape, t.spec.dtype) for t in feeds}
        )
        compiled.validated_shapes.add(shapes)

    def _devices(self) -> tuple:
        from tgc.frontend.config import ConfigProto

        if self._cluster is not None:
            return self._cluster.devices()
        return (self.config or ConfigProto()).device_names()

    def _graph_pipeline(self) -> str:
        from tgc.frontend.config import ConfigProto

        return (self.config or ConfigProto()).graph_pipeline()

    # ---- variables -------------------------------------------------------------------------------

    def set_variable(self, variable, value):
        array = np.asarray(value, dtype=numpy_dtype(variable.dtype))
        if tuple(array.shape) != tuple(variable._spec.shape):
            raise ValueError(
                f"cannot load a value of shape {array.shape} into variable '{variable._name}' of "
                f"shape {variable.shape}"
            )
        if self._cluster is not None:
            # The variable lives in its task's actor: assign it there, feeding the initializer's
            # value as TensorFlow's Variable.load does.
            self.run(variable.initializer, {variable.initializer.inputs[0]: array})
            return
        self._variables[variable._name] = array.copy()

    def is_initialized(self, variable) -> bool:
        if self._cluster is not None:
            return variable._name in self._cluster.variable_names()
        return variable._name in self._variables


def _cluster_of(target):
    """None for an in-process session (target ""), else the running cluster the target names."""
    if target in ("", None):
        return None
    from tgc.frontend.cluster import cluster_of_target

    return cluster_of_target(target)


def _string_feed(tensor: Tensor, array: np.ndarray) -> np.ndarray:
    """A feed of a string tensor: str or bytes values only, kept as Python objects (never
    compiled)."""
    if array.dtype.kind not in "USO" or (
        array.dtype == object and not all(isinstance(v, (str, bytes)) for v in array.flat)
    ):
        raise ValueError(
            f"Cannot feed value of dtype {array.dtype} for Tensor '{tensor.name}', which has dtype "
            "string"
        )
    _check_feed_shape(tensor, array)
    return np.array(array, dtype=object)


def _check_feed_shape(tensor: Tensor, array: np.ndarray) -> None:
    if not _fits(tensor.spec.shape, array.shape):
        raise ValueError(
            f"Cannot feed value of shape {tuple(array.shape)} for Tensor '{tensor.name}', "
            f"which has shape {tensor.shape}"
        )


def _python_int_beyond_int64(array: np.ndarray):
    """A Python int too large for any numpy integer (numpy keeps such values as objects), or
    None."""
    if array.dtype != object or array.size == 0:
        return None
    return next((v for v in array.flat if isinstance(v, int) and not -(2**63) <= v < 2**64), None)


def _first_unrepresentable(array: np.ndarray, converted: np.ndarray):
    """The first value of ``array`` that its conversion did not keep: an integer outside the
    target's range (numpy wraps it), a finite number that became an infinite float, an integer other
    than 0 or 1 made a bool. None when every value fits. Precision lost within range (int64 to
    float32) is allowed, as in TensorFlow."""
    if array.dtype == converted.dtype or array.size == 0 or array.dtype == object:
        return None
    source, target = array.dtype.kind, converted.dtype.kind
    if source in "iu" and target in "iu":
        info = np.iinfo(converted.dtype)
        bad = (array < info.min) | (array > info.max) if source == "i" else array > info.max
    elif source in "iu" and target == "b":
        bad = (array != 0) & (array != 1)
    elif source in "iuf" and target == "f":
        bad = np.isinf(converted) & np.isfinite(array)
    else:
        return None
    if not bad.any():
        return None
    return array[bad].flat[0]


def _fits(static, actual) -> bool:
    """True when a fed array of shape ``actual`` fits a placeholder of shape ``static`` (None:
    any)."""
    return static is None or static == actual or compatible(actual, static)


class _RunPlan:
    __slots__ = (
        "mapper",
        "feed_tensors",
        "host_ops",
        "device_elements",
        "compiled",
        "fast",
        "lock",
        "static",
        "source_ops",
        "cut",
    )

    def __init__(self, mapper, feed_tensors, host_ops, device_elements):
        self.mapper = mapper
        self.feed_tensors = feed_tensors
        self.host_ops = host_ops
        self.device_elements = device_elements
        self.compiled = None
        self.fast = None
        self.lock = (
            None  # the session's lock for runs with a use_locking assignment, on the fast path
        )
        self.static = False  # the target compiles one function per combination of fed shapes
        self.source_ops = []  # host ops run before the compiled part (a queue's dequeue)
        self.cut = {}  # their outputs that the compiled part takes as feeds (a dict: ordered)


HOST_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"  # where a traced run's times are kept


def _run_specs(ops, feeds) -> dict:
    """The shapes this run's ops produced (the feeds' actual shapes through the registry's
    result rules; ``ops`` in graph order), for a traced run's outputs and memory. Only outputs
    whose shapes are all known are kept."""
    known = {t: TensorSpec(feeds[t].shape, t.spec.dtype) for t in feeds}
    for op in ops:
        if op.opdef is None:
            continue
        inputs = [known.get(t, t.spec) for t in op.inputs]
        try:
            outs = REGISTRY[op.opdef].result_specs(inputs, op.attrs)
        except ShapeError:  # a shape its values decide (a computed reshape): left unknown
            continue
        for t, spec in zip(op.outputs, outs):
            known.setdefault(t, spec)
    return {
        t: spec
        for t, spec in known.items()
        if spec.shape is not None and None not in spec.shape and spec.dtype != "string"
    }


def _label(op) -> str:
    """A step's timeline label of ``op`` after its name, as TF writes it: ``Type(input, ...)``."""
    inputs = (t.name[:-2] if t.name.endswith(":0") else t.name for t in op.inputs)
    return f"{op.type}({', '.join(inputs)})"


class _Timer:
    """``with timed(name, label):`` appends (name, label, start, end, executions = 1), times in
    wall-clock nanoseconds, to ``trace[HOST_DEVICE]``; does nothing without ``trace`` (an untraced
    run)."""

    def __init__(self, trace):
        self.trace = trace

    @contextlib.contextmanager
    def __call__(self, name, label):
        if self.trace is None:
            yield
            return
        start = time.time_ns()
        try:
            yield
        finally:
            self.trace.setdefault(HOST_DEVICE, []).append((name, label, start, time.time_ns(), 1))


_OP = object()  # a fetched op, whose value is None
_SHAPE = operator.attrgetter("shape")
_NO_FEEDS: dict = {}
_NO_FAST_PATH = object()  # what _run_fast returns when the general path must run the call


class _FastPath:
    """Precomputed orders for a plan run by one partition that computes every fetch, with no host
    ops.

    ``feeds``: (tensor, numpy dtype, static shape) per feed, in feed-dict order; ``arg_order``: for
    each argument of the compiled function, the index of its feed in the feed dict;
    ``element_sources``: for each fetched element, its index among the compiled results, _OP for an
    op, or -(k + 1) for the k-th feed when a fed tensor is fetched back; ``single``: that source
    when the fetch is one bare element.
    """

    __slots__ = (
        "call",
        "var_inputs",
        "var_outputs",
        "feeds",
        "arg_order",
        "args_in_feed_order",
        "check_shapes",
        "uses_rng",
        "num_fetches",
        "element_sources",
        "single",
        "accepted_shapes",
        "single_threaded",
    )

    @classmethod
    def build(cls, plan, compiled):
        direct = getattr(compiled.call, "_direct", None)
        if direct is None or plan.host_ops or plan.source_ops:
            return None
        position = {t: i for i, t in enumerate(plan.feed_tensors)}
        fast = cls()
        fast.call, fast.var_inputs, fast.var_outputs = (
            direct.call,
            list(direct.var_inputs),
            list(direct.var_outputs),
        )
        fast.feeds = [
            (t, _NUMPY_DTYPES.get(t.spec.dtype) or numpy_dtype(t.spec.dtype), t.spec.shape)
            for t in plan.feed_tensors
        ]
        fast.arg_order = [position[t] for t in compiled.feeds if t in position]
        fast.args_in_feed_order = fast.arg_order == list(range(len(plan.feed_tensors)))
        # Feeds with unknown dims: each new combination of shapes is checked against the shape
        # rules.
        fast.check_shapes = any(None in t.spec.shape for t in plan.feed_tensors)
        fast.accepted_shapes = (
            None  # the feed shapes (feed-dict order) of the last run that passed the checks
        )
        fast.uses_rng = len(fast.arg_order) < len(compiled.feeds)
        fast.num_fetches = len(compiled.fetches)
        result = {t: i for i, t in enumerate(compiled.fetches)}
        sources = []
        for e in plan.mapper.elements:
            if not isinstance(e, Tensor):
                sources.append(_OP)
            elif e in position:
                sources.append(-position[e] - 1)
            else:
                sources.append(result[e])
        fast.element_sources = sources
        fast.single = sources[0] if plan.mapper.structure[0] == "leaf" else None
        # Code that starts no threads runs outside the ThreadScope (Session.run). Not with static
        # shapes: a new shape compiles new code on the fast path.
        fast.single_threaded = (
            getattr(direct.call, "uses_threads", True) is False and not plan.static
        )
        return fast


def _plan_key(fetches, feed_dict):
    """A cheap key for fetches and feed keys that are graph objects (single or in a flat
    list/tuple); None for names, dicts and nested structures, which take the general path every
    time."""
    kind = type(fetches)
    if kind is Tensor or kind is Operation or isinstance(fetches, (Tensor, Operation)):
        fetch_key = id(fetches)
    elif kind is list or kind is tuple:
        for f in fetches:
            if not isinstance(f, (Tensor, Operation)):
                return None
        fetch_key = (kind, *map(id, fetches))
    else:
        return None
    for k in feed_dict:
        if type(k) is not Tensor:
            return None
    return fetch_key, *map(id, feed_dict)


def _split_host(elements, feeds, search_sources=True):
    """How a run mixes host ops (summaries, queues) with compiled code: (sources, sinks, device
    elements, cut).

    A host op that takes nothing computed in this run (a queue's dequeue, a summary of a feed) is a
    source: it runs first, and the outputs that compiled code reads (``cut``) are fed to it. A host
    op that takes compiled values (an enqueue of a computed batch, a summary of a loss) is a sink:
    it runs after, in dependency order. The device computes the fetches that are not host ops plus
    every input of a sink. A fed tensor cuts the graph: its value is the feed, and nothing upstream
    of it runs for it. ``search_sources``: whether compiled ops may take host outputs (a graph with
    queues); if not, the compiled part is not searched for them."""
    sources, sinks, device, cut = [], [], [], {}
    placed: set = set()  # host ops put among the sources or sinks
    scanned: set = set()  # compiled ops whose upstream was searched for host sources
    after_device: dict = {}

    def takes_computed(op) -> bool:
        """Whether host op ``op`` needs a value that compiled code computes in this run."""
        if op not in after_device:
            after_device[op] = any(
                t not in feeds and (t.op.host_fn is None or takes_computed(t.op)) for t in op.inputs
            )
        return after_device[op]

    def visit(element):
        if isinstance(element, Tensor) and element in feeds:
            return
        op = element.op if isinstance(element, Tensor) else element
        if op.host_fn is None:
            device.append(element)
            if search_sources:
                scan(op)
            return
        if op in placed:
            return
        placed.add(op)
        for t in op.inputs:
            visit(t)
        (sinks if takes_computed(op) else sources).append(op)

    def scan(root):
        """Host ops upstream of compiled op ``root``: each must be a source, its outputs fed."""
        stack = [root]
        while stack:
            op = stack.pop()
            if op in scanned:
                continue
            scanned.add(op)
            for t in op.inputs:
                if t in feeds:
                    continue
                if t.op.host_fn is None:
                    stack.append(t.op)
                    continue
                if takes_computed(t.op):
                    raise TypeError(
                        f"'{t.op.name}' ({t.op.type}) runs on the host after the compiled part of "
                        f"the run (it takes values computed there), so its output cannot feed "
                        f"'{op.name}' in the same run; fetch it and feed it to a second run"
                    )
                cut[t] = None
                visit(t.op)
            for c in op.control_inputs:
                if c.host_fn is not None and not takes_computed(c):
                    # A host op that needs nothing computed (an iterator's initializer, fed or
                    # without inputs) runs among the sources, before the compiled part: the
                    # control dependency holds (tf.group of initializers).
                    visit(c)
                    continue
                if c.host_fn is not None:
                    raise TypeError(
                        f"'{c.name}' ({c.type}) runs on the host: it can be fetched, merged or "
                        f"its outputs used by compiled ops, not be a control input of '{op.name}'; "
                        "fetch both in one run instead"
                    )
                stack.append(c)

    for element in elements:
        visit(element)
    return sources, sinks, device, cut


def _host_controls(elements, feeds, graph) -> frozenset:
    """The host ops that compiled ops upstream of ``elements`` take as control inputs and that
    ``_split_host`` runs as the run's sources (they need nothing computed): the compiled part does
    not contain them. Only graphs with host sources (queues, iterators) have them."""
    if graph not in GRAPHS_WITH_QUEUES:
        return frozenset()
    found, seen = set(), set()
    stack = [e.op if isinstance(e, Tensor) else e for e in elements]
    while stack:
        op = stack.pop()
        if op in seen or op.host_fn is not None:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs if t not in feeds)
        for c in op.control_inputs:
            if c.host_fn is None:
                stack.append(c)
            elif all(t in feeds or t.op.host_fn is not None for t in c.inputs):
                found.add(c)
    return frozenset(found)


def check_concrete_shapes(ops, specs: dict) -> None:
    """Runs the registry's result rules with the feeds' actual shapes, raising
    InvalidArgumentError."""
    known = dict(specs)
    for op in ops:
        if op.opdef is None:
            continue
        inputs = [known.get(t, t.spec) for t in op.inputs]
        if all(s == t.spec for s, t in zip(inputs, op.inputs)):
            continue
        try:
            outs = REGISTRY[op.opdef].result_specs(inputs, op.attrs)
        except ShapeError as exc:
            shapes = ", ".join(str(list(s.shape)) for s in inputs)
            raise errors.InvalidArgumentError(
                None, op, f"{exc} for '{op.name}' (op: '{op.type}') with input shapes: {shapes}"
            ) from None
        _check_assignment(op, outs)
        for t, s in zip(op.outputs, outs):
            known.setdefault(t, s)


def _check_assignment(op, outs) -> None:
    """An assign whose value had unknown dims at build time must fit its variable now."""
    variable = op.variable
    if variable is None or op.opdef not in ASSIGNMENT_OPS or not outs:
        return
    if tuple(outs[0].shape) != tuple(variable._spec.shape):
        lhs = ",".join(str(d) for d in variable._spec.shape)
        rhs = ",".join(str(d) for d in outs[0].shape)
        if op.type == "Assign":
            text = (
                "Assign requires shapes of both tensors to match. "
                f"lhs shape= [{lhs}] rhs shape= [{rhs}]"
            )
        else:  # TF's (ref) AssignAdd and AssignSub kernels' words
            text = "Parameters and update must be the same size"
        raise errors.InvalidArgumentError(None, op, f"{text} (op '{op.name}')")


def _unique(items):
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


class _DefaultSession:
    def __init__(self, session):
        self.session = session

    def __enter__(self):
        default_session.push(self.session)
        return self.session

    def __exit__(self, *exc):
        default_session.pop()


class InteractiveSession(Session):
    """A Session that installs itself as the default on construction (`tf.InteractiveSession`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default_session.push(self)

    def close(self):
        super().close()
        default_session.remove(self)
