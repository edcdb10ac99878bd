"""`tgc.train`: TF1's optimizers, the global_step helpers and ``exponential_decay``.

Part of the frontend, before any MLIR exists: an optimizer only adds ordinary graph ops -- gradient
requests (``tgc.gradients``), arithmetic, and variable ``assign``/``assign_add``/``assign_sub`` --
so autodiff, lowering and the JIT need nothing special for training. Each ``apply_*`` rule follows
the update formulas of TensorFlow's fused kernels (training_ops.cc: ApplyGradientDescent,
ApplyMomentum, ApplyAdam, ApplyAdagrad, ApplyAdadelta, ApplyRMSProp, ApplyCenteredRMSProp) in the
same order of arithmetic; a gradient TF would give as an IndexedSlices (a Variable read only by
gathers: ``gradients.gathered_rows``) takes the SparseApply* kernels' rules (``_apply_sparse``).
Where a kernel updates a slot and then reads it, the rule uses the tensor that the slot's assign
returns: variable ops run in program order inside one compiled function (see
tgc/passes/lower_variables.py), so that value is the updated one, while a Variable's own shared
read still sees the value at the start of the step.
"""

from __future__ import annotations

import abc

import numpy as np

from tgc.dialect.ops.state import ASSIGNMENT_OPS
from tgc.frontend import array_ops, math_ops, segment_ops
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.control import group
from tgc.frontend.gradients import gathered_rows, gradients
from tgc.graph.graph import Operation, get_default_graph
from tgc.frontend.variables import Variable, trainable_variables
from tgc.frontend import global_step as _global_step
from tgc.frontend.global_step import (  # noqa: F401  (tf.train's global-step helpers)
    GLOBAL_STEP,
    assert_global_step,
    create_global_step,
    get_global_step,
    get_or_create_global_step,
)

TRAIN_OP = "train_op"
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _assert_float(tensor, what):
    if tensor.dtype.name not in _FLOATS:
        raise ValueError(
            f"Invalid type tf.{tensor.dtype.name} for {what}, expected: "
            f"[{', '.join('tf.' + d for d in _FLOATS)}]."
        )


