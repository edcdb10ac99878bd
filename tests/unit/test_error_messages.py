"""runtime_errors.message_global (tgc/lowering/runtime_errors.py): one private global per distinct
message text, named tgc_error_message_<n> in the order they are made, found again by name."""

from mlir import ir

from tgc.dialect.context import make_context
from tgc.lowering import runtime_errors


def test_one_global_per_distinct_message_in_order():
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse("func.func @f() { return }")
        op = module.operation
        names = [
            runtime_errors.message_global(op, payload)
            for payload in ({"node": "a"}, {"node": "b"}, {"node": "a"}, {"node": "c"})
        ]
        table = ir.SymbolTable(op)
        text = ir.StringAttr(table["tgc_error_message_1"].attributes["value"]).value_bytes
    assert names == [
        "tgc_error_message_0",
        "tgc_error_message_1",
        "tgc_error_message_0",
        "tgc_error_message_2",
    ]
    assert text == b'{"node": "b"}\0'


def test_the_runtime_definitions_are_added_once():
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse("func.func @f() { return }")
        for _ in range(3):
            runtime_errors.ensure_runtime_definitions(module.operation)
        names = [ir.StringAttr(op.attributes["sym_name"]).value for op in module.body.operations]
    assert names.count(runtime_errors.ERROR_FUNCTION) == 1
    assert len(names) == len(set(names))
