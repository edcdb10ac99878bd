"""Which GEMM a matmul calls, OpenBLAS or tgc's generated kernel: choices per shape, measured on
this machine and cached on disk.

tgc-gemm-autotune (tgc/lowering/cpu/gemm_autotune.py, in the CPU pipeline right before
tgc-blas-matmul) asks ``choose`` for each f32/f64 matmul. A matmul's ``MatmulShape`` (M, N, K,
element type, transposes, beta = 0 or 1, OpenBLAS's thread count) is looked up in the cache:

* a hit is the choice (``source: cache``);
* a miss, when the caller gives a ``measure`` (``tgc compile --blas``, ``tgc tune``, a Session
  under ``TGC_GEMM=tune``), times both callees now and records the winner (``source: tuned``);
* a miss without (a Session by default: tuning must not land on a step's first call) takes the
  nearest measured shape (``source: nearest``), else the default rule (``source: default``,
  ``default_callee``): the generated kernel, except on the GEMMs where OpenBLAS is known to win.

The default rule, from the lectures' GEMM shapes timed by the tuner (benchmarks/gemm_default_rule.py
on the Xeon of issue 18, 8x48 AVX-512 tile, shared 2-core machine, 22:30-22:38 UTC). On one thread
the generated kernel takes 0.6-1.0x OpenBLAS's time on the dense layers and GEMM 256 (64x100x1000,
256x1024x784, 32x1024x3136) and 1.06-1.24x on the convnet's convolution GEMMs; on two threads beside
other processes OpenBLAS's spinning workers collapse (1000x100x64: 2.9 ms against 46 us,
32x1024x3136: 64 ms against 1.1 ms) where tgc's runtime degrades gracefully. The convnet step at
batch 32 (benchmarks/convnet_profile.py's net) at the default threads, every GEMM of it the kernel's
under this rule, took a median 27-84 ms with the kernel in 16 runs (12 of them 29-32 ms) and 20-298
ms with OpenBLAS in 10 (its worst steps 0.17-1.7 s). So the generated kernel is the default, but for
the GEMMs OpenBLAS runs on the calling thread, at most OPENBLAS_SERIAL_MULTIPLY_ADDS (2^18): the
kernel takes 1.5-2.0x OpenBLAS's 1.3-1.6 us at 64x10x100, 100x10x64 (A^T), 64x100x10 (B^T),
1x10x1024. Larger ones get the kernel even where OpenBLAS is faster on one thread (100x10x784: 1.3x,
1024x10x256: 1.4x) or on two threads of an idle machine (one row: OpenBLAS threads its gemv, 47-54
us at 1x1024x784 against the kernel's 99-104 us, which does not), because a threaded OpenBLAS call
risks stalls of milliseconds beside other processes (5.2 ms at 1x1024x784, 7.8 ms at 1024x10x256)
and leaves its workers spinning on the cores the kernel's parallel runtime needs (1024^3 on two
threads: 5.9-6.3 ms on its own, 9-11 ms between OpenBLAS calls).

Matmuls whose C is 2 to one vector wide (the 10-wide shapes above, B not transposed) no longer
reach this choice: tgc-narrow-gemm, before tgc-gemm-autotune, gives them kernels of their own
(narrow_gemm.py), faster than both GEMMs there (benchmarks/narrow_gemm.py).

A shape with a dim unknown at compile time (a None batch) gets the kernel: its size is unknown,
and a wrong guess costs microseconds on a tiny GEMM but milliseconds on a large one.

A matmul with unknown (``?``) dims is never timed: it takes the nearest measured shape by its
known dims, else the default rule. "Nearest": of the same kind (element type, transposes, beta,
threads), each known dim within a factor of NEAREST_FACTOR of the measured one, the smallest sum
of |log2| of the ratios of the known dims. Further away the winner changes too often to guess (on
the Xeon of issue 18: OpenBLAS at 64x100x1000, the generated kernel at 256^3). OpenBLAS wins
ties: the generated kernel is taken only when it is faster by more than CODEGEN_MARGIN, because a
tie on a shared machine is noise, and a choice that flips between runs changes a cached artifact's
code for nothing.

The cache lives in ``$TGC_CACHE_DIR``, else ``$XDG_CACHE_HOME/tgc``, else ``~/.cache/tgc``: one
JSON file per machine (``gemm-<hash>.json``) whose hash covers the CPU model, the generated
kernel's ISA and blockings, tgc's version and the OpenBLAS library, so that a cache copied to
another machine or kept across an upgrade is never read as this one's. A file that cannot be read
as a cache is reported with a warning and rebuilt: its choices are measured again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import tempfile
import warnings

from tgc.lowering.cpu import gemm_kernel

CACHE_ENVIRONMENT = "TGC_CACHE_DIR"
CACHE_FORMAT = 1
# The module attribute where tgc-gemm-autotune lists the choices it made (a JSON string), for the
# artifact's manifest.
CHOICES_ATTRIBUTE = "tgc.gemm_choices"
# The generated kernel is taken only when it is faster than OpenBLAS by more than this fraction.
CODEGEN_MARGIN = 0.03
CALLEES = ("blas", "codegen")
NEAREST_FACTOR = 2.0  # a "nearest" shape's known dims are each within this factor
# OpenBLAS runs a GEMM of at most this many multiply-adds on the calling thread: 65536 times its
# GEMM_MULTITHREAD_THRESHOLD, 4 by default (OpenBLAS interface/gemm.c). Above it, it wakes its
# workers, which then spin and take cores from tgc's parallel runtime (module doc).
OPENBLAS_SERIAL_MULTIPLY_ADDS = 1 << 18


@dataclasses.dataclass(frozen=True)
class MatmulShape:
    """What a GEMM choice depends on. ``m``, ``n``, ``k`` are None where unknown at compile time."""

    elem: str
    m: int | None
    n: int | None
    k: int | None
    trans_a: bool = False
    trans_b: bool = False
    beta_zero: bool = True
    threads: int = 1

    @property
    def known(self) -> bool:
        return None not in (self.m, self.n, self.k)

    def kind(self) -> str:
        """Everything but the sizes: only shapes of one kind are compared by distance."""
        return (
            f"{self.elem} ta={int(self.trans_a)} tb={int(self.trans_b)} "
            f"beta={0 if self.beta_zero else 1} threads={self.threads}"
        )

    def key(self) -> str:
        dims = "x".join("?" if d is None else str(d) for d in (self.m, self.n, self.k))
        return f"{dims} {self.kind()}"

    def describe(self) -> str:
        """M x N x K and what else matters, as ``tgc inspect`` and ``tgc tune --show`` print it."""
        dims = "x".join("?" if d is None else str(d) for d in (self.m, self.n, self.k))
        flags = [name for name, on in (("A^T", self.trans_a), ("B^T", self.trans_b)) if on]
        flags.append("C=AB" if self.beta_zero else "C+=AB")
        return f"{self.elem} {dims} ({', '.join(flags)}, {self.threads} BLAS thread(s))"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "MatmulShape":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})

    @staticmethod
    def valid_json(data) -> bool:
        """Whether ``data`` is a shape ``to_json`` could have written."""
        if not isinstance(data, dict) or set(data) != {
            f.name for f in dataclasses.fields(MatmulShape)
        }:
            return False
        dims_ok = all(
            data[d] is None or (type(data[d]) is int and data[d] >= 0) for d in ("m", "n", "k")
        )
        flags_ok = all(type(data[f]) is bool for f in ("trans_a", "trans_b", "beta_zero"))
        threads_ok = type(data["threads"]) is int and data["threads"] >= 1
        return data["elem"] in ("f32", "f64") and dims_ok and flags_ok and threads_ok


@dataclasses.dataclass(frozen=True)
class Choice:
    """The callee of one matmul, where the choice came from, and the measured seconds per matmul
    of each callee when they were measured (on this machine, maybe earlier)."""

    callee: str
    source: str  # "tuned", "cache", "nearest" or "default"
    seconds: dict = dataclasses.field(default_factory=dict)  # callee -> s per matmul
    measured_as: str | None = None  # the cached shape a "nearest" choice copied

    def summary(self) -> str:
        times = ", ".join(f"{c} {s * 1e3:.4g} ms" for c, s in sorted(self.seconds.items()))
        origin = f" from {self.measured_as}" if self.measured_as else ""
        return f"{self.callee} ({self.source}{origin}{': ' + times if times else ''})"


# ---- the machine and the cache -------------------------------------------------------------------


def cache_dir() -> str:
    """$TGC_CACHE_DIR, else $XDG_CACHE_HOME/tgc, else ~/.cache/tgc."""
    explicit = os.environ.get(CACHE_ENVIRONMENT, "").strip()
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "tgc")


@functools.lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _tgc_version() -> str:
    from tgc._version import __version__  # read once, at import (the metadata lookup takes ms)

    return __version__


def machine_identity() -> dict:
    """What the choices depend on besides the shape: CPU, the kernel's ISA and blockings, tgc's
    version and the OpenBLAS library."""
    from tgc.runtime.blas_threads import bundled_openblas

    library = bundled_openblas()
    return {
        "cpu": _cpu_model(),
        "isa": gemm_kernel.chosen_isa(),
        "blockings": [str(gemm_kernel.shape_for(elem)) for elem in ("f32", "f64")]
        + [str(gemm_kernel.shape_for_matmul("f32", None, 64, 64))],
        "tgc": _tgc_version(),
        "openblas": os.path.basename(library) if library else None,
    }


def cache_path() -> str:
    identity = json.dumps(machine_identity(), sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return os.path.join(cache_dir(), f"gemm-{digest}.json")


def _entry_ok(entry) -> bool:
    if not isinstance(entry, dict) or entry.get("callee") not in CALLEES:
        return False
    seconds = entry.get("seconds")
    if not isinstance(seconds, dict) or not all(
        c in CALLEES and isinstance(s, (int, float)) and s > 0 for c, s in seconds.items()
    ):
        return False
    return MatmulShape.valid_json(entry.get("shape"))


def load_cache(path: str | None = None) -> dict:
    """shape key -> entry ({"shape", "callee", "seconds"}) from this machine's cache file; {} when
    there is none. A file that is not such a cache gets a warning and counts as empty (the next
    choice measured rewrites it)."""
    path = path or cache_path()
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        return _unreadable(path, f"cannot read it: {exc}")
    except ValueError as exc:  # UnicodeDecodeError too
        return _unreadable(path, f"not JSON: {exc}")
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return _unreadable(path, f"not a format-{CACHE_FORMAT} GEMM choice cache")
    choices = data.get("choices")
    if not isinstance(choices, dict) or not all(_entry_ok(e) for e in choices.values()):
        return _unreadable(path, "a choice in it is malformed")
    return choices


def _unreadable(path: str, why: str) -> dict:
    warnings.warn(
        f"tgc: the GEMM tuning cache {path} is unreadable ({why}); it is rebuilt, its shapes "
        "measured again",
        RuntimeWarning,
        stacklevel=3,
    )
    return {}


def store_choice(shape: MatmulShape, callee: str, seconds: dict, path: str | None = None) -> None:
    """Adds one measured choice to the cache file (written whole to a temporary file, then renamed
    over the old one, so a reader never sees half a file)."""
    path = path or cache_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a corrupt file was reported when it was read
        choices = load_cache(path)
    choices[shape.key()] = {"shape": shape.to_json(), "callee": callee, "seconds": seconds}
    data = {
        "format": CACHE_FORMAT,
        "machine": machine_identity(),
        "choices": choices,
    }
    write_cache_file(path, json.dumps(data, indent=1, sort_keys=True).encode())


def write_cache_file(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` at once: into a temporary file beside it, then renamed over it,
    so that another process reading the cache never sees half a file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as fh:
            fh.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def cache_files() -> list:
    """Every GEMM choice cache in the cache directory (this machine's and others')."""
    directory = cache_dir()
    if not os.path.isdir(directory):
        return []
    return sorted(
        os.path.join(directory, name)
        for name in os.listdir(directory)
        if name.startswith("gemm-") and name.endswith(".json")
    )


def clear_cache() -> list:
    """Deletes every GEMM choice cache file; returns their paths."""
    removed = cache_files()
    for path in removed:
        os.remove(path)
    return removed


# ---- choosing -----------------------------------------------------------------------------------


def openblas_threads() -> int:
    """The thread count OpenBLAS has outside tgc's runs (OPENBLAS_NUM_THREADS or the cores): the
    count a choice is made and looked up for. A Session compiles inside its run's ThreadScope,
    which may have lowered the count for a busy moment: the count the outermost scope found (and
    puts back) is the one outside."""
    from tgc.runtime import blas_threads

    blas = blas_threads.openblas()
    if blas is None:
        return 1
    shared = blas_threads._shared
    with shared.lock:
        if shared.open_scopes > 0:
            return shared.found
    return blas.get()


def _log_ratios(shape: MatmulShape, other: MatmulShape) -> list:
    """|log2(mine / theirs)| of each dim known in ``shape``."""
    return [
        abs(math.log2(max(mine, 1) / max(theirs, 1)))
        for mine, theirs in ((shape.m, other.m), (shape.n, other.n), (shape.k, other.k))
        if mine is not None
    ]


def nearest(shape: MatmulShape, choices: dict):
    """(shape, entry) of the cached choice nearest to ``shape`` (module doc), or None."""
    limit = math.log2(NEAREST_FACTOR)
    close = []
    for entry in choices.values():
        other = MatmulShape.from_json(entry["shape"])
        ratios = _log_ratios(shape, other)
        if other.kind() == shape.kind() and all(r <= limit for r in ratios):
            close.append((sum(ratios), other.key(), other, entry))
    if not close:
        return None
    _, _, other, entry = min(close, key=lambda found: found[:2])
    return other, entry


def default_callee(shape: MatmulShape) -> str:
    """The callee of a shape nobody measured (module doc): OpenBLAS for a GEMM it runs on the
    calling thread (at most OPENBLAS_SERIAL_MULTIPLY_ADDS), else the generated kernel, also for a
    shape with a dim unknown at compile time."""
    if shape.known and shape.m * shape.n * shape.k <= OPENBLAS_SERIAL_MULTIPLY_ADDS:
        return "blas"
    return "codegen"


def choose(
    shape: MatmulShape, measure=None, fallback: str | None = None, choices: dict | None = None
) -> Choice:
    """The callee for ``shape`` (module doc: cache, then ``measure(shape)`` -> seconds per callee
    when given, then the nearest measured shape, then ``fallback``, by default
    ``default_callee``). ``choices``: the cache as ``load_cache`` read it (once for many matmuls);
    a choice measured here is added to it."""
    choices = load_cache() if choices is None else choices
    entry = choices.get(shape.key())
    if entry is not None:
        return Choice(entry["callee"], "cache", dict(entry["seconds"]))
    if measure is not None and shape.known and shape.m * shape.n * shape.k > 0:
        seconds = measure(shape)
        callee = winner(seconds)
        try:
            store_choice(shape, callee, seconds)
        except OSError as exc:  # a read-only home: the choice still holds for this compile
            warnings.warn(
                f"tgc: cannot write the GEMM tuning cache in {cache_dir()} ({exc}); set "
                f"{CACHE_ENVIRONMENT} to a writable directory to keep the choices",
                RuntimeWarning,
                stacklevel=2,
            )
        choices[shape.key()] = {"shape": shape.to_json(), "callee": callee, "seconds": seconds}
        return Choice(callee, "tuned", seconds)
    found = nearest(shape, choices)
    if found is not None:
        other, entry = found
        return Choice(entry["callee"], "nearest", dict(entry["seconds"]), other.key())
    return Choice(fallback or default_callee(shape), "default")


def winner(seconds: dict) -> str:
    """The faster callee; OpenBLAS unless the generated kernel beats it by CODEGEN_MARGIN."""
    return "codegen" if seconds["codegen"] < seconds["blas"] * (1 - CODEGEN_MARGIN) else "blas"