class Optimizer(abc.ABC):
    """Base of the TF1 optimizers: gradients, slots, and one update op per variable.

    Subclasses list their hyperparameters in ``_hyper`` (Python numbers, tensors or callables),
    create slots in ``_create_slots`` and build one variable's update in ``_apply_dense``.
    """

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2

    def __init__(self, use_locking, name):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._hyper: dict = {}
        self._hyper_t: dict = {}  # the tensors _prepare made for the apply being built
        self._slots: dict = {}  # slot name -> {Variable: slot Variable}
        self._non_slot: dict = {}  # (name, graph) -> Variable, e.g. Adam's beta1_power

    def get_name(self) -> str:
        return self._name

    # ---- gradients -------------------------------------------------------------------------------

    def compute_gradients(
        self,
        loss,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        grad_loss=None,
    ):
        """[(gradient, variable)] for ``var_list`` (trainable variables by default); None where
        ``loss`` does not depend on the variable."""
        loss = convert_to_tensor(loss)
        _assert_float(loss, loss.op.name)
        var_list = list(var_list) if var_list is not None else trainable_variables()
        if not var_list:
            raise ValueError("No variables to optimize.")
        for var in var_list:
            if not isinstance(var, Variable):
                raise TypeError(f"Argument is not a tf.Variable: {var}")
            _assert_float(var, var.op.name)
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list))

    def minimize(
        self,
        loss,
        global_step=None,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        name=None,
        grad_loss=None,
    ):
        """compute_gradients then apply_gradients; the op that runs one training step."""
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss)
        if all(g is None for g, _ in grads_and_vars):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                "support gradients, between variables "
                f"{[str(v) for _, v in grads_and_vars]} and loss {loss}."
            )
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    # ---- updates ---------------------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars, global_step=None, name=None) -> Operation:
        """An op that applies every non-None gradient to its variable, then increments
        global_step."""
        pairs = _checked_pairs(grads_and_vars)
        active = [(g, v) for g, v in pairs if g is not None]
        if not active:
            raise ValueError(
                f"No gradients provided for any variable: {[str(v) for _, v in pairs]}."
            )
        graph = active[0][1].graph
        with graph.control_dependencies(
            None
        ):  # slots are initialized on their own, never by a step
            self._create_slots([v for _, v in active])
        first_new_op = len(graph.get_operations())
        with graph.name_scope(name or self._name) as scope:
            self._prepare()
            updates = []
            for grad, var in active:
                with graph.name_scope("update_" + var.op.name):
                    rows = gathered_rows(grad)
                    if rows is None:
                        updates.append(self._apply_dense(grad, var))
                    else:
                        updates.append(self._apply_sparse(grad, var, rows))
            if global_step is None:
                train_op = self._finish(updates, scope)  # "Adam/" names the op "Adam", as in TF
            else:
                with graph.control_dependencies([self._finish(updates, "update")]):
                    increment = global_step.assign_add(1)
                train_op = group(increment, name=scope)
        if self._use_locking:
            _lock_assignments(graph.get_operations()[first_new_op:])
        collection = graph.get_collection_ref(TRAIN_OP)
        if train_op not in collection:
            collection.append(train_op)
        return train_op

    def _prepare(self):
        """Hyperparameters as tensors, made once per apply (callables are called, as in TF)."""
        self._hyper_t = {}
        for key, value in self._hyper.items():
            value = value() if callable(value) else value
            self._hyper_t[key] = convert_to_tensor(value, name=key)

    def _get_hyper(self, key, dtype):
        return math_ops.cast(self._hyper_t[key], dtype)

    def _finish(self, update_ops, name):
        return group(*update_ops, name=name)

    def _create_slots(self, var_list):
        pass

    @abc.abstractmethod
    def _apply_dense(self, grad, var):
        """The op that updates ``var`` from ``grad`` (each optimizer's own rule)."""

    def _apply_sparse(self, grad, var, rows):
        """The update for a gradient TF gives as an IndexedSlices: only the rows that ``rows``
        (index tensors) gathered in this step, ``grad`` being zero in the others. TF's sparse
        kernels of SGD, Adagrad and Adam change the other rows exactly as their dense ones do
        (not at all, or Adam's decay of m and v in every row): the dense rule, unless overridden.
        """
        return self._apply_dense(grad, var)

    # ---- slots -----------------------------------------------------------------------------------

    def get_slot_names(self) -> list:
        return sorted(self._slots)

    def get_slot(self, var, name):
        return self._slots.get(name, {}).get(var)

    def variables(self) -> list:
        """The optimizer's own variables in the default graph (slots and accumulators), by name."""
        graph = get_default_graph()
        found = [s for named in self._slots.values() for s in named.values() if s.graph is graph]
        found += [v for (_, g), v in self._non_slot.items() if g is graph]
        return sorted(found, key=lambda v: v.name)

    def _slot(self, var, slot_name, fill=0.0):
        """The slot ``slot_name`` of ``var``, created as "<var>/<optimizer name>" (uniquified like
        TF: a second slot of the same optimizer becomes "<var>/Adam_1")."""
        named = self._slots.setdefault(slot_name, {})
        if var not in named:
            graph = var.graph
            with graph.name_scope(None):
                initial = np.full(var.shape.as_list(), fill, dtype=np.float64)
                named[var] = Variable(
                    initial, trainable=False, name=f"{var.op.name}/{self._name}", dtype=var.dtype
                )
        return named[var]

    def _non_slot_variable(self, name, initial_value, graph):
        """A per-graph optimizer variable such as beta1_power, created in the caller's name
        scope."""
        key = (name, graph)
        if key not in self._non_slot:
            self._non_slot[key] = Variable(
                initial_value, trainable=False, name=name, dtype="float32"
            )
        return self._non_slot[key]


def _touched(rows, var):
    """Which rows of ``var`` the gathers of ``rows`` read in this step: a bool tensor of shape
    [rows of var, 1, ...] that selects along var's first axis."""
    shape = var.shape.as_list()
    ids = [math_ops.cast(array_ops.reshape(r, [-1]), "int64") for r in rows]
    ids = ids[0] if len(ids) == 1 else array_ops.concat(ids, 0)
    hits = segment_ops.unsorted_segment_sum(
        array_ops.ones_like(ids, dtype=var.dtype), ids, shape[0]
    )
    touched = math_ops.greater(hits, array_ops.zeros_like(hits))
    return array_ops.reshape(touched, [shape[0]] + [1] * (len(shape) - 1))


def _only(touched, value, otherwise):
    """``value`` in the touched rows, ``otherwise`` (a slot's or a step's old value) elsewhere."""
    return math_ops.where_v2(touched, value, otherwise)


def _lock_assignments(ops) -> None:
    """TF's use_locking for a whole step: every variable update it makes (slots, the variables,
    global_step) runs under its session's lock, so concurrent steps lose no update."""
    for op in ops:
        if op.opdef in ASSIGNMENT_OPS:
            op.use_locking = True


