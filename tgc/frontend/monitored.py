"""TF1's ``tf.train.MonitoredTrainingSession`` and its hooks: a training session that initializes or
restores the variables, saves checkpoints, stops at a step, and survives a lost task.

    with tf.train.MonitoredTrainingSession(master=server.target, is_chief=True,
                                           checkpoint_dir=DIR, save_checkpoint_steps=100,
                                           hooks=[tf.train.StopAtStepHook(last_step=1000)]) as sess:
        while not sess.should_stop():
            sess.run(train_op)

On creation (and again after a failure), the chief restores the newest checkpoint of
``checkpoint_dir`` when there is one, else runs the initializer; a non-chief waits until the chief
has initialized every variable. Checkpoints are written by ``global_step`` (``model.ckpt-<step>``,
each one atomic: tgc/frontend/saver.py), every ``save_checkpoint_steps`` steps or
``save_checkpoint_secs`` seconds, at the start and at the end.

A step that fails because a task was lost (``UnavailableError``: its process died during the step;
``AbortedError``: a restarted task lost the variables it held) is recovered as TF's
MonitoredSession does: the session state is created again (restored from the last checkpoint) and
the step runs again. What is kept: every update that the last checkpoint holds, that is every
update acknowledged before it was written; updates after it are redone from there (with the feeds
the program gives), never half applied.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time

from tgc.frontend.queue_runner import Coordinator, start_queue_runners
from tgc.frontend.saver import Saver, latest_checkpoint
from tgc.frontend.variables import (
    global_variables,
    global_variables_initializer,
    local_variables,
    local_variables_initializer,
)
from tgc.runtime.errors import AbortedError, OutOfRangeError, UnavailableError

# The errors after which TF's MonitoredSession creates its session again and retries the step.
PREEMPTION_ERRORS = (AbortedError, UnavailableError)
# Failed recoveries in a row before the error is raised (TF retries for ever; a cluster that never
# comes back should end the program with its error instead).
MAX_RECOVERIES_IN_A_ROW = 10
USE_DEFAULT = object()


# ---- hooks ---------------------------------------------------------------------------------------


class SessionRunArgs:
    """What a hook adds to a run: fetches (any structure Session.run takes) and feeds."""

    def __init__(self, fetches, feed_dict=None, options=None):
        self.fetches, self.feed_dict, self.options = fetches, feed_dict, options


class SessionRunValues:
    """A hook's fetches' values after the run."""

    def __init__(self, results, options=None, run_metadata=None):
        self.results, self.options, self.run_metadata = results, options, run_metadata


class SessionRunContext:
    """The run a hook sees: the caller's arguments, the session, and ``request_stop()``."""

    def __init__(self, original_args, session):
        self.original_args, self.session = original_args, session
        self._stop_requested = False

    def request_stop(self) -> None:
        self._stop_requested = True

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested


class SessionRunHook:
    """Called around session creation and each run (TF1's ``tf.train.SessionRunHook``)."""

    def begin(self):
        pass

    def after_create_session(self, session, coord):
        pass

    def before_run(self, run_context):
        return None

    def after_run(self, run_context, run_values):
        pass

    def end(self, session):
        pass


def _global_step_or_raise(hook_name):
    from tgc.frontend.global_step import get_global_step

    step = get_global_step()
    if step is None:
        raise RuntimeError(f"Global step should be created to use {hook_name}.")
    return step


class StopAtStepHook(SessionRunHook):
    """Requests a stop once the global step reaches ``last_step`` (or ``num_steps`` after the step
    the session started at)."""

    def __init__(self, num_steps=None, last_step=None):
        if (num_steps is None) == (last_step is None):
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and num_steps < 0:
            raise ValueError("num_steps must be non-negative.")
        if last_step is not None and last_step < 0:
            raise ValueError("last_step must be non-negative.")
        self._num_steps, self._last_step = num_steps, last_step

    def begin(self):
        self._global_step = _global_step_or_raise("StopAtStepHook")

    def after_create_session(self, session, coord):
        if self._last_step is None:
            self._last_step = int(session.run(self._global_step)) + self._num_steps

    def before_run(self, run_context):
        return SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values):
        # The fetched step may have been read before the run's increment: read it again when the
        # run may have reached the end.
        if int(run_values.results) + 1 >= self._last_step:
            if int(run_context.session.run(self._global_step)) >= self._last_step:
                run_context.request_stop()


