"""Every kernel's PTX entry takes exactly the arguments its launches pass: one per plan argument.

The launch plan passes each buffer as one pointer (the bare-pointer convention). LLVM falls back to
memref descriptors (several parameters per buffer) for a whole kernel when one of its buffers cannot
be a bare pointer, and a GPU would then read garbage: on the host-run kernels that was a crash, on a
GPU it would be wrong numbers. This compares the PTX with the plan for the lecture programs' steps.
"""

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tgc.tools.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from test_nvptx_target import TRAINING_STEPS  # noqa: E402  (the lecture programs)

ENTRY = re.compile(r"\.entry\s+(\w+)\s*\(([^)]*)\)", re.S)


def ptx_parameter_counts(ptx: str) -> dict:
    return {name: params.count(".param") for name, params in ENTRY.findall(ptx)}


@pytest.mark.parametrize("name", ["two_layer_relu_softmax", "softmax_regression", "convnet"])
def test_each_kernel_takes_as_many_parameters_as_its_launches_pass(name, tmp_path):
    source, fetches, _ = TRAINING_STEPS[name]
    program = tmp_path / f"{name}.py"
    program.write_text(source)
    args = ["compile", str(program), "--target", "nvptx", "-o", str(tmp_path / "out")]
    for fetch in fetches:
        args += ["--fetch", fetch]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = ptx_parameter_counts((tmp_path / "out" / "kernels.ptx").read_text())
    plan = json.loads((tmp_path / "out" / "manifest.json").read_text())["launch_plan"]
    assert set(counts) == set(plan["kernels"])
    launches = [
        step["launch"]
        for function in plan["functions"].values()
        for step in function["steps"]
        if "launch" in step
    ]
    assert launches
    for launch in launches:
        assert counts[launch["kernel"]] == len(launch["args"]), launch["kernel"]
