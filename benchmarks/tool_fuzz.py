"""A long fuzzing campaign of the tgc tools: thousands of `tgc opt` mutants of the lit inputs,
`tgc compile` mutants of an exported graph and damaged artifacts for `tgc run`, held to the rule of
tests/unit/test_tool_fuzz.py (a clean error or a right answer; never a traceback, a signal or a
hang).

    python benchmarks/tool_fuzz.py --seed 1 --opt 5000 --compile 1000 --run 2000
    python benchmarks/tool_fuzz.py --seed 1 --opt 1 --compile 0 --run 0 --start 4711
                                                                          # one mutant again

Prints one line per mutant that broke the rule (FAIL: seed, index and the mutations, enough to
reproduce it), one per clean error that admits a tgc bug (INTERNAL: "internal error while running
pass ..."), a progress line every 250 mutants, and a summary; exits 1 if any broke the rule. With
--keep DIR each such `tgc opt` mutant is written there as <seed>-<index>.mlir.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "unit")
)

import tool_fuzzer as fuzzer  # noqa: E402


def campaign(name: str, verdicts, total: int, keep: str | None) -> tuple:
    started, counts, bad, internal = time.perf_counter(), collections.Counter(), 0, 0
    for done, verdict in enumerate(verdicts, 1):
        counts[
            verdict.outcome.exit_code if verdict.outcome.exit_code is not None else "signal/hang"
        ] += 1
        if verdict.problem:
            bad += 1
            print(f"FAIL {verdict.line()}", flush=True)
            if keep and verdict.mutant.startswith("opt "):
                _keep(keep, verdict)
        elif "internal error while" in verdict.outcome.stderr:  # clean, but a tgc bug all the same
            internal += 1
            print(f"INTERNAL {verdict.mutant}: {_internal(verdict.outcome.stderr)}", flush=True)
            if keep and verdict.mutant.startswith("opt "):
                _keep(keep, verdict)
        if done % 250 == 0:
            print(
                f"  {name}: {done}/{total} mutants, {bad} broke the rule, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    seconds = time.perf_counter() - started
    exits = ", ".join(f"exit {k}: {v}" for k, v in sorted(counts.items(), key=str))
    print(
        f"{name}: {sum(counts.values())} mutants in {seconds:.0f} s ({exits}); "
        f"{bad} broke the rule; {internal} clean errors admitted a tgc bug",
        flush=True,
    )
    return bad, seconds


def _internal(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if "internal error while" in line).split(
        ": error: ", 1
    )[-1]


def _keep(folder: str, verdict) -> None:
    fields = dict(part.split("=", 1) for part in verdict.mutant.split() if "=" in part)
    inputs = fuzzer.lit_inputs()
    _, data, _ = fuzzer.opt_mutant(int(fields["seed"]), int(fields["index"]), inputs)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{fields['seed']}-{fields['index']}.mlir"), "wb") as fh:
        fh.write(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (the suite uses 0)")
    parser.add_argument("--opt", type=int, default=5000, help="number of `tgc opt` mutants")
    parser.add_argument("--compile", type=int, default=1000, help="number of `tgc compile` mutants")
    parser.add_argument(
        "--run", type=int, default=2000, help="number of damaged artifacts for `tgc run`"
    )
    parser.add_argument(
        "--start", type=int, default=0, help="first mutant index (to resume or reproduce)"
    )
    parser.add_argument("--keep", default=None, help="folder for the failing `tgc opt` mutants")
    args = parser.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="tgc-fuzz-") as work:
        if args.opt:
            bad += campaign(
                "tgc opt",
                fuzzer.fuzz_opt(args.seed, args.opt, work, args.start),
                args.opt,
                args.keep,
            )[0]
        if args.run or args.compile:
            pristine = fuzzer.make_pristine(work)
        if args.compile:
            bad += campaign(
                "tgc compile",
                fuzzer.fuzz_compile(args.seed, args.compile, pristine, work, args.start),
                args.compile,
                None,
            )[0]
        if args.run:
            bad += campaign(
                "tgc run",
                fuzzer.fuzz_run(args.seed, args.run, pristine, work, args.start),
                args.run,
                args.keep,
            )[0]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
