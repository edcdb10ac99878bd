"""tgc-place's variable colocation asks the target about every op of a variable (its declaration,
reads and assigns): a variable goes to an accelerator only when that accelerator runs them all,
and otherwise stays on the CPU (soft placement) or is refused naming the ops it cannot run."""

import dataclasses

import pytest
from mlir import ir

from tgc.dialect import targets
from tgc.dialect.context import make_context
from tgc.dialect.ir_helpers import accesses_variable
from tgc.lowering.accel.target import ACCEL
from tgc.passes.base import PassFailure
from tgc.passes.place import PlacePass

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
ACCEL0 = "/job:localhost/replica:0/task:0/device:ACCEL:0"

TRAINED_VARIABLE = """
"tgc.variable"() {sym_name = "w", shape = array<i64: 3, 2>, dtype = f32, device = "/accel:0"} : () -> ()
func.func @step(%x: tensor<4x3xf32>) -> (tensor<4x2xf32>, tensor<3x2xf32>) {
  %w = "tgc.read_variable"() {var = @w, shape = array<i64: 3, 2>, dtype = f32} : () -> tensor<3x2xf32>
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false} : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %n = "tgc.assign_sub"(%w) {var = @w} : (tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y, %n : tensor<4x2xf32>, tensor<3x2xf32>
}
"""  # noqa: E501 - IR lines as tgc-opt prints them


@dataclasses.dataclass(frozen=True)
class AccelRunning(type(ACCEL)):
    """The accelerator, told which variable ops it runs."""

    variable_ops: frozenset = frozenset()

    def can_place(self, operation, op_name: str) -> bool:
        if accesses_variable(operation):  # whatever the real accelerator runs of them today
            return op_name in self.variable_ops
        return super().can_place(operation, op_name)


@pytest.fixture
def accel_running():
    """A function that registers an accelerator running ``ops`` and selects it for ACCEL."""
    made = []

    def make(*ops):
        target = AccelRunning(
            **{f.name: getattr(ACCEL, f.name) for f in dataclasses.fields(ACCEL)},
            variable_ops=frozenset(ops),
        )
        target = dataclasses.replace(target, name=f"accel-test-{len(made)}")
        targets.register(target, default_for_type=False)
        made.append(target.name)
        return targets.selected(target.name)

    yield make
    for name in made:
        targets.unregister(name)


def _placed(soft: bool) -> dict:
    """op name (the variable's declaration by its symbol) -> device, after tgc-place."""
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(TRAINED_VARIABLE)
        PlacePass(devices=(CPU0, ACCEL0), soft=soft).run(module)
        devices = {}
        for op in module.body.operations:
            name = op.operation.name
            if name == "func.func":
                for inner in op.regions[0].blocks[0].operations:
                    if "device" in inner.attributes:
                        devices[inner.name] = ir.StringAttr(inner.attributes["device"]).value
            else:
                devices[name] = ir.StringAttr(op.attributes["device"]).value
        return devices


def test_a_variable_goes_to_the_accelerator_when_it_runs_every_op_of_it(accel_running):
    with accel_running("variable", "read_variable", "assign_sub"):
        placed = _placed(soft=False)
    assert placed["tgc.variable"] == placed["tgc.read_variable"] == ACCEL0
    assert placed["tgc.assign_sub"] == ACCEL0
    assert placed["tgc.matmul"] == ACCEL0  # its input lives there: no transfer


def test_a_variable_whose_assign_the_accelerator_cannot_run_stays_on_the_cpu(accel_running):
    """The declaration and the reads alone would fit; the optimizer's assign_sub does not."""
    with accel_running("variable", "read_variable"):
        placed = _placed(soft=True)
    assert placed["tgc.variable"] == placed["tgc.read_variable"] == CPU0
    assert placed["tgc.assign_sub"] == CPU0


def test_without_soft_placement_the_request_is_refused_naming_what_cannot_run(accel_running):
    with accel_running("variable", "read_variable"), pytest.raises(PassFailure) as caught:
        _placed(soft=False)
    message = str(caught.value)
    assert (
        "cannot place 'tgc.variable' on requested device '/accel:0': available devices that can "
        f"run it with its reads and assigns are ['{CPU0}'] ('ACCEL' does not run 'tgc.assign_sub')"
    ) in message