def _checked_pairs(grads_and_vars) -> list:
    pairs = []
    for item in grads_and_vars:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(
                f"grads_and_vars must be a list of (gradient, variable) pairs, got {item!r}"
            )
        grad, var = item
        if not isinstance(var, Variable):
            raise TypeError(f"Variable must be a tf.Variable: {var!r}")
        if grad is not None:
            grad = convert_to_tensor(grad, dtype=var.dtype)
            _check_grad_shape(grad, var)
        pairs.append((grad, var))
    if not pairs:
        raise ValueError("No variables provided.")
    return pairs


def _check_grad_shape(grad, var):
    gshape, vshape = grad.spec.shape, var._spec.shape
    if gshape is None:
        return
    if len(gshape) != len(vshape) or any(g is not None and g != v for g, v in zip(gshape, vshape)):
        raise ValueError(
            f"gradient {grad.name} has shape {grad.shape} but variable {var.op.name} has shape "
            f"{var.shape}"
        )


# ---- the optimizers ------------------------------------------------------------------------------


class GradientDescentOptimizer(Optimizer):
    """var -= lr * grad (ApplyGradientDescent)."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate}

    def _apply_dense(self, grad, var):
        return var.assign_sub(grad * self._get_hyper("learning_rate", var.dtype))


class MomentumOptimizer(Optimizer):
    """accum = accum * momentum + grad; var -= lr * accum, or with Nesterov
    var -= grad * lr + accum * momentum * lr (ApplyMomentum)."""

    def __init__(
        self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False
    ):
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate, "momentum": momentum}
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "momentum")

    def _apply_dense(self, grad, var):
        lr, momentum = (
            self._get_hyper("learning_rate", var.dtype),
            self._get_hyper("momentum", var.dtype),
        )
        accum = self.get_slot(var, "momentum")
        accum_t = accum.assign(accum * momentum + grad)
        if self._use_nesterov:
            return var.assign_sub(grad * lr + accum_t * momentum * lr)
        return var.assign_sub(accum_t * lr)

    def _apply_sparse(self, grad, var, rows):
        """SparseApplyMomentum: the accumulator and the variable change in the gathered rows only
        (a dense rule would move the others by the momentum left from earlier steps)."""
        lr, momentum = (
            self._get_hyper("learning_rate", var.dtype),
            self._get_hyper("momentum", var.dtype),
        )
        touched = _touched(rows, var)
        accum = self.get_slot(var, "momentum")
        accum_t = accum.assign(_only(touched, accum * momentum + grad, accum))
        if self._use_nesterov:
            step = grad * lr + accum_t * momentum * lr
        else:
            step = accum_t * lr
        return var.assign_sub(_only(touched, step, array_ops.zeros_like(step)))


class AdamOptimizer(Optimizer):
    """Adam with TF's bias correction folded into the step size (ApplyAdam):
    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (g - m)(1 - beta1);
    v += (g^2 - v)(1 - beta2); var -= m * lr_t / (sqrt(v) + epsilon). beta1^t and beta2^t are the
    variables beta1_power and beta2_power, multiplied by beta1 and beta2 after every step's
    updates."""

    def __init__(
        self,
        learning_rate=0.001,
        beta1=0.9,
        beta2=0.999,
        epsilon=1e-8,
        use_locking=False,
        name="Adam",
    ):
        super().__init__(use_locking, name)
        self._hyper = {
            "learning_rate": learning_rate,
            "beta1": beta1,
            "beta2": beta2,
            "epsilon": epsilon,
        }
        self._initial_betas = (beta1, beta2)

    def _create_slots(self, var_list):
        graph = var_list[0].graph
        beta1, beta2 = (b() if callable(b) else b for b in self._initial_betas)
        self._non_slot_variable("beta1_power", beta1, graph)
        self._non_slot_variable("beta2_power", beta2, graph)
        for v in var_list:
            self._slot(v, "m")
            self._slot(v, "v")

    def _get_beta_accumulators(self, graph):
        return self._non_slot[("beta1_power", graph)], self._non_slot[("beta2_power", graph)]

    def _apply_dense(self, grad, var):
        dtype = var.dtype
        beta1_power, beta2_power = (
            math_ops.cast(p, dtype) for p in self._get_beta_accumulators(var.graph)
        )
        lr, eps = self._get_hyper("learning_rate", dtype), self._get_hyper("epsilon", dtype)
        beta1, beta2 = self._get_hyper("beta1", dtype), self._get_hyper("beta2", dtype)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        lr_t = lr * math_ops.sqrt(1 - beta2_power) / (1 - beta1_power)
        m_t = m.assign_add((grad - m) * (1 - beta1))
        v_t = v.assign_add((math_ops.square(grad) - v) * (1 - beta2))
        return var.assign_sub(m_t * lr_t / (math_ops.sqrt(v_t) + eps))

    def _finish(self, update_ops, name):
        """beta1_power *= beta1 and beta2_power *= beta2, after (control dependencies) every
        update."""
        graph = update_ops[0].graph
        beta1_power, beta2_power = self._get_beta_accumulators(graph)
        with graph.control_dependencies(update_ops):
            update_beta1 = beta1_power.assign(
                beta1_power * self._get_hyper("beta1", beta1_power.dtype)
            )
            update_beta2 = beta2_power.assign(
                beta2_power * self._get_hyper("beta2", beta2_power.dtype)
            )
        return group(*update_ops, update_beta1, update_beta2, name=name)


class AdagradOptimizer(Optimizer):
    """accum += grad^2; var -= lr * grad / sqrt(accum) (ApplyAdagrad)."""

    def __init__(
        self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"
    ):
        if initial_accumulator_value <= 0.0:
            raise ValueError(
                f"initial_accumulator_value must be positive: {initial_accumulator_value}"
            )
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate}
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "accumulator", fill=self._initial_accumulator_value)

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "accumulator")
        accum_t = accum.assign_add(math_ops.square(grad))
        return var.assign_sub(
            grad * self._get_hyper("learning_rate", var.dtype) * math_ops.rsqrt(accum_t)
        )


class AdadeltaOptimizer(Optimizer):
    """accum = rho accum + (1 - rho) grad^2;
    update = sqrt(accum_update + eps) / sqrt(accum + eps) * grad; var -= lr * update;
    accum_update = rho accum_update + (1 - rho) update^2 (ApplyAdadelta)."""

    def __init__(
        self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False, name="Adadelta"
    ):
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate, "rho": rho, "epsilon": epsilon}

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "accum")
            self._slot(v, "accum_update")

    def _apply_dense(self, grad, var):
        lr, eps = self._get_hyper("learning_rate", var.dtype), self._get_hyper("epsilon", var.dtype)
        rho = self._get_hyper("rho", var.dtype)
        accum, accum_update = self.get_slot(var, "accum"), self.get_slot(var, "accum_update")
        accum_t = accum.assign(accum * rho + math_ops.square(grad) * (1 - rho))
        update = math_ops.sqrt(accum_update + eps) * math_ops.rsqrt(accum_t + eps) * grad
        var_t = var.assign_sub(update * lr)
        # accum_update reads its value from before this step (the shared read), as the kernel does.
        accum_update_t = accum_update.assign(
            accum_update * rho + math_ops.square(update) * (1 - rho)
        )
        return group(var_t, accum_update_t)

    def _apply_sparse(self, grad, var, rows):
        """SparseApplyAdadelta: both accumulators decay in the gathered rows only."""
        lr, eps = self._get_hyper("learning_rate", var.dtype), self._get_hyper("epsilon", var.dtype)
        rho = self._get_hyper("rho", var.dtype)
        touched = _touched(rows, var)
        accum, accum_update = self.get_slot(var, "accum"), self.get_slot(var, "accum_update")
        accum_t = accum.assign(
            _only(touched, accum * rho + math_ops.square(grad) * (1 - rho), accum)
        )
        update = math_ops.sqrt(accum_update + eps) * math_ops.rsqrt(accum_t + eps) * grad
        var_t = var.assign_sub(_only(touched, update * lr, array_ops.zeros_like(update)))
        accum_update_t = accum_update.assign(
            _only(touched, accum_update * rho + math_ops.square(update) * (1 - rho), accum_update)
        )
        return group(var_t, accum_update_t)


class RMSPropOptimizer(Optimizer):
    """ms += (grad^2 - ms)(1 - decay); [centered: mg += (grad - mg)(1 - decay), ms - mg^2 in place
    of ms]; mom = momentum mom + lr grad / sqrt(ms + epsilon); var -= mom (ApplyRMSProp,
    ApplyCenteredRMSProp). The "rms" slot starts at ones, "momentum" and "mg" at zeros."""

    def __init__(
        self,
        learning_rate,
        decay=0.9,
        momentum=0.0,
        epsilon=1e-10,
        use_locking=False,
        centered=False,
        name="RMSProp",
    ):
        super().__init__(use_locking, name)
        self._hyper = {
            "learning_rate": learning_rate,
            "decay": decay,
            "momentum": momentum,
            "epsilon": epsilon,
        }
        self._centered = centered

    def _create_slots(self, var_list):
        for (
            v
        ) in var_list:  # TF's creation order, which fixes the slot names RMSProp, RMSProp_1, ...
            self._slot(v, "rms", fill=1.0)
            if self._centered:
                self._slot(v, "mg")
            self._slot(v, "momentum")

    def _apply_dense(self, grad, var):
        dtype = var.dtype
        lr, rho = self._get_hyper("learning_rate", dtype), self._get_hyper("decay", dtype)
        momentum, eps = self._get_hyper("momentum", dtype), self._get_hyper("epsilon", dtype)
        ms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        ms_t = ms.assign_add((math_ops.square(grad) - ms) * (1 - rho))
        denom = ms_t + eps
        if self._centered:
            mg = self.get_slot(var, "mg")
            mg_t = mg.assign_add((grad - mg) * (1 - rho))
            denom = (ms_t - math_ops.square(mg_t)) + eps
        mom_t = mom.assign(mom * momentum + (grad * lr) / math_ops.sqrt(denom))
        return var.assign_sub(mom_t)

    def _apply_sparse(self, grad, var, rows):
        """SparseApplyRMSProp, SparseApplyCenteredRMSProp: every slot changes in the gathered
        rows only, and so does the variable."""
        dtype = var.dtype
        lr, rho = self._get_hyper("learning_rate", dtype), self._get_hyper("decay", dtype)
        momentum, eps = self._get_hyper("momentum", dtype), self._get_hyper("epsilon", dtype)
        touched = _touched(rows, var)
        ms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        ms_t = ms.assign(_only(touched, ms + (math_ops.square(grad) - ms) * (1 - rho), ms))
        denom = ms_t + eps
        if self._centered:
            mg = self.get_slot(var, "mg")
            mg_t = mg.assign(_only(touched, mg + (grad - mg) * (1 - rho), mg))
            denom = (ms_t - math_ops.square(mg_t)) + eps
        mom_t = mom.assign(_only(touched, mom * momentum + (grad * lr) / math_ops.sqrt(denom), mom))
        return var.assign_sub(_only(touched, mom_t, array_ops.zeros_like(mom_t)))


# ---- learning-rate schedules ---------------------------------------------------------------------


def exponential_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """learning_rate * decay_rate ** (global_step / decay_steps); the exponent is floored when
    ``staircase`` (`tf.train.exponential_decay`)."""
    if global_step is None:
        raise ValueError("global_step is required for exponential_decay.")
    graph = get_default_graph()
    with graph.name_scope(name or "ExponentialDecay") as scope:
        learning_rate = convert_to_tensor(learning_rate, name="learning_rate")
        dtype = learning_rate.dtype
        decay_steps = math_ops.cast(decay_steps, dtype)
        decay_rate = math_ops.cast(decay_rate, dtype)
        p = math_ops.divide(math_ops.cast(global_step, dtype), decay_steps)
        if staircase:
            p = math_ops.floor(p)
        return math_ops.multiply(learning_rate, math_ops.pow(decay_rate, p), name=scope)


from tgc.frontend.saver import (  # noqa: E402,F401  (tf.train.Saver and its checkpoint-state helpers)
    CheckpointState,
    Saver,
    checkpoint_exists,
    get_checkpoint_state,
    import_meta_graph,
    latest_checkpoint,
)
from tgc.frontend.meta_graph import export_meta_graph  # noqa: E402,F401
from tgc.frontend.cluster import (  # noqa: E402,F401  (tf.train's cluster API, on Ray)
    ClusterSpec,
    Server,
    replica_device_setter,
)
from tgc.frontend.monitored import (  # noqa: E402,F401  (tf.train's monitored sessions and hooks)
    CheckpointSaverHook,
    MonitoredSession,
    MonitoredTrainingSession,
    ProfilerHook,
    Scaffold,
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
    StepCounterHook,
    StopAtStepHook,
    SummarySaverHook,
)
from tgc.frontend.sync_replicas import SyncReplicasOptimizer  # noqa: E402,F401

# tf.train.global_step(sess, global_step_tensor): bound last, as the optimizers' and decays'
# arguments above are also named global_step.
global_step = _global_step.global_step
