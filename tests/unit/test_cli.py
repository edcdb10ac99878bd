"""`tgc opt` and `tgc dialect` through click's CliRunner: every user error is one located line on
stderr with exit status 1 and no traceback; the query options print what the registries hold."""

import re

import pytest
from click.testing import CliRunner

from tgc.dialect.irdl import dialect_irdl
from tgc.dialect.registry import load_all_ops
from tgc.passes import pass_help, tgc_passes
from tgc.tools.cli import main


def one_op(args: str, op: str, result: str) -> str:
    """A function whose only op, ``%0 = <op>``, sits on line 2 at column 8."""
    return f"func.func @f({args}) -> {result} {{\n  %0 = {op}\n  return %0 : {result}\n}}\n"


GOOD = one_op(
    "%x: tensor<?x3xf32>, %b: tensor<3xf32>",
    '"tgc.add"(%x, %b) : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>',
    "tensor<?x3xf32>",
)


def run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


def write(tmp_path, text, name="input.mlir"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_user_error(result, pattern):
    """Exit 1, the error line matches ``pattern`` on stderr, nothing like a traceback anywhere."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert re.search(pattern, result.stderr, re.MULTILINE), result.stderr


# ---- errors --------------------------------------------------------------------------------------


def test_parse_error_has_file_line_col_and_caret(tmp_path):
    source_line = '  %0 = "tgc.negative"(%x, ) : (tensor<2xf32>) -> tensor<2xf32>'
    path = write(tmp_path, "func.func @f(%x: tensor<2xf32>) {\n" + source_line + "\n  return\n}\n")
    result = run(["opt", path])
    assert_user_error(result, r"^.*input\.mlir:2:26: error: expected SSA operand$")
    lines = result.stderr.splitlines()
    assert lines[1:3] == [source_line, " " * 25 + "^"]
    assert result.stdout == ""


def test_irdl_missing_attribute(tmp_path):
    op = '"tgc.reduce_sum"(%x) {axes = array<i64: 0>} : (tensor<2x3xf32>) -> tensor<3xf32>'
    result = run(["opt", write(tmp_path, one_op("%x: tensor<2x3xf32>", op, "tensor<3xf32>"))])
    assert_user_error(
        result,
        r"input\.mlir:2:8: error: 'tgc\.reduce_sum' op attribute \"keepdims\" "
        r"is expected but not provided",
    )


def test_irdl_wrong_attribute_kind(tmp_path):
    op = (
        '"tgc.matmul"(%a, %b) {transpose_a = "no", transpose_b = false} '
        ": (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>"
    )
    text = one_op("%a: tensor<2x3xf32>, %b: tensor<3x4xf32>", op, "tensor<2x4xf32>")
    result = run(["opt", write(tmp_path, text)])
    assert_user_error(
        result,
        r"input\.mlir:2:8: error: expected base attribute 'builtin\.integer' "
        r"but got 'builtin\.string'",
    )


def test_verify_broadcast_mismatch(tmp_path):
    path = write(tmp_path, GOOD.replace("tensor<3xf32>", "tensor<4xf32>"))
    assert_user_error(
        run(["opt", path]),
        r"input\.mlir:2:8: error: 'tgc\.add' shapes \(\?, 3\) and \(4,\) "
        r"are not broadcast-compatible$",
    )


def test_verify_error_at_graph_location(tmp_path):
    # Ops emitted from a graph carry loc("scope/op"("file.py":line:0)): the error names both.
    op = '"tgc.relu"(%x) : (tensor<?x3xf32>) -> tensor<?x4xf32> loc("dense/Relu"("model.py":7:0))'
    result = run(["opt", write(tmp_path, one_op("%x: tensor<?x3xf32>", op, "tensor<?x4xf32>"))])
    assert_user_error(
        result,
        r"^model\.py:7:0: 'dense/Relu': error: 'tgc\.relu' result #0 "
        r"expected type 'tensor<\?x3xf32>' but got 'tensor<\?x4xf32>'$",
    )


def test_pass_failure_is_located(tmp_path):
    op = '"tgc.assign"(%x) {var = @missing} : (tensor<2xf32>) -> tensor<2xf32>'
    path = write(tmp_path, one_op("%x: tensor<2xf32>", op, "tensor<2xf32>"))
    result = run(["opt", path, "-p", "tgc-lower-variables"])
    assert_user_error(
        result, r"input\.mlir:2:8: error: 'tgc\.assign' refers to undeclared variable 'missing'"
    )


def test_upstream_pass_failure_is_located(tmp_path):
    result = run(["opt", write(tmp_path, GOOD), "-p", "one-shot-bufferize"])
    assert_user_error(result, r"input\.mlir:2:8: error: op was not bufferized")
    assert re.search(r"input\.mlir:2:8: note: see current operation: .*\"tgc\.add\"", result.stderr)


def test_unexpected_exception_in_a_pass_is_reported_without_traceback(tmp_path, monkeypatch):
    from tgc.passes.decompose import DecomposePass

    def explode(self, module):
        raise KeyError("no rule")

    monkeypatch.setattr(DecomposePass, "run", explode)
    result = run(["opt", write(tmp_path, GOOD), "-p", "tgc-decompose"])
    assert_user_error(
        result,
        r"input\.mlir: error: internal error while running pass 'tgc-decompose' \(a tgc "
        r"bug: please report it with this input\): KeyError: 'no rule'$",
    )


@pytest.mark.parametrize(
    "args, pattern",
    [
        (
            ["-p", "tgc-autodiff,no-such-pass"],
            r"^tgc opt: error: invalid pipeline element 'no-such-pass'",
        ),
        (
            ["-p", "tgc-autodiff{bogus=1}"],
            r"^tgc opt: error: pass 'tgc-autodiff' has no option 'bogus'",
        ),
        (["-p", "func.func(cse"], r"^tgc opt: error: unbalanced brackets in pipeline"),
    ],
)
def test_bad_pipeline(tmp_path, args, pattern):
    assert_user_error(run(["opt", write(tmp_path, GOOD), *args]), pattern)


def test_unreadable_inputs(tmp_path):
    missing = str(tmp_path / "missing.mlir")
    assert_user_error(
        run(["opt", missing]),
        r"missing\.mlir: error: cannot read input file: No such file or directory",
    )
    assert_user_error(run(["opt", str(tmp_path)]), r"error: cannot read input file: Is a directory")
    binary = tmp_path / "binary.mlir"
    binary.write_bytes(b"\xff\xfe\x00")
    assert_user_error(
        run(["opt", str(binary)]), r"binary\.mlir: error: cannot read input file: .*can't decode"
    )


def test_unwritable_output(tmp_path):
    result = run(["opt", write(tmp_path, GOOD), "-o", str(tmp_path / "no" / "dir" / "out.mlir")])
    assert_user_error(
        result, r"out\.mlir: error: cannot write output file: No such file or directory"
    )


# ---- split input ---------------------------------------------------------------------------------


def test_split_input_keeps_file_line_numbers_and_goes_on_after_errors(tmp_path):
    bad_dtype = one_op(
        "%x: tensor<3xi32>", '"tgc.tanh"(%x) : (tensor<3xi32>) -> tensor<3xi32>', "tensor<3xi32>"
    )
    text = GOOD + "\n// -----\n\n" + bad_dtype + "// -----\n" + GOOD.replace("@f", "@g")
    result = run(["opt", write(tmp_path, text), "--split-input-file"])
    # The bad op is on line 9: 4 lines of GOOD, a blank, the marker, a blank, its func line.
    assert_user_error(result, r"input\.mlir:9:8: error: 'tgc\.tanh' dtype int32 is not supported")
    chunks = result.stdout.split("// -----\n")
    assert len(chunks) == 3
    assert "func.func @f(" in chunks[0] and chunks[1] == "" and "func.func @g(" in chunks[2]


def test_split_parse_error_line_numbers(tmp_path):
    text = GOOD + "// -----\n" + GOOD + "// -----\nfunc.func @h() {\n  %0 = bogus\n}\n"
    result = run(["opt", write(tmp_path, text), "--split-input-file"])
    assert_user_error(result, r"input\.mlir:12:8: error:")
    assert result.stdout.count("func.func @f(") == 2


# ---- normal runs and queries ---------------------------------------------------------------------


def test_stdin_and_output_file(tmp_path):
    out = tmp_path / "out.mlir"
    result = run(["opt", "-", "-o", str(out)], input=GOOD)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert (
        '"tgc.add"(%arg0, %arg1) : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>'
        in out.read_text()
    )


def test_stdin_errors_are_named_stdin():
    result = run(["opt"], input=GOOD.replace("tensor<3xf32>", "tensor<4xf32>"))
    assert_user_error(result, r"^<stdin>:2:8: error: 'tgc\.add'")


def test_several_top_level_ops_are_wrapped_in_a_module(tmp_path):
    text = (
        '"tgc.variable"() {dtype = f32, shape = array<i64: 3>, sym_name = "v"} : () -> ()\n' + GOOD
    )
    result = run(["opt", write(tmp_path, text)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("module {\n")
    assert result.stdout.count("module {") == 1
    assert '"tgc.variable"()' in result.stdout and "func.func @f(" in result.stdout


def test_pipeline_runs_tgc_and_upstream_passes(tmp_path):
    result = run(["opt", write(tmp_path, GOOD), "-p", "tgc-to-core,canonicalize"])
    assert result.exit_code == 0, result.output
    assert "linalg.generic" in result.stdout and "tensor.dim" in result.stdout
    assert '"tgc.' not in result.stdout


def test_list_passes_shows_every_pass_with_its_summary():
    result = run(["opt", "--list-passes"])
    assert result.exit_code == 0
    help_lines = pass_help()
    assert set(help_lines) == set(tgc_passes())
    for name, summary in help_lines.items():
        assert re.search(
            rf"^\s+{re.escape(name)}\s+{re.escape(summary)}$", result.stdout, re.MULTILINE
        )


def test_print_pipeline_normalizes_the_spec():
    result = run(["opt", "--print-pipeline", "-p", " tgc-autodiff , canonicalize,func.func(cse)"])
    assert result.exit_code == 0
    assert result.stdout == "tgc-autodiff,canonicalize,func.func(cse)\n"


def test_print_ir_and_timing_go_to_stderr(tmp_path):
    result = run(
        [
            "opt",
            write(tmp_path, GOOD),
            "-p",
            "tgc-to-core,canonicalize",
            "--print-ir-after-all",
            "--timing",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "// -----// IR Dump After tgc-to-core //----- //" in result.stderr
    assert "// -----// IR Dump After canonicalize //----- //" in result.stderr
    assert re.search(r"Total Execution Time: \d+\.\d+ seconds", result.stderr)
    assert "IR Dump" not in result.stdout


def test_print_ir_after_change_skips_unchanged_stages(tmp_path):
    result = run(
        ["opt", write(tmp_path, GOOD), "-p", "tgc-decompose,tgc-to-core", "--print-ir-after-change"]
    )
    assert result.exit_code == 0, result.output
    assert "IR Dump After tgc-decompose" not in result.stderr
    assert "IR Dump After tgc-to-core" in result.stderr


def test_dialect_irdl_and_list_ops():
    irdl = run(["dialect", "--irdl"])
    assert irdl.exit_code == 0 and irdl.stdout == dialect_irdl()
    listing = run(["dialect", "--list-ops"])
    assert listing.exit_code == 0
    rows = dict(line.split() for line in listing.stdout.splitlines())
    assert rows == {opdef.mlir_name: opdef.tf_type for opdef in load_all_ops().values()}


def test_dialect_needs_exactly_one_flag():
    assert_user_error(
        run(["dialect"]), r"^tgc dialect: error: give exactly one of --irdl and --list-ops"
    )
    assert_user_error(run(["dialect", "--irdl", "--list-ops"]), r"give exactly one")


def test_aliases_and_trailing_locations_parse_as_in_mlir_opt(tmp_path):
    # An alias before several top-level ops, and a location alias after them (as printed with debug
    # info): the implicit module must not swallow either.
    text = (
        "#id = affine_map<(d0) -> (d0)>\n"
        '"tgc.variable"() {dtype = f32, shape = array<i64: 3>, sym_name = "v"} : () -> ()\n'
        "func.func @f(%x: tensor<3xf32>, %y: tensor<4xf32>) -> tensor<3xf32> {\n"
        '  %0 = "tgc.add"(%x, %y) : (tensor<3xf32>, tensor<4xf32>) -> tensor<3xf32> loc(#graph)\n'
        "  return %0 : tensor<3xf32>\n}\n"
        '#graph = loc("scope/add"("model.py":5:0))\n'
    )
    result = run(["opt", write(tmp_path, text)])
    assert_user_error(
        result,
        r"^model\.py:5:0: 'scope/add': error: 'tgc\.add' shapes \(3,\) and \(4,\) "
        r"are not broadcast-compatible$",
    )
    fixed = text.replace("tensor<4xf32>", "tensor<3xf32>")
    result = run(["opt", write(tmp_path, fixed)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("module {") == 1 and '"tgc.variable"' in result.stdout


def test_parser_locations_name_the_input_file():
    # Ops and block arguments the parser located get the input's name, not MLIR's default "-".
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.tools.common import Source, parse_module

    with make_context(), ir.Location.unknown():
        module = parse_module(Source("model.mlir", GOOD, GOOD.splitlines()))
        function = module.body.operations[0]
        add = function.regions[0].blocks[0].operations[0]
        assert str(add.location) == 'loc("model.mlir":2:8)'
        assert str(function.regions[0].blocks[0].arguments[1].location) == 'loc("model.mlir":1:35)'


# ---- robustness: types tgc has no dtype for, MLIR aborting, --version ----------------------------


@pytest.mark.parametrize("element", ["index", "i4"])
def test_result_type_without_a_tgc_dtype_is_a_located_error(tmp_path, element):
    op = f'"tgc.negative"(%x) : (tensor<2xf32>) -> tensor<2x{element}>'
    result = run(["opt", write(tmp_path, one_op("%x: tensor<2xf32>", op, f"tensor<2x{element}>"))])
    assert_user_error(
        result,
        rf"^.*input\.mlir:2:8: error: 'tgc\.negative' results must be ranked tensors "
        rf"of a supported dtype: unsupported MLIR element type '{element}'$",
    )
    assert len(result.stderr.splitlines()) == 3  # the error, the source line, the caret


NEGATIVE_DIM = """func.func @f(%x: tensor<?xf32>) -> index {
  %c = arith.constant -1 : index
  %d = tensor.dim %x, %c : tensor<?xf32>
  return %d : index
}
"""


def test_mlir_abort_in_a_pass_is_one_error_line_and_the_process_lives(tmp_path):
    # In process: were the pass not isolated, MLIR's abort() would kill pytest itself.
    path = write(tmp_path, NEGATIVE_DIM + "// -----\n" + GOOD)
    result = run(["opt", path, "--split-input-file", "--default-pipeline"])
    assert_user_error(
        result,
        r"^.*input\.mlir: error: MLIR crashed \(SIGABRT\) while running pass "
        r"'buffer-deallocation-pipeline': assertion `idx < getRank\(\) && "
        r"\"invalid index for shaped type\"' failed; the input is not valid there$",
    )
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "llvm.func @f_p0(" in result.stdout  # the second chunk was compiled to the LLVM dialect


def test_mlir_abort_from_the_command_line_exits_1(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, NEGATIVE_DIM)
    done = subprocess.run(
        [sys.executable, "-m", "tgc.tools.cli", "opt", path, "--default-pipeline"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done
    assert done.stderr.count("\n") == 1 and "error: MLIR crashed (SIGABRT)" in done.stderr, (
        done.stderr
    )


def test_default_pipeline_flag_conflicts_with_p(tmp_path):
    result = run(["opt", write(tmp_path, GOOD), "--default-pipeline", "-p", "cse"])
    assert_user_error(
        result, r"^tgc opt: error: give either -p PIPELINE or --default-pipeline, not both$"
    )


def test_version_prints_the_package_version():
    from importlib import metadata

    import tgc

    result = run(["--version"])
    assert result.exit_code == 0
    assert result.output == f"tgc {getattr(tgc, '__version__', None) or metadata.version('tgc')}\n"
    assert re.fullmatch(r"tgc \d+\.\d+\.\d+\S*\n", result.output)
