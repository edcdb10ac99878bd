"""tgc-shape-equality (tgc/passes/shape_equality.py): the run-time broadcast checks it removes from
representative graphs with an unknown batch dim, counted in the core IR (a structural count, no
timing), and the symbols it gives op by op.

Before the pass, dynamic_rnn's training step with batch None compiled about 25 times more
"Incompatible shapes" checks (each with a copy for a dim of 1) than it needs: 1, between the RNN's
output and the fed target, which are two placeholders' batch dims.
"""

from __future__ import annotations

import json

import pytest
from mlir import ir

import tgc as tf
from tgc.dialect.context import make_context
from tgc.dialect.registry import load_all_ops
from tgc.dialect.types import TensorSpec
from tgc.driver import pipelines
from tgc.graph.emit import emit_function
from tgc.graph.prune import prune
from tgc.lowering.bool_storage import BoolStoragePass
from tgc.lowering.to_core import ToCorePass
from tgc.passes.lower_variables import LowerVariablesPass
from tgc.passes.pipeline import Pipeline
from tgc.passes.shape_equality import DIM_CLASSES, EXACT_OPS, SHAPED_LIKE_OPERAND
from tgc.runtime.executable import INCOMPATIBLE_SHAPES

WITHOUT_THE_PASS = [LowerVariablesPass(), ToCorePass(), BoolStoragePass()]


def broadcast_checks(feeds: list, fetches: list, lowering: Pipeline) -> list:
    """The node named by each "Incompatible shapes" report in the core IR of ``fetches``."""
    ops = prune([t.op for t in fetches], {t for t, _ in feeds})
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        emit_function(module, ops, feeds, fetches)
        from tgc.graph.emit import emit_variables
        from tgc.graph.prune import variables_of

        emit_variables(module, variables_of(ops))
        (pipelines.graph_and_placement(None) + lowering).run(module)
        return _reports(module)


def _reports(module) -> list:
    messages = {}
    for op in module.body.operations:
        if op.operation.name == "llvm.mlir.global" and "value" in op.attributes:
            name = ir.StringAttr(op.attributes["sym_name"]).value
            messages[name] = ir.StringAttr(op.attributes["value"]).value.rstrip("\0")
    nodes = []

    def visit(op):
        operation = op.operation
        if operation.name == "llvm.call" and "callee" in operation.attributes:
            callee = ir.FlatSymbolRefAttr(operation.attributes["callee"]).value
            kind = operation.operands[0].owner
            if callee == "tgc_runtime_error" and _constant(kind) == INCOMPATIBLE_SHAPES:
                address = operation.operands[1].owner
                global_name = ir.FlatSymbolRefAttr(address.attributes["global_name"]).value
                nodes.append(json.loads(messages[global_name])["node"].split(" (")[0])
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return nodes


def _constant(op) -> int | None:
    if isinstance(op, ir.Block) or op.name != "arith.constant":
        return None
    return ir.IntegerAttr(op.attributes["value"]).value


def lstm_step(batch):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [batch, 9, 16])
    y = tf.placeholder(tf.float32, [batch, 16])
    outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(16), x, dtype=tf.float32)
    loss = tf.reduce_mean(tf.square(outputs[:, -1] - y))
    grads = tf.gradients(loss, tf.trainable_variables())
    feeds = [(x, TensorSpec((batch, 9, 16), "float32")), (y, TensorSpec((batch, 16), "float32"))]
    return feeds, [loss, *grads]


def test_lstm_training_step_keeps_only_the_check_between_two_placeholders():
    feeds, fetches = lstm_step(None)
    before = broadcast_checks(feeds, fetches, Pipeline.of(WITHOUT_THE_PASS))
    after = broadcast_checks(feeds, fetches, pipelines.core_lowering())
    assert len(before) >= 20  # 25 when written: the cell's ops in the loop and its two gradients
    # outputs[:, -1] - y: the RNN's batch against the target's, and (where unbroadcast_like tests
    # that its gradient has its operand's shape) that gradient, of both batches' broadcast, against
    # y's. Nothing in the cell, the loop or their gradients.
    assert "sub" in after
    assert set(after) <= {"sub", "gradients/sub_grad/UnbroadcastLike"}


def test_a_fixed_batch_has_no_check_with_or_without_the_pass():
    feeds, fetches = lstm_step(8)
    assert broadcast_checks(feeds, fetches, pipelines.core_lowering()) == []


def test_mlp_step_keeps_the_checks_against_the_labels_only():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 20])
    labels = tf.placeholder(tf.int32, [None])
    w = tf.Variable(tf.ones([20, 10]))
    b = tf.Variable(tf.zeros([10]))
    logits = tf.nn.relu(tf.matmul(x, w) + b)
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    feeds = [(x, TensorSpec((None, 20), "float32")), (labels, TensorSpec((None,), "int32"))]
    fetches = [loss, *tf.gradients(loss, [w, b])]
    after = broadcast_checks(feeds, fetches, pipelines.core_lowering())
    # The labels' one-hot rows against the logits' rows (the loss, then its gradient's backward
    # ops, which have TF's names): the batch dims of two placeholders, which a run may feed
    # unequal. The dense layers have none.
    # The gradient flowing back has the broadcast of both batches: what meets the logits' batch
    # again (relu's select, the bias add's unbroadcast) is tested too.
    assert "SparseSoftmaxCrossEntropyWithLogits" in after
    assert set(after) <= {
        "SparseSoftmaxCrossEntropyWithLogits",
        "gradients/SparseSoftmaxCrossEntropyWithLogits_grad/Sub",
        # the labels' index check (zeros gathered at the labels) added to the loss's seed
        "gradients/SparseSoftmaxCrossEntropyWithLogits_grad/AddV2",
        "gradients/SparseSoftmaxCrossEntropyWithLogits_grad/Mul",
        "gradients/Relu_grad/SelectV2",
        "gradients/add_grad/UnbroadcastLike",
    }