class CheckpointSaverHook(SessionRunHook):
    """Saves ``checkpoint_dir/model.ckpt-<global step>`` every ``save_steps`` steps or
    ``save_secs`` seconds, when the session is created and at its end."""

    def __init__(
        self,
        checkpoint_dir,
        save_secs=None,
        save_steps=None,
        saver=None,
        checkpoint_basename="model.ckpt",
        scaffold=None,
        listeners=None,
    ):
        if (save_secs is None) == (save_steps is None):
            raise ValueError("exactly one of save_secs or save_steps must be given")
        if saver is not None and scaffold is not None:
            raise ValueError("You cannot provide both saver and scaffold.")
        self._dir, self._basename = checkpoint_dir, checkpoint_basename
        self._save_secs, self._save_steps = save_secs, save_steps
        self._saver, self._scaffold = saver, scaffold
        self._listeners = list(listeners or [])

    def begin(self):
        import os

        self._global_step = _global_step_or_raise("CheckpointSaverHook")
        self._prefix = os.path.join(os.fspath(self._dir), self._basename)

    def after_create_session(self, session, coord):
        self._save(session, int(session.run(self._global_step)))

    def before_run(self, run_context):
        return SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values):
        step = int(run_context.session.run(self._global_step))
        if self._due(step):
            self._save(run_context.session, step)

    def end(self, session):
        step = int(session.run(self._global_step))
        if step != self._last_saved_step:
            self._save(session, step)

    def _due(self, step: int) -> bool:
        if self._save_steps is not None:
            return step >= self._last_saved_step + self._save_steps
        return time.monotonic() >= self._last_saved_time + self._save_secs

    def _save(self, session, step: int) -> None:
        for listener in self._listeners:
            listener.before_save(session, step)
        saver = self._saver or (self._scaffold.saver if self._scaffold else None)
        saver = saver or _default_saver()
        saver.save(session, self._prefix, global_step=step)
        self._last_saved_step, self._last_saved_time = step, time.monotonic()
        for listener in self._listeners:
            listener.after_save(session, step)


class SecondOrStepTimer:
    """Fires every ``every_secs`` seconds or every ``every_steps`` steps (TF1's timer of hooks)."""

    def __init__(self, every_secs=None, every_steps=None):
        if every_secs is None and every_steps is None:
            raise ValueError("Either every_secs or every_steps should be provided.")
        if every_secs is not None and every_steps is not None:
            raise ValueError("Can not provide both every_secs and every_steps.")
        self._every_secs, self._every_steps = every_secs, every_steps
        self.reset()

    def reset(self) -> None:
        self._last_time, self._last_step = None, None

    def should_trigger_for_step(self, step: int) -> bool:
        if self._last_step is None:
            return True
        if self._last_step == step:
            return False
        if self._every_secs is not None:
            return time.time() >= self._last_time + self._every_secs
        return step >= self._last_step + self._every_steps

    def update_last_triggered_step(self, step: int):
        """(seconds, steps) since the last trigger; (None, None) at the first."""
        now = time.time()
        elapsed = (None, None)
        if self._last_time is not None:
            elapsed = (now - self._last_time, step - self._last_step)
        self._last_time, self._last_step = now, step
        return elapsed

    def last_triggered_step(self):
        return self._last_step


def _summary_writer(output_dir, summary_writer):
    from tgc.frontend.summary_writer import FileWriterCache

    if summary_writer is not None:
        return summary_writer
    if output_dir is None:
        raise ValueError("a summary hook needs output_dir or summary_writer")
    return FileWriterCache.get(output_dir)


