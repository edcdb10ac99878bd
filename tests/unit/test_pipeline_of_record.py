"""The default compile pipeline is a printable string that `tgc opt -p` replays, and every compiled
run records the exact string it used."""

import numpy as np
from click.testing import CliRunner

import tgc as tf
from tgc.driver.pipelines import default_pipeline
from tgc.tools.cli import main

MODULE = """
"tgc.variable"() {sym_name = "w", shape = array<i64: 2>, dtype = f32} : () -> ()
func.func @main(%x: tensor<?x2xf32>) -> tensor<?x2xf32> attributes {llvm.emit_c_interface} {
  %w = "tgc.read_variable"() {var = @w, shape = array<i64: 2>, dtype = f32} : () -> tensor<2xf32>
  %y = "tgc.multiply"(%x, %w) : (tensor<?x2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %s = "tgc.reduce_sum"(%y) {axes = array<i64: 0, 1>, keepdims = false}
      : (tensor<?x2xf32>) -> tensor<f32>
  %one = "tgc.fill_like"(%s) {value = 1.0 : f64} : (tensor<f32>) -> tensor<f32>
  %g = "tgc.gradient"(%s, %x, %one) : (tensor<f32>, tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  return %g : tensor<?x2xf32>
}
"""


def test_print_pipeline_without_p_prints_the_default_pipeline():
    result = CliRunner().invoke(main, ["opt", "--print-pipeline"])
    assert result.exit_code == 0
    assert result.output.strip() == default_pipeline()
    assert (
        result.output.startswith("tgc-verify,tgc-autodiff,") and "convert-to-llvm" in result.output
    )


def test_tgc_opt_replays_the_default_pipeline_to_llvm(tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text(MODULE)
    result = CliRunner().invoke(main, ["opt", str(path), "-p", default_pipeline()])
    assert result.exit_code == 0, result.output
    assert "llvm.func @main_p0(" in result.output
    assert '"tgc.' not in result.output


def test_a_compiled_run_records_its_pipeline():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = x * 3.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [[1.0, 2.0]]}), [[3.0, 6.0]])
        (compiled,) = sess._cache.values()
    assert compiled.pipeline == default_pipeline()
