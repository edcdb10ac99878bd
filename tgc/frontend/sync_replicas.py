"""TF1's ``tf.train.SyncReplicasOptimizer``: synchronous data parallelism, one update per step from
the average of the replicas' gradients, aggregated where each variable lives (its ps task).

    sync = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1),
                                          replicas_to_aggregate=2, total_num_replicas=2)
    for k in range(2):                                    # in-graph replication: one tower a worker
        with tf.device(f"/job:worker/task:{k}"):
            train_ops.append(sync.minimize(tower_loss[k], global_step=step))
    hook = sync.make_session_run_hook(is_chief=True)
    with tf.train.MonitoredTrainingSession(master, hooks=[hook, ...]) as sess:
        sess.run(train_ops)

Each replica's train op adds its gradients into an accumulator beside each variable (a variable
on the variable's own device) and counts itself. The chief's hook, after a run, applies the wrapped
optimizer once with the accumulated sum divided by ``replicas_to_aggregate`` when that many
replicas have contributed, increments the global step, and clears the accumulators, as TF's chief
queue runner takes the conditional accumulators' average.

What differs from TensorFlow: the update is applied by the chief's hook after the run that brought
the last gradient, not by a queue runner while workers wait on a token queue. It is made for
in-graph replication (one client runs every replica's op in one step). Between-graph replicas
(separate clients) are not supported: a task reads a variable when its partition starts and writes
it when it ends, so two clients adding into one accumulator at once could lose a gradient, and
stale gradients are not dropped (TF drops them).
"""

from __future__ import annotations

import numpy as np

from tgc.frontend.control import group
from tgc.frontend.monitored import SessionRunHook
from tgc.frontend.variables import GLOBAL_VARIABLES, Variable
from tgc.graph.graph import get_default_graph


class SyncReplicasOptimizer:
    """Wraps ``opt``: ``minimize``/``apply_gradients`` per replica accumulate; the chief's hook
    (``make_session_run_hook(True)``) applies their average once ``replicas_to_aggregate`` replicas
    have contributed."""

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
        if variable_averages is not None:
            raise ValueError("SyncReplicasOptimizer: variable_averages is not supported by tgc")
        self._opt = opt
        self._replicas_to_aggregate = int(replicas_to_aggregate)
        self._total_num_replicas = int(total_num_replicas)
        self._name = name
        self._accumulators: dict = {}  # variable -> its accumulator Variable
        self._count = None  # how many replicas added their gradients since the last update
        self._apply_op = None
        self._global_step = None

    def compute_gradients(self, *args, **kwargs):
        return self._opt.compute_gradients(*args, **kwargs)

    def minimize(self, loss, global_step=None, var_list=None, name=None, **kwargs):
        grads_and_vars = self.compute_gradients(loss, var_list=var_list)
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """One replica's op: adds its gradients to the accumulators and counts itself. The first
        call also builds the chief's update (the wrapped optimizer on the average)."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        graph = get_default_graph()
        if self._apply_op is None:
            self._build_update([v for _, v in pairs], global_step, graph)
        missing = [v.op.name for _, v in pairs if v not in self._accumulators]
        if missing:
            raise ValueError(
                f"SyncReplicasOptimizer: every replica must train the same variables; {missing} "
                "were not trained by the first replica"
            )
        with graph.name_scope(name or self._name):
            adds = [self._accumulators[v].assign_add(g) for g, v in pairs]
            with graph.control_dependencies(adds):
                counted = self._count.assign_add(1)
            return group(counted, name="replica_update")

    def _build_update(self, variables, global_step, graph) -> None:
        """The accumulators (beside their variables), the counter, and the chief's update."""
        self._global_step = global_step
        with graph.control_dependencies(None), graph.name_scope(None):
            for var in variables:
                with graph.device(None), graph.device(var.op.device):
                    self._accumulators[var] = _zeros_like_variable(var, f"{var.op.name}/sync_sum")
            with graph.device(None), graph.device(variables[0].op.device):
                self._count = Variable(
                    np.int32(0),
                    trainable=False,
                    name=f"{self._name}/replicas_counted",
                    collections=[GLOBAL_VARIABLES],
                )
        with graph.name_scope(self._name + "/apply"):
            averaged = []
            for var in variables:
                with graph.device(None), graph.device(var.op.device):
                    averaged.append(
                        (self._accumulators[var] / float(self._replicas_to_aggregate), var)
                    )
            applied = self._opt.apply_gradients(averaged)
            # Cleared after the update read them, and the step counted last: whoever sees the new
            # global_step finds empty accumulators for the next step's gradients.
            with graph.control_dependencies([applied]):
                cleared = [
                    acc.assign(np.zeros(acc.shape.as_list(), acc.dtype.as_numpy_dtype))
                    for acc in self._accumulators.values()
                ]
                cleared.append(self._count.assign(np.int32(0)))
            if global_step is None:
                self._apply_op = group(*cleared, name="update")
            else:
                with graph.control_dependencies(cleared):
                    self._apply_op = group(global_step.assign_add(1), name="update")

    def make_session_run_hook(self, is_chief, num_tokens=-1):
        """The hook that applies the aggregated update (chief); a no-op hook elsewhere."""
        if self._apply_op is None:
            raise ValueError("apply_gradients() must be called before make_session_run_hook()")
        return _SyncReplicasHook(self, is_chief)

    def get_slot(self, *args, **kwargs):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._opt.get_slot_names(*args, **kwargs)

    def variables(self):
        return self._opt.variables() + list(self._accumulators.values()) + [self._count]


class _SyncReplicasHook(SessionRunHook):
    def __init__(self, optimizer, is_chief):
        self._opt, self._is_chief = optimizer, is_chief

    def after_run(self, run_context, run_values):
        if not self._is_chief:
            return
        session = run_context.session
        # Only the chief updates, once enough replicas have added their gradients.
        if int(session.run(self._opt._count)) >= self._opt._replicas_to_aggregate:
            session.run(self._opt._apply_op)


def _zeros_like_variable(var, name) -> Variable:
    return Variable(
        np.zeros(var.shape.as_list(), var.dtype.as_numpy_dtype),
        trainable=False,
        name=name,
        collections=[GLOBAL_VARIABLES],
    )