class SummarySaverHook(SessionRunHook):
    """Writes the summary op's value (``scaffold.summary_op``: the graph's ``merge_all()``) to an
    event file every ``save_steps`` steps or ``save_secs`` seconds, at the global step it was
    computed for (TF1's ``tf.train.SummarySaverHook``); a ``SessionLog.START`` when it begins."""

    def __init__(
        self,
        save_steps=None,
        save_secs=None,
        output_dir=None,
        summary_writer=None,
        scaffold=None,
        summary_op=None,
    ):
        if (scaffold is None) == (summary_op is None):
            raise ValueError("Exactly one of scaffold or summary_op should be set.")
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._output_dir, self._writer = output_dir, summary_writer
        self._scaffold, self._summary_op = scaffold, summary_op

    def begin(self):
        self._writer = _summary_writer(self._output_dir, self._writer)
        self._global_step = _global_step_or_raise("SummarySaverHook")
        self._next_step = None

    def _summaries(self) -> list:
        op = self._scaffold.summary_op if self._scaffold is not None else self._summary_op
        if op is None:
            return []
        return list(op) if isinstance(op, (list, tuple)) else [op]

    def before_run(self, run_context):
        self._request = self._next_step is None or self._timer.should_trigger_for_step(
            self._next_step
        )
        fetches = {"global_step": self._global_step}
        if self._request and self._summaries():
            fetches["summary"] = self._summaries()
        return SessionRunArgs(fetches)

    def after_run(self, run_context, run_values):
        results = run_values.results
        step = int(results["global_step"]) + 1  # the fetched step may precede the run's increment
        if self._next_step is None or self._request:
            step = int(run_context.session.run(self._global_step))
        if self._next_step is None:
            from tensorboard.compat.proto.event_pb2 import SessionLog

            self._writer.add_session_log(SessionLog(status=SessionLog.START), step)
        if self._request:
            self._timer.update_last_triggered_step(step)
            for summary in results.get("summary", []):
                self._writer.add_summary(summary, step)
        self._next_step = step + 1

    def end(self, session):
        if self._writer is not None:
            self._writer.flush()


class StepCounterHook(SessionRunHook):
    """Writes the training speed, ``global_step/sec``, every ``every_n_steps`` steps or
    ``every_n_secs`` seconds (TF1's ``tf.train.StepCounterHook``), and prints it."""

    def __init__(self, every_n_steps=100, every_n_secs=None, output_dir=None, summary_writer=None):
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError("exactly one of every_n_steps and every_n_secs should be provided.")
        self._timer = SecondOrStepTimer(every_secs=every_n_secs, every_steps=every_n_steps)
        self._output_dir, self._writer = output_dir, summary_writer

    def begin(self):
        if self._output_dir is not None or self._writer is not None:
            self._writer = _summary_writer(self._output_dir, self._writer)
        self._global_step = _global_step_or_raise("StepCounterHook")
        self._tag = f"{self._global_step.op.name}/sec"

    def before_run(self, run_context):
        return SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values):
        if not self._timer.should_trigger_for_step(int(run_values.results) + 1):
            return
        step = int(run_context.session.run(self._global_step))
        if not self._timer.should_trigger_for_step(step):
            return
        seconds, steps = self._timer.update_last_triggered_step(step)
        if seconds is not None and seconds > 0:
            self._record(steps / seconds, step)

    def _record(self, steps_per_sec: float, step: int) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        if self._writer is not None:
            summary = Summary(value=[Summary.Value(tag=self._tag, simple_value=steps_per_sec)])
            self._writer.add_summary(summary, step)
        logging.getLogger("tgc").info("%s: %g", self._tag, steps_per_sec)


