"""What `tgc inspect` shows of an accel artifact: the machine, and per function and per program
(the accelerator's "kernel") what the simulator's timing model says it costs.

The timing of a program depends on the program only (docs/accel-machine.md), so every number here
is known without running it: instructions per unit, total cycles and seconds at the machine's
clock, the matrix unit's utilisation and the fraction of peak, the bytes DMA moves and the
arithmetic intensity (for a roofline), and how many cycles each unit is busy.
"""

from __future__ import annotations

import click

FORMAT = "tgc-accel-artifact"
UNITS = ("dma_in", "dma_out", "matrix", "vector")


def target_line(manifest: dict) -> str:
    """``target   accel (simulated: 128x128 matrix unit, ...)``."""
    machine = manifest["target"]["machine"]
    parts = []
    if "array_rows" in machine and "array_cols" in machine:
        parts.append(f"{machine['array_rows']}x{machine['array_cols']} matrix unit")
    if "vector_lanes" in machine:
        parts.append(f"{machine['vector_lanes']} vector lanes")
    if "buffer_bytes" in machine:
        parts.append(f"{_bytes(machine['buffer_bytes'])} buffer")
    if "dma_bytes_per_cycle" in machine:
        latency = machine.get("dma_latency_cycles")
        parts.append(
            f"DMA {machine['dma_bytes_per_cycle']} B/cycle"
            + (f" + {latency} cycles" if latency is not None else "")
        )
    if "clock_hz" in machine:
        parts.append(f"{machine['clock_hz'] / 1e6:g} MHz")
    return f"target   {manifest['target']['name']} (simulated: {', '.join(parts)})"


def show_programs(art) -> None:
    """Per function: its steps, then per program its cost, then the function's total."""
    for function, simulators in art.programs.items():
        files = art.program_files(function)
        steps = art.manifest["functions"][function]["host"]["steps"]
        click.echo(
            f"function {function}: {_count(len(simulators), 'program')}; host steps: "
            f"{_describe_steps(steps)}"
        )
        for number, (file, simulator) in enumerate(zip(files, simulators)):
            click.echo(f"  program {number} ({file}):")
            for line in program_lines(simulator):
                click.echo(f"    {line}")
        if len(simulators) > 1:
            click.echo(f"  all programs: {total_line([s.stats for s in simulators])}")


def program_lines(simulator) -> list:
    """The cost of one program, line by line."""
    stats = simulator.stats
    counts = {unit: 0 for unit in UNITS}
    for instruction in simulator.program.instructions:
        counts[instruction.unit] = counts.get(instruction.unit, 0) + 1
    instructions = len(simulator.program.instructions)
    clock = simulator.machine.clock_hz
    return [
        f"instructions {instructions}: "
        + ", ".join(f"{unit} {count}" for unit, count in counts.items()),
        f"cycles       {stats.total_cycles:,} ({_seconds(stats.seconds)} at {clock / 1e6:g} MHz)",
        f"matrix unit  utilisation {_percent(stats.matrix_utilisation)}, fraction of peak "
        f"{_percent(stats.fraction_of_peak)} ({stats.macs:,} MACs, "
        f"{_flops(stats.achieved_flops_per_s)} of {_flops(stats.peak_flops_per_s)})",
        "busy cycles  "
        + ", ".join(f"{unit} {stats.busy_cycles.get(unit, 0):,}" for unit in counts)
        + f" (weight loads {stats.weight_load_cycles:,})",
        f"DMA          {stats.dma_bytes_in:,} bytes in, {stats.dma_bytes_out:,} bytes out; "
        f"arithmetic intensity {stats.arithmetic_intensity:.3g} flop/byte",
    ]


def total_line(all_stats: list) -> str:
    """Programs run one after another: their cycles add up."""
    cycles = sum(s.total_cycles for s in all_stats)
    seconds = sum(s.seconds for s in all_stats)
    useful = sum(s.useful_mac_cycles for s in all_stats)
    flops = sum(s.flops for s in all_stats)
    peak = all_stats[0].peak_flops_per_s
    utilisation = useful / cycles if cycles else 0.0
    fraction = flops / (seconds * peak) if seconds else 0.0
    return (
        f"{cycles:,} cycles ({_seconds(seconds)}), matrix utilisation {_percent(utilisation)}, "
        f"fraction of peak {_percent(fraction)}"
    )


def write_traces(art, directory: str) -> None:
    for path in art.write_traces(directory):
        click.echo(f"trace    {path}")


def _describe_steps(steps: list, shown: int = 8) -> str:
    """``recv 3, program 0, send 4`` (a tensor's key, a program's number), in order."""
    words = []
    for step in steps[:shown]:
        kind, value = next(iter(step.items()))
        words.append(f"{kind} {value if kind == 'program' else value['key']}")
    if len(steps) > shown:
        words.append(f"... ({len(steps)} in all)")
    return ", ".join(words) or "none"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _percent(fraction: float) -> str:
    """Three significant digits at most: 90.3 %, 2.41 %, 0.0123 %."""
    return f"{100 * fraction:.3g} %"


def _seconds(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _flops(per_second: float) -> str:
    for scale, unit in ((1e12, "Tflop/s"), (1e9, "Gflop/s"), (1e6, "Mflop/s")):
        if per_second >= scale:
            return f"{per_second / scale:.3g} {unit}"
    return f"{per_second:.3g} flop/s"


def _bytes(count: int) -> str:
    for scale, unit in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"
