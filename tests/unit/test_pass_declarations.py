"""Every tgc pass accepts a module with function declarations (bodiless, e.g. an external kernel):
it leaves the declaration as it is and still transforms the functions that have a body."""

import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.passes import get_pass_class, tgc_passes
from tgc.dialect.ir_helpers import functions
from tgc.passes.base import PassFailure

MODULE = """
func.func private @ext(tensor<2xf32>) -> tensor<2xf32>
func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = func.call @ext(%a) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = "tgc.exp"(%0) : (tensor<2xf32>) -> tensor<2xf32>
  %2 = "tgc.exp"(%0) : (tensor<2xf32>) -> tensor<2xf32>
  %3 = "tgc.add"(%1, %2) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %3 : tensor<2xf32>
}
"""

DECLARATION = "func.func private @ext(tensor<2xf32>) -> tensor<2xf32>"


@pytest.mark.parametrize("name", sorted(tgc_passes()))
def test_pass_keeps_declarations(name):
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(MODULE)
        try:
            get_pass_class(name)().run(module)
        except (
            PassFailure
        ) as failure:  # a user-level refusal (e.g. a pass that needs tgc-place first)
            assert "tgc-place" in str(failure), failure
            return
        module.operation.verify()
        assert DECLARATION in str(module)


def test_functions_are_the_definitions_unless_asked():
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(MODULE)
        assert [ir.StringAttr(f.attributes["sym_name"]).value for f in functions(module)] == [
            "main"
        ]
        every = functions(module, declarations=True)
        assert [ir.StringAttr(f.attributes["sym_name"]).value for f in every] == ["ext", "main"]


def test_cse_still_merges_next_to_a_declaration():
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(MODULE)
        get_pass_class("tgc-cse")().run(module)
        assert str(module).count('"tgc.exp"') == 1