class ProfilerHook(SessionRunHook):
    """Traces a step every ``save_steps`` steps or ``save_secs`` seconds (TF1's
    ``tf.train.ProfilerHook``): its per-op times (tf.RunOptions FULL_TRACE) go to
    ``output_dir/timeline-<global step>.json`` as a Chrome trace (tgc/frontend/timeline.py) and to
    the event file there as the run metadata of tag ``step_<global step>``, which TensorBoard's
    graph view shows."""

    def __init__(
        self, save_steps=None, save_secs=None, output_dir="", show_dataflow=True, show_memory=False
    ):
        from tgc.frontend.summary_writer import FileWriterCache
        from tgc.frontend.timeline import check_trace_options

        check_trace_options(show_memory)  # refused now, not at the first traced step
        if importlib.util.find_spec("tensorboard") is None:
            raise ImportError(
                "ProfilerHook writes each traced step's run metadata to a TensorBoard event "
                "file, which needs TensorBoard: pip install 'tgc[tensorboard]'"
            )
        self._output_file = os.path.join(output_dir, "timeline-{}.json")
        self._writer = FileWriterCache.get(output_dir)
        self._show_dataflow = show_dataflow
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)

    def begin(self):
        self._next_step = None
        self._global_step = _global_step_or_raise("ProfilerHook")

    def before_run(self, run_context):
        from tgc.frontend.queues import RunOptions

        self._request = self._next_step is not None and self._timer.should_trigger_for_step(
            self._next_step
        )
        options = RunOptions(trace_level=RunOptions.FULL_TRACE) if self._request else None
        return SessionRunArgs({"global_step": self._global_step}, options=options)

    def after_run(self, run_context, run_values):
        stale_step = int(run_values.results["global_step"])
        if self._next_step is None:  # the first run only starts the count, as TF's does
            self._timer.update_last_triggered_step(stale_step)
        step = stale_step + 1
        if self._request:
            step = int(run_context.session.run(self._global_step))
            self._timer.update_last_triggered_step(step)
            self._save(self._output_file.format(step), run_values.run_metadata.step_stats)
            self._writer.add_run_metadata(run_values.run_metadata, f"step_{step}")
        self._next_step = step + 1

    def _save(self, path: str, step_stats) -> None:
        from tgc.frontend.timeline import Timeline

        logging.getLogger("tgc").info("Saving timeline into '%s'.", path)
        with open(path, "w", encoding="utf-8") as f:
            f.write(
                Timeline(step_stats).generate_chrome_trace_format(show_dataflow=self._show_dataflow)
            )


def _merged_options(options, requested: list):
    """The caller's RunOptions with the hooks' asks merged in as TF1 merges them: the larger
    trace level and timeout. The caller's object is not changed."""
    from tgc.frontend.queues import RunOptions

    requested = [r for r in requested if r is not None]
    if not requested:
        return options
    merged = RunOptions(
        timeout_in_ms=getattr(options, "timeout_in_ms", 0),
        trace_level=getattr(options, "trace_level", 0),
    )
    for asked in requested:
        merged.trace_level = max(merged.trace_level, asked.trace_level)
        merged.timeout_in_ms = max(merged.timeout_in_ms, asked.timeout_in_ms)
    return merged


_SAVERS: dict = {}  # graph -> the Saver of every global variable that hooks share


def _default_saver():
    from tgc.graph.graph import get_default_graph

    graph = get_default_graph()
    if graph not in _SAVERS:
        _SAVERS[graph] = Saver(sharded=True, allow_empty=True)
    return _SAVERS[graph]


# ---- scaffold and session ------------------------------------------------------------------------


