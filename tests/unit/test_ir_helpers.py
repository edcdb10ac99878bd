"""tgc.dialect.ir_helpers: the shared walkers and the registry/trait questions passes ask of ops."""

import re
from pathlib import Path

import pytest
from mlir import ir

from tgc.dialect import ir_helpers as h
from tgc.dialect.context import make_context
from tgc.dialect.ops.state import ASSIGNMENT_OPS
from tgc.dialect.registry import REGISTRY, TRAITS, load_all_ops
from tgc.dialect.registry import op as register_op

MODULE = """
"tgc.variable"() {dtype = f32, shape = array<i64: 2>, sym_name = "v"} : () -> ()
func.func private @ext(tensor<2xf32>) -> tensor<2xf32>
func.func @main(%x: tensor<2xf32>, %c: i1) -> tensor<2xf32> {
  %r = "tgc.read_variable"() {dtype = f32, shape = array<i64: 2>, var = @v} : () -> tensor<2xf32>
  %e = "tgc.exp"(%r) : (tensor<2xf32>) -> tensor<2xf32>
  %a = "tgc.assign_add"(%e) {var = @v} : (tensor<2xf32>) -> tensor<2xf32>
  "tgc.send"(%a) {key = "a:0;p;q", key_id = 0 : i64, src_device = "p", dst_device = "q"}
      : (tensor<2xf32>) -> ()
  %t = "tgc.recv"() {key = "t:0;q;p", key_id = 1 : i64, src_device = "q", dst_device = "p",
                     shape = array<i64: 2>, dtype = f32} : () -> tensor<2xf32>
  %s = scf.if %c -> tensor<2xf32> {
    %n = "tgc.negative"(%t) : (tensor<2xf32>) -> tensor<2xf32>
    scf.yield %n : tensor<2xf32>
  } else {
    scf.yield %x : tensor<2xf32>
  }
  return %s : tensor<2xf32>
}
"""


@pytest.fixture
def module():
    with make_context(), ir.Location.unknown():
        yield ir.Module.parse(MODULE)


def _main(module):
    return h.find_function(module, "main")


def _names(ops):
    return [op.name for op in ops]


def test_functions_skip_declarations_unless_asked(module):
    names = lambda fs: [ir.StringAttr(f.attributes["sym_name"]).value for f in fs]  # noqa: E731
    assert names(h.functions(module)) == ["main"]
    assert names(h.functions(module, declarations=True)) == ["ext", "main"]
    assert not h.has_body(h.find_function(module, "ext"))
    assert h.has_body(_main(module))
    assert h.find_function(module, "missing") is None
    # From the module op too, as module_of gives it.
    assert h.find_function(module.operation, "main") == _main(module)


def test_body_ops_are_the_entry_block_in_order(module):
    assert _names(h.body_ops(_main(module))) == [
        "tgc.read_variable",
        "tgc.exp",
        "tgc.assign_add",
        "tgc.send",
        "tgc.recv",
        "scf.if",
        "func.return",
    ]
    assert h.body_ops(h.find_function(module, "ext")) == []
    assert all(isinstance(op, ir.Operation) for op in h.body_ops(_main(module)))


def test_all_ops_walks_nested_regions_post_order(module):
    ops = h.all_ops(_main(module))
    assert _names(ops) == [
        "tgc.read_variable",
        "tgc.exp",
        "tgc.assign_add",
        "tgc.send",
        "tgc.recv",
        "tgc.negative",
        "scf.yield",
        "scf.yield",
        "scf.if",
        "func.return",
    ]
    # From the module: the declaration too, no func.func and not the module itself.
    from_module = _names(h.all_ops(module))
    assert from_module[0] == "tgc.variable" and from_module[1:] == _names(ops)


def test_all_ops_is_a_list_safe_to_edit(module):
    for op in h.all_ops(_main(module)):
        if op.name == "tgc.negative":
            op.results[0].replace_all_uses_with(op.operands[0])
            op.erase()
    assert "tgc.negative" not in _names(h.all_ops(_main(module)))


def test_defining_op_and_module_of(module):
    body = h.body_ops(_main(module))
    exp = body[1]
    assert h.defining_op(exp.operands[0]) == body[0]
    block_argument = _main(module).regions[0].blocks[0].arguments[0]
    assert h.defining_op(block_argument) is None
    negative = [op for op in h.all_ops(_main(module)) if op.name == "tgc.negative"][0]
    assert h.module_of(negative) == module.operation
    assert h.operation_of(_main(module)) == _main(module).operation


