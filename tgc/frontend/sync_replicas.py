"""TF1's ``tf.train.SyncReplicasOptimizer``: synchronous data parallelism, one update per step from
the average of the replicas' gradients, aggregated where each variable lives (its ps task).

    sync = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1),
                                          replicas_to_aggregate=2, total_num_replicas=2)
    train_op = sync.minimize(loss, global_step=step)      # under this worker's device
    hook = sync.make_session_run_hook(is_chief=(task_index == 0))
    with tf.train.MonitoredTrainingSession(master, is_chief=..., hooks=[hook, ...]) as sess:
        while not sess.should_stop():
            sess.run(train_op)

Replica K (the task index of the worker device its gradients are computed on; else the order of
the ``apply_gradients`` calls, for in-graph towers without a task) owns one gradient slot beside
each variable, a variable on the variable's own device, and a stamp: its train op writes its
gradients into its slots, then stamps them with the global step it read with the weights. Nothing
is read-modify-written by two replicas, so concurrent clients lose nothing. The chief's hook, after
its run, waits until ``replicas_to_aggregate`` slots carry the current step, then applies the
wrapped optimizer once on their average and increments the global step; a slot stamped with an
older step is stale and left out (TF drops stale gradients too). A non-chief's hook waits after
each run until the chief has made the update (TF's token queue), so its next gradient is computed
on the new weights.

What differs from TensorFlow: the chief's hook makes the update (two or three small runs a step)
rather than a queue runner, and a replica's slot holds its latest gradient only (TF's accumulator
could take two from one worker).
"""

from __future__ import annotations

import time

import numpy as np

from tgc.frontend import math_ops
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.control import group
from tgc.frontend.monitored import SessionRunHook
from tgc.frontend.variables import GLOBAL_VARIABLES, Variable
from tgc.graph.graph import get_default_graph

# How long a hook waits for the other replicas (chief) or for the chief's update (non-chief).
WAIT_SECONDS = 600.0


class SyncReplicasOptimizer:
    """Wraps ``opt``: each replica's ``minimize``/``apply_gradients`` op hands in its gradients;
    the chief's hook (``make_session_run_hook(True)``) applies their average once a step."""

    def __init__(
        self,
        opt,
        replicas_to_aggregate,
        total_num_replicas=None,
        variable_averages=None,
        variables_to_average=None,
        use_locking=False,
        name="sync_replicas",
    ):
        if total_num_replicas is None:
            total_num_replicas = replicas_to_aggregate
        if replicas_to_aggregate < 1 or total_num_replicas < 1:
            raise ValueError("replicas_to_aggregate and total_num_replicas must be at least 1")
        if replicas_to_aggregate > total_num_replicas:
            raise ValueError(
                f"replicas_to_aggregate ({replicas_to_aggregate}) is more than total_num_replicas "
                f"({total_num_replicas}): the chief would wait for ever"
            )
        if variable_averages is not None:
            raise ValueError("SyncReplicasOptimizer: variable_averages is not supported by tgc")
        self._opt = opt
        self._replicas_to_aggregate = int(replicas_to_aggregate)
        self._total_num_replicas = int(total_num_replicas)
        self._name = name
        self._variables = None  # the variables trained, in order
        self._slots: list = []  # replica -> {variable: its gradient slot}
        self._stamps: list = []  # replica -> the global step its slots were computed at
        self._calls = 0
        self._replica_ops: list = []  # what the hook looks for in a run's fetches
        self._apply_op = self._fresh_count = self._global_step = None

    def compute_gradients(self, *args, **kwargs):
        return self._opt.compute_gradients(*args, **kwargs)

    def minimize(self, loss, global_step=None, var_list=None, name=None, **kwargs):
        grads_and_vars = self.compute_gradients(loss, var_list=var_list)
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """One replica's op: writes its gradients into its slots and stamps them. The first call
        also builds every replica's slots and the chief's update."""
        if global_step is None:
            raise ValueError("Global step is required to check staleness")
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        graph = get_default_graph()
        if self._apply_op is None:
            self._build(graph, [v for _, v in pairs], global_step)
        replica = self._replica_of(pairs)
        slots = self._slots[replica]
        missing = [v.op.name for _, v in pairs if v not in slots]
        if missing:
            raise ValueError(
                f"SyncReplicasOptimizer: every replica must train the same variables; {missing} "
                "were not trained by the first replica"
            )
        with graph.name_scope(name or f"{self._name}/replica_{replica}"):
            step_read = math_ops.identity(convert_to_tensor(global_step))
            written = [slots[v].assign(g) for g, v in pairs]
            with graph.control_dependencies(written):
                stamped = self._stamps[replica].assign(step_read)
            handed_in = group(stamped, name="handed_in")
            self._replica_ops.append(handed_in)
            return handed_in

    def _replica_of(self, pairs) -> int:
        """The task index of the device the gradients are computed on, else the call order."""
        from tgc.dialect.devices import DeviceSpec

        self._calls += 1
        task = DeviceSpec.from_string(pairs[0][0].op.device or "").task
        replica = task if task is not None else self._calls - 1
        if replica >= self._total_num_replicas:
            raise ValueError(
                f"SyncReplicasOptimizer: replica {replica} (worker task {task}) but "
                f"total_num_replicas is {self._total_num_replicas}"
            )
        return replica

    def _build(self, graph, variables, global_step) -> None:
        self._variables, self._global_step = variables, global_step
        with graph.control_dependencies(None), graph.name_scope(None):
            for k in range(self._total_num_replicas):
                slots = {}
                for var in variables:
                    with graph.device(None), graph.device(var.op.device):
                        slots[var] = _global_zeros(
                            var.shape.as_list(), var.dtype, f"{var.op.name}/sync_grad_{k}"
                        )
                self._slots.append(slots)
                with graph.device(None), graph.device(global_step.op.device):
                    self._stamps.append(
                        _global_zeros([], global_step.dtype, f"{self._name}/stamp_{k}", fill=-1)
                    )
        with graph.name_scope(self._name + "/apply"):
            with graph.device(None), graph.device(global_step.op.device):
                now = convert_to_tensor(global_step)
                fresh = [
                    math_ops.cast(math_ops.equal(stamp, now), "int32") for stamp in self._stamps
                ]
                self._fresh_count = math_ops.add_n(fresh) if len(fresh) > 1 else fresh[0]
            averaged = []
            for var in variables:
                with graph.device(None), graph.device(var.op.device):
                    taken = [
                        self._slots[k][var] * math_ops.cast(fresh[k], var.dtype)
                        for k in range(self._total_num_replicas)
                    ]
                    total = math_ops.add_n(taken) if len(taken) > 1 else taken[0]
                    averaged.append((total / math_ops.cast(self._fresh_count, var.dtype), var))
            applied = self._opt.apply_gradients(averaged)
            with graph.control_dependencies([applied]):
                self._apply_op = group(global_step.assign_add(1), name="update")

    def make_session_run_hook(self, is_chief, num_tokens=-1):
        """The chief's hook makes the update; a non-chief's waits for it after each run."""
        if self._apply_op is None:
            raise ValueError("apply_gradients() must be called before make_session_run_hook()")
        return _SyncReplicasHook(self, is_chief)

    def get_slot(self, *args, **kwargs):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._opt.get_slot_names(*args, **kwargs)

    def variables(self):
        own = [s for slots in self._slots for s in slots.values()] + list(self._stamps)
        return self._opt.variables() + own