class Scaffold:
    """What a monitored session needs to create its state: the initializer, the saver and the
    summary op (defaults: every global variable's initializer; a Saver of every global variable;
    ``merge_all()`` of the graph's summaries, kept in the ``summary_op`` collection as TF1 does)."""

    def __init__(
        self,
        init_op=None,
        init_feed_dict=None,
        init_fn=None,
        saver=None,
        summary_op=None,
        local_init_op=None,
        **_unused,
    ):
        self.init_op, self.init_feed_dict, self.init_fn = init_op, init_feed_dict, init_fn
        # Run in every session after the variables are initialized or restored (a dataset
        # iterator's initializer, local variables' initializers); None: nothing more.
        self.local_init_op = local_init_op
        self.saver, self.summary_op = saver, summary_op

    def finalize(self) -> None:
        if self.init_op is None:
            self.init_op = global_variables_initializer()
        if self.local_init_op is None and local_variables():
            # TF's default local_init_op: the local variables (a string_input_producer's epoch
            # count, tf.metrics' totals) start anew in every session.
            self.local_init_op = local_variables_initializer()
        if self.saver is None:
            self.saver = _default_saver()
        if self.summary_op is None:
            self.summary_op = _default_summary_op()


SUMMARY_OP = "summary_op"  # TF1's GraphKeys.SUMMARY_OP


def _default_summary_op():
    """The graph's merged summaries, made once (None when the graph has no summary)."""
    from tgc.frontend.summary_ops import merge_all
    from tgc.graph.graph import get_default_graph

    graph = get_default_graph()
    made = graph.get_collection(SUMMARY_OP)
    if made:
        return made[0]
    op = merge_all()
    if op is not None:
        graph.add_to_collection(SUMMARY_OP, op)
    return op


