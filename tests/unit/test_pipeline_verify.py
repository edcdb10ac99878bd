"""A pipeline verifies its module after its last stage, whatever ``verify_each`` says: IR that a
pass left invalid is refused before code generation, with MLIR's diagnostic."""

import dataclasses

import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.passes.base import ModulePass
from tgc.passes.pipeline import Pipeline, verify_each_by_default

GOOD = """
func.func @f(%a: f32) -> f32 {
  %0 = arith.addf %a, %a : f32
  return %0 : f32
}
"""


@dataclasses.dataclass(frozen=True)
class DropTheReturnValue(ModulePass):
    """Leaves @f returning nothing although it is declared to return an f32."""

    name = "test-drop-the-return-value"

    def run(self, module):
        block = module.body.operations[0].regions[0].blocks[0]
        old = list(block.operations)[-1]
        with ir.InsertionPoint(old):
            ir.Operation.create("func.return", operands=[])
        old.erase()


def _run(elements, verify_each):
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(GOOD)
        Pipeline.of(elements).run(module, verify_each=verify_each)
        return str(module)


@pytest.mark.parametrize("verify_each", [False, True])
def test_invalid_ir_left_by_the_last_pass_is_refused(verify_each):
    with pytest.raises(ir.MLIRError) as info:
        _run(["canonicalize", DropTheReturnValue()], verify_each)
    assert "has 0 operands, but enclosing function (@f) returns 1" in str(
        info.value.error_diagnostics[0]
    )


@pytest.mark.parametrize("verify_each", [False, True])
def test_valid_ir_runs_either_way(verify_each):
    assert "arith.addf" in _run(["canonicalize", "func.func(cse)"], verify_each)


def test_the_environment_asks_for_verification_after_each_pass(monkeypatch):
    monkeypatch.delenv("TGC_VERIFY_EACH_PASS", raising=False)
    assert not verify_each_by_default()
    monkeypatch.setenv("TGC_VERIFY_EACH_PASS", "1")
    assert verify_each_by_default()
    monkeypatch.setenv("TGC_VERIFY_EACH_PASS", "0")
    assert not verify_each_by_default()