def test_opdef_of_tgc_ops_and_none_for_others(module):
    load_all_ops()
    by_name = {op.name: op for op in h.all_ops(module)}
    assert h.opdef_of(by_name["tgc.exp"]) is REGISTRY["exp"]
    assert h.opdef_of(by_name["tgc.variable"]) is REGISTRY["variable"]
    assert h.opdef_of(by_name["scf.if"]) is None
    assert h.opdef_of(by_name["func.return"]) is None
    assert h.is_tgc_op(by_name["tgc.recv"]) and not h.is_tgc_op(by_name["scf.yield"])


def test_unknown_tgc_op_is_tgc_without_an_opdef():
    with ir.Context() as context, ir.Location.unknown():
        context.allow_unregistered_dialects = True
        module = ir.Module.parse('"tgc.no_such_op"() : () -> ()\n"other.exp"() : () -> ()')
        unknown, other = h.all_ops(module)
        assert h.is_tgc_op(unknown) and h.opdef_of(unknown) is None
        assert not h.is_tgc_op(other) and h.opdef_of(other) is None


def test_trait_predicates(module):
    table = {
        op.name: (
            h.declares_variable(op),
            h.reads_variable(op),
            h.assigns_variable(op),
            h.accesses_variable(op),
            h.is_transfer(op),
            h.is_send(op),
        )
        for op in h.all_ops(module)
    }
    assert table == {
        "tgc.variable": (True, False, False, True, False, False),
        "tgc.read_variable": (False, True, False, True, False, False),
        "tgc.exp": (False, False, False, False, False, False),
        "tgc.assign_add": (False, False, True, True, False, False),
        "tgc.send": (False, False, False, False, True, True),
        "tgc.recv": (False, False, False, False, True, False),
        "tgc.negative": (False, False, False, False, False, False),
        "scf.yield": (False, False, False, False, False, False),
        "scf.if": (False, False, False, False, False, False),
        "func.return": (False, False, False, False, False, False),
    }


def test_transferred_value(module):
    body = h.body_ops(_main(module))
    send, recv = body[3], body[4]
    assert h.transferred_value(send) == body[2].results[0]
    assert h.transferred_value(recv) == recv.results[0]
    with pytest.raises(ValueError, match="'tgc.exp' is not a transfer between devices"):
        h.transferred_value(body[1])


def test_registry_traits_are_the_ones_the_passes_rely_on():
    registry = load_all_ops()
    with_trait = lambda trait: {n for n, d in registry.items() if trait in d.traits}  # noqa: E731
    assert with_trait("variable_declaration") == {"variable"}
    assert with_trait("variable_read") == {"read_variable", "reread_variable"}
    assert with_trait("assigns") == {"assign", "assign_add", "assign_sub"} == set(ASSIGNMENT_OPS)
    assert with_trait("transfer") == {"send", "recv"}
    assert all(d.traits <= set(TRAITS) for d in registry.values())


def test_unknown_trait_is_a_registration_error():
    with pytest.raises(ValueError, match=r"op 'bogus' has unknown traits \['teleports'\]"):
        register_op("bogus", tf_type="Bogus", traits=("teleports",))


SOURCE = Path(__file__).resolve().parents[2] / "tgc"
# The one place that may look at the dialect prefix of an op name, and the registry's own lookup.
ALLOWED = {SOURCE / "dialect" / "ir_helpers.py", SOURCE / "dialect" / "registry.py"}
NAME_SLICE = re.compile(r"name\[4:\]|name\.startswith\(\"tgc\.\"\)")


def _name_slices(source: Path = SOURCE) -> list:
    found = []
    for path in sorted(source.rglob("*.py")):
        if path in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if NAME_SLICE.search(line):
                found.append(f"{path.relative_to(source.parent)}:{number}: {line.strip()}")
    return found


def test_the_scan_finds_a_name_slice(tmp_path):
    """The scan below is not vacuous: a module that slices an op name is reported by file:line."""
    package = tmp_path / "tgc"
    package.mkdir()
    (package / "bad.py").write_text(
        "x = 1\nshort = operation.name[4:]\nother = op.name[:4]\n"
        'mine = op.name.startswith("tgc.")\nattr = key.startswith("tgc.")\n'
    )
    assert _name_slices(package) == [
        "tgc/bad.py:2: short = operation.name[4:]",
        'tgc/bad.py:4: mine = op.name.startswith("tgc.")',
    ]


def test_no_module_slices_op_names():
    """Op identity goes through ir_helpers (opdef_of, is_tgc_op), not ``op.name[4:]`` or a test of
    the name's prefix."""
    assert _name_slices() == []