def test_the_tables_name_registry_ops():
    registry = load_all_ops()
    assert set(EXACT_OPS) <= set(registry)
    assert set(SHAPED_LIKE_OPERAND) <= set(registry)
    assert not set(EXACT_OPS) & set(SHAPED_LIKE_OPERAND)


@pytest.mark.parametrize("name", sorted(SHAPED_LIKE_OPERAND))
def test_shaped_like_operand_matches_the_result_rule(name):
    """The registry's own samples: the result rule gives the named operand's shape."""
    opdef = load_all_ops()[name]
    for sample in opdef.samples:
        specs = [TensorSpec(tuple(s), d) for s, d in zip(sample.shapes, sample.operand_dtypes())]
        attrs = opdef.complete_attrs(sample.attrs)
        (result,) = opdef.result_specs(specs, attrs)
        assert result.shape == specs[SHAPED_LIKE_OPERAND[name]].shape


def test_the_attribute_is_written_only_where_dims_are_shared():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 4])
    same = tf.tanh(x) * tf.exp(x)
    other = same + y
    ops = prune([other.op], {x, y})
    feeds = [(x, TensorSpec((None, 4), "float32")), (y, TensorSpec((None, 4), "float32"))]
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        emit_function(module, ops, feeds, [other])
        Pipeline("tgc-shape-equality").run(module)
        marked = {
            op.operation.name: DIM_CLASSES in op.attributes
            for op in module.body.operations[0].regions[0].blocks[0].operations
        }
    assert marked["tgc.multiply"] and not marked["tgc.add"]


def _segments(count: int) -> str:
    return "array<i32: " + ", ".join(["1"] * count + ["0"] * (128 - count)) + ">"


def _while(result: str, inits: str, body: str) -> str:
    return (
        f'{result} = "tgc.while"(%i0, {inits}, %x) {{body = "{body}", cond = "c", num_vars = 2 : '
        f"i64, operandSegmentSizes = {_segments(3)}, resultSegmentSizes = {_segments(2)}}} : "
        "(tensor<i32>, tensor<?x4xf32>, tensor<?x4xf32>) -> (tensor<i32>, tensor<?x4xf32>)"
    )


_LOOPS = """
module @tgc.loops {
  func.func private @c(%i: tensor<i32>, %h: tensor<?x4xf32>, %x: tensor<?x4xf32>) -> tensor<i1> {
    %n = "tgc.constant"() {value = dense<3> : tensor<i32>} : () -> tensor<i32>
    %p = "tgc.less"(%i, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    return %p : tensor<i1>
  }
  func.func private @b(%i: tensor<i32>, %h: tensor<?x4xf32>, %x: tensor<?x4xf32>)
      -> (tensor<i32>, tensor<?x4xf32>) {
    %one = "tgc.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %j = "tgc.add"(%i, %one) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %s = "tgc.add"(%h, %x) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    return %j, %s : tensor<i32>, tensor<?x4xf32>
  }
}
"""


def _body_add_is_marked(main_body: str) -> bool:
    text = (
        "func.func @main(%x: tensor<?x4xf32>, %y: tensor<?x4xf32>) -> tensor<?x4xf32> {\n"
        '  %i0 = "tgc.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>\n'
        + main_body
        + "\n}\n"
        + _LOOPS
    )
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        Pipeline("tgc-shape-equality").run(module)
        (loops,) = [op for op in module.body.operations if op.operation.name == "builtin.module"]
        (body,) = [
            f
            for f in loops.regions[0].blocks[0].operations
            if ir.StringAttr(f.attributes["sym_name"]).value == "b"
        ]
        adds = [op for op in body.regions[0].blocks[0].operations if op.operation.name == "tgc.add"]
        return DIM_CLASSES in adds[-1].attributes


def test_a_loop_body_is_proven_for_its_one_use():
    assert _body_add_is_marked(_while("%r:2", "%x", "b") + "\n  return %r#1 : tensor<?x4xf32>")


def test_a_body_two_loops_use_is_proven_only_for_what_holds_in_both():
    """In the second loop the state starts from y, whose batch dim is not x's: the body's add of
    the state and x keeps its check."""
    uses = [_while("%r:2", "%x", "b"), _while("%q:2", "%y", "b")]
    assert not _body_add_is_marked("\n".join(uses) + "\n  return %q#1 : tensor<?x4xf32>")


def test_a_body_another_op_names_is_not_proven():
    """An op other than a while or an if names the body: the pass does not see that use."""
    other = '  %t = "tgc.tanh"(%x) {uses = "b"} : (tensor<?x4xf32>) -> tensor<?x4xf32>'
    assert not _body_add_is_marked(
        _while("%r:2", "%x", "b") + "\n" + other + "\n  return %r#1 : tensor<?x4xf32>"
    )
