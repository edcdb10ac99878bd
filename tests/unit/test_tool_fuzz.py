"""Fuzzing of the tools, bounded: `tgc opt` on mutants of the lit inputs (with and without the
default pipeline), `tgc compile` on mutants of an exported graph, and `tgc run` and `tgc inspect` on
damaged artifacts must each end in a clean error (exit 1,
``error:`` on stderr, no traceback) or a right answer -- never a traceback, a signal or a hang.

The mutants are fixed by their seed (tests/unit/tool_fuzzer.py). A longer campaign:
``TGC_FUZZ_MUTANTS=5000 TGC_FUZZ_SEED=1 python -m pytest tests/unit/test_tool_fuzz.py``, or
``python benchmarks/tool_fuzz.py --help``.
"""

import collections
import os
import re

import numpy as np
import pytest

import tool_fuzzer as fuzzer

SEED = int(os.environ.get("TGC_FUZZ_SEED", "0"))
OPT_MUTANTS = int(os.environ.get("TGC_FUZZ_MUTANTS", "200"))
RUN_MUTANTS = int(os.environ.get("TGC_FUZZ_MUTANTS", "250"))


def report(verdicts) -> str:
    return "\n".join(v.line() for v in verdicts if v.problem)


def test_opt_on_mutants_of_the_lit_inputs_never_crashes(tmp_path):
    verdicts = list(fuzzer.fuzz_opt(SEED, OPT_MUTANTS, str(tmp_path)))
    assert not [v for v in verdicts if v.problem], report(verdicts)
    exits = collections.Counter(v.outcome.exit_code for v in verdicts)
    # The mutants must reach both ends: some still compile, some are refused.
    assert exits[0] >= OPT_MUTANTS // 10 and exits[1] >= OPT_MUTANTS // 10, exits
    through_pipeline = [
        v for v in verdicts if "--default-pipeline" in v.mutant and v.outcome.exit_code == 0
    ]
    assert through_pipeline, "no mutant went through the default pipeline"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return fuzzer.make_pristine(str(tmp_path_factory.mktemp("pristine")))


def test_run_on_the_pristine_artifact_gives_its_numbers(pristine, tmp_path):
    output = str(tmp_path / "out.npz")
    args = ["run", pristine.path, "--output", output]
    for name, path in pristine.inputs.items():
        args += ["--input", f"{name}={path}"]
    outcome = fuzzer.run_cli(args)
    assert outcome.exit_code == 0, outcome
    with np.load(output) as got:
        np.testing.assert_allclose(got["loss"], pristine.outputs["loss"], rtol=1e-6)
    assert np.isfinite(pristine.outputs["loss"]) and pristine.outputs["loss"] > 0


def test_run_on_damaged_artifacts_never_crashes(pristine, tmp_path):
    verdicts = list(fuzzer.fuzz_run(SEED, RUN_MUTANTS, pristine, str(tmp_path)))
    assert not [v for v in verdicts if v.problem], report(verdicts)
    refused = [v for v in verdicts if v.outcome.exit_code == 1]
    assert len(refused) >= RUN_MUTANTS // 2
    one_line = [
        v for v in refused if re.match(r"tgc (run|inspect): error: [^\n]+\n\Z", v.outcome.stderr)
    ]
    assert one_line == refused, "\n".join(
        f"{v.mutant}: {v.outcome.stderr!r}" for v in refused if v not in one_line
    )
    if RUN_MUTANTS >= 100:  # enough mutants to reach every kind of damage
        assert any(v.mutant.startswith("inspect ") for v in verdicts)
        assert any("checkpoint:" in v.mutant and v.outcome.exit_code == 0 for v in verdicts), (
            "none restored"
        )


COMPILE_MUTANTS = max(OPT_MUTANTS // 4, 1)


def test_compile_on_mutants_of_an_exported_graph_never_crashes(pristine, tmp_path):
    verdicts = list(fuzzer.fuzz_compile(SEED, COMPILE_MUTANTS, pristine, str(tmp_path)))
    assert not [v for v in verdicts if v.problem], report(verdicts)
    assert any(v.outcome.exit_code == 0 for v in verdicts) or COMPILE_MUTANTS < 20


def test_the_judge_catches_what_the_rule_forbids():
    """The oracle itself: a traceback, a signal, a hang, a silent exit 1 and a
    wrong answer all fail."""
    judge = fuzzer.judge
    assert judge(fuzzer.Outcome(1, stderr="x.mlir:1:1: error: expected op\n")) is None
    assert judge(fuzzer.Outcome(0, stdout="module {\n}\n")) is None
    assert "SIGSEGV" in judge(fuzzer.Outcome(signal="SIGSEGV"))
    assert "hung" in judge(fuzzer.Outcome(timed_out=True))
    assert "Traceback" in judge(
        fuzzer.Outcome(1, stderr="error: x\nTraceback (most recent call last):\n")
    )
    assert "Assertion" in judge(fuzzer.Outcome(1, stderr="error: Assertion `x' failed\n"))
    assert "without 'error:'" in judge(fuzzer.Outcome(1, stderr="oops\n"))
    assert "raised KeyError" in judge(
        fuzzer.Outcome(1, exception="Traceback...\nKeyError: 'inputs'\n")
    )
    assert judge(fuzzer.Outcome(0), lambda outcome: "wrong numbers") == "wrong numbers"


def test_printed_ir_must_parse_again(tmp_path):
    assert fuzzer._reparses(fuzzer.Outcome(0, stdout="module {\n}\n"), [], str(tmp_path)) is None
    broken = fuzzer._reparses(fuzzer.Outcome(0, stdout="func.func @f( {\n"), [], str(tmp_path))
    assert broken.startswith("printed IR that does not parse again: ")