class MonitoredSession:
    """A session that runs its hooks around each run and creates itself again after a lost task.

    ``is_chief``: restores the newest checkpoint of ``checkpoint_dir`` (or initializes) when its
    session is created; otherwise waits until every global variable is initialized."""

    def __init__(
        self,
        master="",
        is_chief=True,
        checkpoint_dir=None,
        scaffold=None,
        hooks=None,
        config=None,
        max_wait_secs=7200.0,
        stop_grace_period_secs=120,
    ):
        self._master, self._config = master, config
        self._is_chief, self._checkpoint_dir = is_chief, checkpoint_dir
        self._scaffold = scaffold or Scaffold()
        self._scaffold.finalize()
        self._hooks = list(hooks or [])
        self._max_wait_secs = max_wait_secs
        self._stop_requested = False
        self._closed = False
        self.recoveries = 0  # how many times a lost task made it create its state again
        for hook in self._hooks:
            hook.begin()
        self._sess = None
        self._coord, self._threads = None, []
        self._stop_grace_period_secs = stop_grace_period_secs
        try:
            self._create_with_retries()
        except BaseException:
            if self._sess is not None:
                self._sess.close()
            raise

    # ---- creation and recovery -------------------------------------------------------------------

    def _create_with_retries(self) -> None:
        failures = 0
        while True:
            try:
                self._create()
                return
            except PREEMPTION_ERRORS as exc:
                failures += 1
                if failures > MAX_RECOVERIES_IN_A_ROW:
                    raise
                _note(f"creating the session failed ({exc.message}); trying again")
                time.sleep(min(0.2 * failures, 2.0))

    def _create(self) -> None:
        from tgc.frontend.session import Session

        if self._sess is None:
            self._sess = Session(self._master, config=self._config)
        if self._is_chief:
            self._restore_or_initialize()
        else:
            self._wait_for_chief()
        if self._scaffold.local_init_op is not None:
            self._sess.run(self._scaffold.local_init_op)
        if self._coord is None:
            # The graph's queue runners feed the input pipeline (TF's coordinated session). Their
            # queues live in this client's session, so a recovery keeps them running.
            self._coord = Coordinator()
            self._threads = start_queue_runners(self._sess, self._coord)
        for hook in self._hooks:
            hook.after_create_session(self._sess, self._coord)

    def _restore_or_initialize(self) -> None:
        found = latest_checkpoint(self._checkpoint_dir) if self._checkpoint_dir else None
        if found:
            self._scaffold.saver.restore(self._sess, found)
            return
        self._sess.run(self._scaffold.init_op, self._scaffold.init_feed_dict)
        if self._scaffold.init_fn is not None:
            self._scaffold.init_fn(self._scaffold, self._sess)

    def _wait_for_chief(self) -> None:
        deadline = time.monotonic() + self._max_wait_secs
        while not all(self._sess.is_initialized(v) for v in global_variables()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the chief did not initialize the variables within {self._max_wait_secs} s"
                )
            time.sleep(0.1)

    # ---- the user's calls ------------------------------------------------------------------------

    @property
    def graph(self):
        from tgc.graph.graph import get_default_graph

        return get_default_graph()

    def should_stop(self) -> bool:
        coordinated = self._coord is not None and self._coord.should_stop()
        return self._stop_requested or self._closed or coordinated

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Session.run with the hooks around it; a step lost with a task is redone after the
        session state is restored from the last checkpoint."""
        if self._closed:
            raise RuntimeError("Run called on a closed MonitoredSession")
        failures = 0
        while True:
            try:
                return self._run_with_hooks(fetches, feed_dict, options, run_metadata)
            except PREEMPTION_ERRORS as exc:
                failures += 1
                if failures > MAX_RECOVERIES_IN_A_ROW:
                    raise
                self.recoveries += 1
                _note(f"a task was lost ({exc.message}); restoring and running the step again")
                self._create_with_retries()

    def _run_with_hooks(self, fetches, feed_dict, options, run_metadata):
        context = SessionRunContext(SessionRunArgs(fetches, feed_dict, options), self._sess)
        requests = [hook.before_run(context) for hook in self._hooks]
        feeds = dict(feed_dict or {})
        for request in requests:
            if request is not None and request.feed_dict:
                clash = set(feeds) & set(request.feed_dict)
                if clash:
                    raise RuntimeError(f"Same tensor is fed by two hooks or by a hook: {clash}")
                feeds.update(request.feed_dict)
        hook_fetches = [None if r is None else r.fetches for r in requests]
        options = _merged_options(options, [r.options for r in requests if r is not None])
        if run_metadata is None:  # a hook that asked for a trace reads it from its run values
            from tgc.frontend.run_metadata import RunMetadata

            run_metadata = RunMetadata()
        outputs = self._sess.run(
            {"caller": fetches, "hooks": [f for f in hook_fetches if f is not None]},
            feed_dict=feeds,
            options=options,
            run_metadata=run_metadata,
        )
        answers = iter(outputs["hooks"])
        for hook, wanted in zip(self._hooks, hook_fetches):
            value = None if wanted is None else next(answers)
            hook.after_run(context, SessionRunValues(value, options, run_metadata))
        self._stop_requested = self._stop_requested or context.stop_requested
        return outputs["caller"]

    def close(self) -> None:
        if self._closed:
            return
        try:
            for hook in self._hooks:
                hook.end(self._sess)
        finally:
            self._closed = True
            self._stop_queue_runners()

    def _stop_queue_runners(self) -> None:
        """Stops the input threads (their queues close), then the session; a runner's error is
        raised here, as TF's coordinator does on join."""
        try:
            if self._coord is not None:
                self._coord.request_stop()
                self._coord.join(
                    self._threads,
                    stop_grace_period_secs=self._stop_grace_period_secs,
                    ignore_live_threads=True,
                )
        finally:
            self._sess.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        # TF1: the end of the input (OutOfRangeError) ends training quietly.
        return exc_type is not None and issubclass(exc_type, (OutOfRangeError, StopIteration))


