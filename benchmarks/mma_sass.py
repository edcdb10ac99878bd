"""What the tensor-core matmul's kernel becomes on sm_90, without a GPU: ptxas's report (registers,
spills, shared memory), the shared-memory bank conflicts of one warp (bank_conflicts.py), and, where
cuobjdump (CUDA toolkit, or the nvidia-cuda-cuobjdump wheel) is on PATH or given, the instruction
mix of the K loop's SASS: HMMA, LDS and their widths, LDGSTS (cp.async), the cp.async wait depth
(DEPBAR.LE SB0, n), and everything else (address arithmetic, selects, moves).

    python benchmarks/mma_sass.py [--size 4096] [--tiles "MmaTiles(warps_m=2, warps_n=4)"]
        [--transpose-a] [--transpose-b] [--cuobjdump PATH]

Prints a table and writes benchmarks/results/mma_sass-<time>.json. It times nothing.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlir import ir  # noqa: E402

import tgc.lowering.nvptx.mma_matmul as mma_matmul  # noqa: E402
from tgc.dialect.context import make_context  # noqa: E402
from tgc.lowering.nvptx.bank_conflicts import count_launch, launches, totals  # noqa: E402
from tgc.lowering.nvptx.mma_kernel import MmaTiles, MmaWriter  # noqa: E402


def _module(size: int, ta: bool, tb: bool) -> str:
    t = f"tensor<{size}x{size}xf32>"
    flags = f"transpose_a = {str(ta).lower()}, transpose_b = {str(tb).lower()}"
    return (
        f'func.func @main(%a: {t}, %b: {t}) -> {t} attributes {{tgc.feed_names = ["a", "b"], '
        f'tgc.fetch_names = ["c"]}} {{\n  %c = "tgc.matmul"(%a, %b) {{{flags}}} : ({t}, {t}) -> '
        f"{t}\n  return %c : {t}\n}}\n"
    )


def _ptx(size: int, ta: bool, tb: bool, tiles: str, work: pathlib.Path) -> str:
    source = work / "model.mlir"
    source.write_text(_module(size, ta, tb))
    code = (
        "import sys; import tgc.lowering.nvptx.mma_matmul as m; "
        f"m.DEFAULT_TILES = m.{tiles}; from tgc.tools.cli import main; main(sys.argv[1:])"
    )
    args = ["compile", str(source), "--target", "nvptx", "--allow-tf32", "--emit", "ptx"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        sys.exit(f"mma_sass: the compile failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def _ptxas(ptx: str, work: pathlib.Path) -> tuple[str, pathlib.Path]:
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        sys.exit("mma_sass: ptxas (CUDA toolkit) is not on PATH")
    (work / "k.ptx").write_text(ptx)
    cubin = work / "k.cubin"
    done = subprocess.run(
        [ptxas, "-arch=sm_90", "-v", str(work / "k.ptx"), "-o", str(cubin)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"mma_sass: ptxas refused the PTX: {done.stderr.strip()}")
    return done.stdout + done.stderr, cubin


def _report(info: str) -> dict:
    registers = re.search(r"Used (\d+) registers", info)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", info)
    smem = re.search(r"(\d+) bytes smem", info)
    return {
        "registers": int(registers.group(1)) if registers else None,
        "spill_stores": int(spills.group(1)) if spills else None,
        "spill_loads": int(spills.group(2)) if spills else None,
        "smem_bytes": int(smem.group(1)) if smem else None,
    }


def _loop_mix(sass: str) -> dict:
    """The instruction counts of the K loop: from its barrier (BAR.SYNC) to its backward
    branch (the first BRA after it)."""
    lines = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(.*?);", sass)
    start = next(i for i, line in enumerate(lines) if "BAR.SYNC" in line)
    end = next(i for i in range(start, len(lines)) if re.search(r"\bBRA\b", lines[i]))
    mix = collections.Counter()
    for line in lines[start : end + 1]:
        if line.startswith("@!PT"):
            continue  # never executed (ptxas's padding)
        opcode = line.split()[1] if line.startswith("@") else line.split()[0]
        mix[opcode] += 1
    # The loop's wait for its tile: the last DEPBAR before its barrier.
    waits = re.findall(r"DEPBAR\.LE SB0, (0x[0-9a-f]+)", "\n".join(lines[:start]))
    return {
        "instructions": dict(mix.most_common()),
        "cp_async_in_flight": waits[-1] if waits else None,
    }


def _conflicts(size: int, ta: bool, tb: bool, tiles: MmaTiles) -> dict:
    """Extra wavefronts (bank conflicts) of warp 0 over a K of 4 tiles, by access kind."""
    with make_context():
        k = 4 * tiles.bk
        shapes = [f"memref<{k}x{size}xf32>" if ta else f"memref<{size}x{k}xf32>"]
        shapes += [f"memref<{size}x{k}xf32>" if tb else f"memref<{k}x{size}xf32>"]
        shapes += [f"memref<{size}x{size}xf32>"]
        types = [ir.MemRefType.parse(s) for s in shapes]
        module = ir.Module.parse(MmaWriter(tiles, types, (size, size, k), (ta, tb)).text())
        (launch,) = launches(module)
        counted = totals(count_launch(launch, warp=0))
    return {
        f"{kind} {'AB'[buffer]} {width}B": {"wavefronts": taken, "least": least}
        for (kind, buffer, width), (taken, least) in sorted(counted.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tiles", default="MmaTiles()")
    parser.add_argument("--transpose-a", action="store_true")
    parser.add_argument("--transpose-b", action="store_true")
    parser.add_argument("--cuobjdump", default=shutil.which("cuobjdump"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    tiles = eval(args.tiles, {"MmaTiles": mma_matmul.MmaTiles})  # noqa: S307 (a dataclass call)
    ta, tb = args.transpose_a, args.transpose_b
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        info, cubin = _ptxas(_ptx(args.size, ta, tb, args.tiles, work), work)
        record = {"size": args.size, "tiles": repr(tiles), "transposes": [ta, tb]}
        record["ptxas"] = _report(info)
        # The A and B stages are dynamic shared memory (ptxas's smem is the static rest).
        record["dynamic_smem_bytes"] = tiles.shared_bytes((ta, tb))
        record["bank_conflicts_warp0"] = _conflicts(args.size, ta, tb, tiles)
        if args.cuobjdump:
            sass = subprocess.run(
                [args.cuobjdump, "-sass", str(cubin)], capture_output=True, text=True, check=True
            ).stdout
            record["k_loop"] = _loop_mix(sass)
    print(json.dumps(record, indent=1))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S%z")
    (out / f"mma_sass-{stamp}.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
