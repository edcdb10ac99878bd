"""`tgc graph`: a valid DOT picture at every pipeline stage, SVG through Graphviz,
GraphDef for TensorBoard."""

import re
import shutil
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

import tgc
from tgc.tools.cli import main
from tgc.tools.graph_cmd import STAGES, stage_pipeline

PROGRAM = textwrap.dedent("""
    import tgc as tf
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 2], name="y")
    with tf.device("/cpu:1"):
        with tf.name_scope("scores"):
            W = tf.Variable(tf.ones([3, 2]), name="W")
            s = tf.matmul(x, W)
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.square(s - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
""")

MLIR = textwrap.dedent("""
    func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
      %0 = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false}
          : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32> loc("layer/MatMul")
      %1 = "tgc.relu"(%0) : (tensor<2x4xf32>) -> tensor<2x4xf32> loc("layer/Relu")
      return %1 : tensor<2x4xf32>
    }
""")

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(PROGRAM)
    yield str(path)
    tgc.reset_default_graph()


def run(args):
    return CliRunner().invoke(main, ["graph", *args], catch_exceptions=False)


def check_dot_syntax(text: str) -> None:
    """Graphviz's own parser accepts it (when Graphviz is installed), and the text
    is one balanced digraph."""
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    if HAS_DOT:
        done = subprocess.run(
            ["dot", "-Tcanon"], input=text.encode(), capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()


def labels(text: str) -> list:
    return re.findall(r'label="([^"]*)"', text)


def test_stage_pipelines_are_prefixes_of_the_compile_pipeline():
    assert stage_pipeline("built", (), False) == ""
    assert stage_pipeline("autodiff", (), False) == "tgc-verify,tgc-autodiff"
    assert stage_pipeline("folded", (), False).endswith("tgc-decompose,tgc-fold")
    assert stage_pipeline("partitioned", ("/cpu:0",), True).endswith(
        "tgc-place{devices=/cpu:0 soft=true},tgc-partition"
    )


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_gives_valid_dot(program, tmp_path, stage):
    out = tmp_path / f"{stage}.dot"
    result = run([program, "--stage", stage, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    check_dot_syntax(text)
    names = labels(text)
    assert any(n.startswith("scores/MatMul\\nMatMul") for n in names)
    assert any(n.startswith("scores/W\\n") for n in names)  # the variable, drawn as a cylinder
    gradient_ops = [n for n in names if n.startswith("gradients/SymbolicGradient\\n")]
    backward_ops = [n for n in names if n.startswith("gradients/scores/MatMul_grad/MatMul")]
    if stage == "built":
        assert gradient_ops == ["gradients/SymbolicGradient\\nSymbolicGradient"]
        assert not backward_ops
    else:  # autodiff replaced the gradient op with the ops of its rules, under TF's names
        assert not gradient_ops and backward_ops


def test_placement_colours_ops_by_device(program, tmp_path):
    text = run([program, "--stage", "placed"]).output
    check_dot_syntax(text)
    fill = dict(re.findall(r'label="([^"\\]*)\\n[^"]*", shape=box, fillcolor="(#[0-9a-f]+)"', text))
    assert (
        fill["scores/MatMul"] != fill["GradientDescent/learning_rate"]
    )  # CPU:1 by request, CPU:0 by cost
    assert "@CPU:1" in text and "@CPU:0" in text and "<B>devices</B>" in text


def test_partitioning_draws_clusters_and_send_recv_edges(program):
    text = run([program, "--stage", "partitioned"]).output
    check_dot_syntax(text)
    assert text.count("subgraph cluster_") == 2
    assert 'label="main_p0 @ CPU:1"' in text and 'label="main_p1 @ CPU:0"' in text
    transfers = re.findall(r'(n\d+) -> (n\d+) \[label="([^"]*)", color=red', text)
    assert "GradientDescent/learning_rate:0" in [t[2] for t in transfers]
    node_labels = dict(re.findall(r'^\s+(n\d+) \[label="([^"]*)"', text, re.MULTILINE))
    for src, dst, _ in transfers:
        assert "\\n_Send\\n" in node_labels[src] and "\\n_Recv\\n" in node_labels[dst]


def test_svg_and_png_through_graphviz(program, tmp_path):
    if not HAS_DOT:
        pytest.skip("Graphviz 'dot' is not installed")
    svg, png = tmp_path / "g.svg", tmp_path / "g.png"
    assert run([program, "--stage", "placed", "--format", "svg", "-o", str(svg)]).exit_code == 0
    assert run([program, "--format", "png", "-o", str(png)]).exit_code == 0
    assert "<svg" in svg.read_text() and "scores/MatMul" in svg.read_text()
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_tensorboard_format_writes_the_partitions_as_a_graph_def(program, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import event_accumulator as ea

    logdir = tmp_path / "tb"
    assert (
        run(
            [program, "--stage", "partitioned", "--format", "tensorboard", "-o", str(logdir)]
        ).exit_code
        == 0
    )
    acc = ea.EventAccumulator(str(logdir))
    acc.Reload()
    nodes = {n.name: n for n in acc.Graph().node}
    matmul = nodes["main_p0/scores/MatMul"]
    assert matmul.op == "MatMul" and matmul.device.endswith("CPU:1")
    assert list(matmul.input) == ["main_p0/x", "main_p0/scores/W"]
    recv = nodes["main_p0/GradientDescent/learning_rate"]
    assert recv.op == "_Recv" and recv.input[-1] == "^main_p1/GradientDescent/learning_rate_1"
    assert nodes["main_p1/GradientDescent/learning_rate_1"].op == "_Send"
    assert [d.size for d in matmul.attr["_output_shapes"].list.shape[0].dim] == [-1, 2]


def test_fetch_limits_the_graph(program):
    text = run([program, "--fetch", "loss/Mean:0"]).output
    check_dot_syntax(text)
    assert "loss/Mean\\nMean" in text and "GradientDescent" not in text and "Assign" not in text


def test_mlir_input(tmp_path):
    path = tmp_path / "net.mlir"
    path.write_text(MLIR)
    result = run([str(path), "--stage", "optimized"])
    assert result.exit_code == 0, result.output
    check_dot_syntax(result.output)
    assert "layer/MatMul\\nMatMul" in result.output and "layer/Relu\\nRelu" in result.output
    assert 'label="2x3xf32"' in result.output and 'label="2x4xf32"' in result.output


def test_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(main, ["graph", str(tmp_path / "missing.py")])
    assert (
        result.exit_code == 1
        and "tgc graph: error:" in result.output
        and "No such file" in result.output
    )
    other = tmp_path / "graph.txt"
    other.write_text("")
    result = CliRunner().invoke(main, ["graph", str(other)])
    assert "expected a TF1 program (.py) or tgc IR (.mlir)" in result.output
    result = CliRunner().invoke(main, ["graph", str(other), "--format", "tensorboard"])
    assert "give -o LOGDIR" in result.output


TRAINING_PROGRAM = textwrap.dedent("""
    import tgc as tf
    print("building the graph")
    with tf.Graph().as_default():  # not the default graph: the session's graph is the one drawn
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(tf.ones([3, 1]), name="w")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w)), name="loss")
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            print("TRAINING LOOP RAN")
            for step in range(10 ** 9):
                sess.run(train, feed_dict={x: [[1.0, 2.0, 3.0]]})
""")


def run_cli(*args):
    """The real command in a fresh process, so stdout and stderr are the process's own streams."""
    return subprocess.run(
        [sys.executable, "-m", "tgc.tools.cli", "graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_program_output_stays_off_stdout_and_stops_at_the_first_session_run(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(TRAINING_PROGRAM)
    done = run_cli(str(path), "--format", "dot")
    assert done.returncode == 0, done.stderr
    check_dot_syntax(done.stdout)  # nothing but the DOT on stdout
    assert "building the graph" not in done.stdout and "building the graph" in done.stderr
    assert "TRAINING LOOP RAN" not in done.stdout + done.stderr
    assert "loss\\nMean" in done.stdout and "w\\n" in done.stdout
    assert "GradientDescent" in done.stdout


def test_a_failing_program_is_one_error_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import tgc as tf\nx = tf.placeholder(tf.float32, [2], name='x')\n1 / 0\n")
    result = CliRunner().invoke(main, ["graph", str(path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"tgc graph: error: running {path} failed: ZeroDivisionError: division by zero"
    ]


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_svg_and_png_without_graphviz_is_one_clean_error_before_running_the_program(
    tmp_path, monkeypatch, fmt
):
    import tgc.tools.graph_cmd as graph_cmd

    monkeypatch.setattr(graph_cmd.shutil, "which", lambda name: None)
    path = tmp_path / "net.py"
    path.write_text("raise SystemExit('the program ran')\n")
    result = CliRunner().invoke(
        main, ["graph", str(path), "--format", fmt, "-o", str(tmp_path / f"g.{fmt}")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"tgc graph: error: --format {fmt} needs Graphviz's 'dot' program, which is not on PATH: "
        "install Graphviz (apt install graphviz, brew install graphviz, conda install graphviz) "
        "or use --format dot"
    ]


def test_a_placeholder_of_unknown_rank_takes_its_shape_from_feed(tmp_path):
    path = tmp_path / "dropout.py"
    path.write_text(
        textwrap.dedent("""
        import tgc as tf
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        keep_prob = tf.placeholder(tf.float32, name="keep_prob")
        out = tf.nn.dropout(x, keep_prob, name="drop")
    """)
    )
    refused = CliRunner().invoke(main, ["graph", str(path)])
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "tgc graph: error: placeholder 'keep_prob' has unknown rank: give its shape with --feed "
        "keep_prob:SHAPE (e.g. --feed keep_prob:scalar or --feed keep_prob:?x10)"
    ]
    drawn = run([str(path), "--feed", "keep_prob:scalar"])
    assert drawn.exit_code == 0, drawn.output
    check_dot_syntax(drawn.output)
    assert re.search(r'label="keep_prob", shape=invhouse', drawn.output)
    assert 'label="f32"' in drawn.output  # the scalar keep_prob's edge
    bad = CliRunner().invoke(main, ["graph", str(path), "--feed", "x:?x5"])
    assert bad.output.strip().splitlines() == [
        "tgc graph: error: bad --feed: shape ?x5 does not fit feed 'x' of shape ?x4"
    ]


def test_an_abort_in_a_stage_is_one_error_line_and_the_process_lives(tmp_path, monkeypatch):
    # An abort() inside a pass stands in for an MLIR assertion: the stages run in a forked child
    # (tgc/tools/isolation.py), which inherits this patch. In process, the abort
    # would kill pytest itself.
    import os

    from tgc.passes.fold import FoldPass

    monkeypatch.setattr(FoldPass, "run", lambda self, module: os.abort())
    path = tmp_path / "net.mlir"
    path.write_text(MLIR)
    result = CliRunner().invoke(main, ["graph", str(path), "--stage", "optimized"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "tgc graph: error: MLIR crashed (SIGABRT) while running pass 'tgc-fold'; "
        "the input is not valid there"
    ]
    assert (
        run([str(path), "--stage", "decomposed"]).exit_code == 0
    )  # the stages before it still draw


def test_a_program_that_aborts_is_one_error_line(tmp_path):
    path = tmp_path / "aborts.py"
    path.write_text(
        "import os\nimport tgc as tf\nx = tf.placeholder(tf.float32, [2], name='x')\nos.abort()\n"
    )
    result = CliRunner().invoke(main, ["graph", str(path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"tgc graph: error: running {path} crashed (SIGABRT) before its first Session.run"
    ]


@pytest.mark.parametrize("stage", ["built", "placed"])
def test_a_function_declaration_is_not_drawn(tmp_path, stage):
    path = tmp_path / "declared.mlir"
    path.write_text(
        textwrap.dedent("""
        func.func private @external(tensor<2xf32>) -> tensor<2xf32>
        func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
          %0 = func.call @external(%a) : (tensor<2xf32>) -> tensor<2xf32> loc("ext_call")
          %1 = "tgc.relu"(%0) : (tensor<2xf32>) -> tensor<2xf32> loc("layer/Relu")
          return %1 : tensor<2xf32>
        }
    """)
    )
    result = run([str(path), "--stage", stage])
    assert result.exit_code == 0, result.output
    check_dot_syntax(result.output)
    assert "external" not in result.output
    assert any(n.startswith("layer/Relu\\nRelu") for n in labels(result.output))