class _SyncReplicasHook(SessionRunHook):
    def __init__(self, optimizer, is_chief, wait_seconds=WAIT_SECONDS):
        self._opt, self._is_chief, self._wait_seconds = optimizer, is_chief, wait_seconds

    def after_create_session(self, session, coord):
        self._step = int(session.run(self._opt._global_step))

    def after_run(self, run_context, run_values):
        session, opt = run_context.session, self._opt
        if not _fetches_any(run_context.original_args.fetches, opt._replica_ops):
            return  # a run that hands in no gradient (an evaluation, a read) makes no step
        if self._is_chief:
            self._wait(
                lambda: int(session.run(opt._fresh_count)) >= opt._replicas_to_aggregate,
                f"{opt._replicas_to_aggregate} replicas' gradients of step {self._step}",
            )
            session.run(opt._apply_op)
            self._step += 1  # only the chief counts steps
            return
        seen = []

        def updated():
            seen.append(int(session.run(opt._global_step)))
            return seen[-1] > self._step

        self._wait(updated, f"the chief's update of step {self._step}")
        self._step = seen[-1]

    def _wait(self, done, what: str) -> None:
        deadline = time.monotonic() + self._wait_seconds
        pause = 0.001
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SyncReplicasOptimizer: waited {self._wait_seconds} s for {what}"
                )
            time.sleep(pause)
            pause = min(2 * pause, 0.05)


def _fetches_any(fetches, ops) -> bool:
    """Whether ``fetches`` (a Session.run structure: lists, tuples, dicts) holds one of ``ops``."""
    if isinstance(fetches, dict):
        return any(_fetches_any(f, ops) for f in fetches.values())
    if isinstance(fetches, (list, tuple)):
        return any(_fetches_any(f, ops) for f in fetches)
    return any(fetches is op for op in ops)


def _global_zeros(shape, dtype, name, fill=0) -> Variable:
    return Variable(
        np.full(shape, fill, dtype.as_numpy_dtype),
        trainable=False,
        name=name,
        collections=[GLOBAL_VARIABLES],
    )