def MonitoredTrainingSession(  # noqa: N802 - TF's name: a function that makes a MonitoredSession
    master="",
    is_chief=True,
    checkpoint_dir=None,
    scaffold=None,
    hooks=None,
    chief_only_hooks=None,
    save_checkpoint_secs=USE_DEFAULT,
    save_summaries_steps=USE_DEFAULT,
    save_summaries_secs=USE_DEFAULT,
    config=None,
    stop_grace_period_secs=120,
    log_step_count_steps=USE_DEFAULT,
    max_wait_secs=7200,
    save_checkpoint_steps=USE_DEFAULT,
    summary_dir=None,
):
    """A MonitoredSession for training (TF1's ``tf.train.MonitoredTrainingSession``): the chief
    also saves checkpoints into ``checkpoint_dir`` (every 600 s by default, or every
    ``save_checkpoint_steps`` steps), and into ``summary_dir`` (default: ``checkpoint_dir``) the
    graph, its merged summaries every ``save_summaries_steps`` steps (100 by default) or
    ``save_summaries_secs`` seconds, and ``global_step/sec`` every ``log_step_count_steps`` steps
    (without TensorBoard installed, only when asked for: then an ImportError says so). The graph's
    queue runners are started under a Coordinator and stopped on close."""
    asked_for_summaries = not (
        save_summaries_steps is USE_DEFAULT
        and save_summaries_secs is USE_DEFAULT
        and log_step_count_steps is USE_DEFAULT
    )
    if log_step_count_steps is USE_DEFAULT:
        log_step_count_steps = 100
    if save_summaries_steps is USE_DEFAULT and save_summaries_secs is USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    elif save_summaries_secs is USE_DEFAULT:
        save_summaries_secs = None
    elif save_summaries_steps is USE_DEFAULT:
        save_summaries_steps = None
    if save_checkpoint_steps is USE_DEFAULT and save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    elif save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_secs = None
    elif save_checkpoint_steps is USE_DEFAULT:
        save_checkpoint_steps = None
    scaffold = scaffold or Scaffold()
    all_hooks = list(hooks or [])
    if is_chief:
        all_hooks += list(chief_only_hooks or [])
        summary_dir = summary_dir or checkpoint_dir
        if summary_dir and _can_write_events(asked_for_summaries):
            all_hooks += _summary_hooks(
                summary_dir,
                save_summaries_steps,
                save_summaries_secs,
                log_step_count_steps,
                scaffold,
            )
        if checkpoint_dir and (save_checkpoint_steps or save_checkpoint_secs):
            all_hooks.append(
                CheckpointSaverHook(
                    checkpoint_dir,
                    save_secs=None if save_checkpoint_steps else save_checkpoint_secs,
                    save_steps=save_checkpoint_steps or None,
                    scaffold=scaffold,
                )
            )
    return MonitoredSession(
        master=master,
        is_chief=is_chief,
        checkpoint_dir=checkpoint_dir,
        scaffold=scaffold,
        hooks=all_hooks,
        config=config,
        max_wait_secs=max_wait_secs,
        stop_grace_period_secs=stop_grace_period_secs,
    )


def _can_write_events(asked: bool) -> bool:
    """Event files need TensorBoard's protos (the optional ``tensorboard`` extra): without them the
    default summaries are left out, and summaries the caller asked for are an error."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        return True
    if asked:
        raise ImportError(
            "MonitoredTrainingSession: save_summaries_steps, save_summaries_secs and "
            "log_step_count_steps write TensorBoard event files, which need TensorBoard: "
            "pip install 'tgc[tensorboard]'"
        )
    return False


def _summary_hooks(summary_dir, save_steps, save_secs, log_step_count_steps, scaffold) -> list:
    """The chief's summary hooks (TF1's): the speed every ``log_step_count_steps`` steps and the
    merged summaries every ``save_steps`` steps or ``save_secs`` seconds, into ``summary_dir``."""
    hooks = []
    if log_step_count_steps and log_step_count_steps > 0:
        hooks.append(StepCounterHook(every_n_steps=log_step_count_steps, output_dir=summary_dir))
    if (save_steps and save_steps > 0) or (save_secs and save_secs > 0):
        hooks.append(
            SummarySaverHook(
                save_steps=save_steps if save_steps and save_steps > 0 else None,
                save_secs=None if save_steps and save_steps > 0 else save_secs,
                output_dir=summary_dir,
                scaffold=scaffold,
            )
        )
    return hooks


def _note(text: str) -> None:
    print(f"MonitoredSession: {text}", file=sys.stderr)
