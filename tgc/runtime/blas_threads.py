"""How many threads numpy's OpenBLAS uses while tgc's compiled code runs: at most the session's
``intra_op_parallelism_threads``, and fewer while other processes keep the cores busy.

tgc's CPU matmuls call the OpenBLAS that numpy bundles (tgc/lowering/cpu/blas.py). OpenBLAS splits a
GEMM evenly between its threads and waits for the last: when another process keeps a core busy, the
share of the work queued behind it holds the whole step until the scheduler gets to it, and on two
cores that is one step in a few tens taking 5-60 ms (the two-layer SGD step beside one busy process:
mean 3.9x its quiet mean, median unchanged; benchmarks/busy_machine.py).

So each run of compiled code (``Session.run``, a ``tgc.jit`` call, an artifact's call) happens in a
``ThreadScope``, except a Session's runs of code that calls neither OpenBLAS nor tgc's parallel
runtime (tgc/lowering/cpu/jit.py ``calls_thread_pools``), which run on the calling thread alone.
On entry a scope sets OpenBLAS's thread count to

    max(1, min(limit, cores that other processes left free lately))

where ``limit`` is the scope's (a session's ``intra_op_parallelism_threads``; 0 takes the count
OpenBLAS had, i.e. ``OPENBLAS_NUM_THREADS`` or the cores, or what the user set through numpy); on
the way out of the outermost scope it puts back the count it found, so numpy outside tgc's runs
keeps the user's setting. Nested and concurrent scopes (partitions on threads, sessions in several
threads) share that save and restore; while tgc code runs, numpy called from another Python thread
sees tgc's count (OpenBLAS has one count per process).

The free cores come from ``/proc/stat``, read at most every 0.1 s. Two measures of what other
processes take, the larger counting: the busy time of the CPUs this process may run on, less this
process's own CPU time, over the time between two reads; and the threads running or waiting to run
at the read (``procs_running``) less this process's own (``/proc/self/task``), which still shows
other processes' demand when the cores are saturated and busy time cannot grow (on two cores at a
load average of 8, busy time alone still let runs take two threads: the default's median two-layer
step beside one busy process was 1.35x that of intra_op_parallelism_threads=1). The busiest of the
last three windows counts, so a run takes fewer threads as soon as a window shows the cores busy,
and more only after 0.3 s of calm (a job that pauses now and then, as a test suite does, would
otherwise catch two-thread runs in every pause). A core counts as free when others used less than a
quarter of it. Until the second read, ``/proc/loadavg``'s count of running threads stands in.
Without ``/proc`` (not Linux) every core counts as free. A run whose two previous runs in the
same scope took 20 ms or more each keeps all its threads whatever the load (``threads_for``).

tgc's own generated GEMM has a thread runtime of its own (tgc/lowering/cpu/parallel_gemm.py): the
copy in-process code calls registers its ``tgc_set_threads`` once (``register_runtime``) and every
scope's runs set it; an artifact's copy is the ``runtime`` of that artifact's scope. Its count
follows the same rule with a lower bar (``_RUNTIME_FREE_FROM``): a core counts as free for it while
other processes use less than three quarters of it. OpenBLAS waits for its slowest thread; tgc's
caller runs a thread's share itself first and hands the rest out in smaller chunks to whichever
thread asks, so a worker the scheduler has not run yet takes none, and only a worker descheduled
inside a chunk holds the call. With OpenBLAS's bar, GEMM 256 and the MLP at batch 1 in a Session at
intra_op_parallelism_threads=2 ran on one thread whenever another process used a quarter of a core
(the harness's 2-thread tgc at its 1-thread time beside other users' light jobs). Why not lower
still (benchmarks/small_gemm_threads.py, median / mean in us, GEMM 256 and MLP b1, 2 threads forced
against 1): beside one busy process and others' jobs (load 3.7-4) two threads still won, 104-107 /
216-237 and 142 / 426-495 against 185-192 / 353-531 and 272-274 / 470-846; at load 9 (the cores
oversubscribed) they kept the medians (106 and 154-179) but the MLP's mean went from 1318-1335 to
2758-5301 (workers preempted inside their chunks). The bar decides only where others' share is a
fraction of a core: where their runnable threads (procs_running, an integer) are the larger
measure, as with other users' test runs that come and go, one such thread in the last 0.3 s takes
both pools to one thread (GEMM 256 on the shared machine at load 1.1-1.6: 1 thread in 40-68 % of the
runs, OpenBLAS's and the runtime's count equal in every one). Its count is not put back on the way
out: only tgc's code uses it.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
import time

_WINDOW_S = 0.1  # the shortest window over which the machine's load is measured
_WINDOWS = 3  # how many recent windows the busiest is taken from
_LONG_RUN_S = 0.02  # a run this long keeps all its threads on busy cores (threads_for)
_FREE_FROM = 0.75  # free cores needed for one more thread (others use < 1/4 of it)
# The same for tgc's own runtime (module doc): others use less than 3/4 of the core.
_RUNTIME_FREE_FROM = 0.25
_INT32_MAX = 2**31 - 1
_perf_counter = time.perf_counter  # a module global: no attribute lookup per run


def bundled_openblas() -> str | None:
    """Path of the OpenBLAS numpy bundles (the library tgc's compiled matmuls call), or None."""
    import numpy

    root = os.path.dirname(os.path.dirname(numpy.__file__))
    found = sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas64_*.so")))
    return found[0] if found else None


def check_thread_count(name: str, value) -> int:
    """``value`` as a ConfigProto thread field (an int32) with TensorFlow's errors for other types;
    ``name`` is the field's."""
    if isinstance(value, bool):
        raise TypeError(f"Field tensorflow.ConfigProto.{name}: Expected an int, got a boolean.")
    try:
        count = value.__index__()
    except AttributeError:
        raise TypeError(
            f"'{type(value).__name__}' object cannot be interpreted as an integer"
        ) from None
    if not -_INT32_MAX - 1 <= count <= _INT32_MAX:
        raise ValueError(f"Value out of range: {count}")
    return count


def check_thread_limit(name: str, value, note: str = "") -> int:
    """A most-threads option (``intra_op_parallelism_threads``, ``tgc.jit(threads=)``,
    ``tgc.runtime.load(threads=)``) named ``name``: an int >= 0, 0 meaning tgc decides. ``note``
    ends the error's message."""
    count = check_thread_count(name, value)
    if count < 0:
        raise ValueError(
            f"{name} must be 0 (tgc decides) or a positive number of threads, not {count}{note}"
        )
    return count


# TensorFlow takes a negative intra-op count at ConfigProto, then aborts the process making the
# session's thread pool with this check; tgc refuses it at ConfigProto.
TF_NEGATIVE_THREADS = " (TensorFlow aborts on it: 'Check failed: num_threads >= 1')"


class _OpenBlas:
    """The thread-count functions of numpy's OpenBLAS (its ``scipy_``-prefixed ILP64 names)."""

    def __init__(self, path: str):
        lib = ctypes.CDLL(path)
        self.get = lib.scipy_openblas_get_num_threads64_
        self.get.argtypes, self.get.restype = [], ctypes.c_int
        self.set = lib.scipy_openblas_set_num_threads64_
        self.set.argtypes, self.set.restype = [ctypes.c_int], None


_openblas_handle: list = []  # [None or _OpenBlas], filled on first use


def openblas() -> _OpenBlas | None:
    """numpy's OpenBLAS, or None where numpy bundles none (then tgc's matmuls do not call it)."""
    if not _openblas_handle:
        path = bundled_openblas()
        try:
            _openblas_handle.append(_OpenBlas(path) if path else None)
        except (OSError, AttributeError):  # an OpenBLAS without these functions
            _openblas_handle.append(None)
    return _openblas_handle[0]


class CoreLoad:
    """How many of this process's cores other processes kept busy lately (see the module doc)."""

    def __init__(self):
        try:
            self.cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            self.cpus = list(range(os.cpu_count() or 1))
        self._rows = {f"cpu{c}".encode() for c in self.cpus}
        self._ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._lock = threading.Lock()
        self._last = self._sample()
        self.others = self._running_others() if self._last is not None else 0.0
        self._recent = [self.others]  # the others' cores of the last _WINDOWS windows

    def free_cores(self) -> float:
        """Cores of this process's CPU set not used by other processes over the last window."""
        last = self._last
        if last is not None and time.monotonic() - last[0] >= _WINDOW_S:
            if self._lock.acquire(blocking=False):  # another thread is measuring: use the last
                try:
                    self._measure()
                finally:
                    self._lock.release()
        return len(self.cpus) - self.others

    def _measure(self) -> None:
        sample = self._sample()
        if sample is None:
            return
        (t0, busy0, own0, _), (t1, busy1, own1, waiting) = self._last, sample
        others = (busy1 - busy0) / self._ticks_per_s - (own1 - own0)
        others = max(others / (t1 - t0), waiting)
        self._recent = self._recent[1 - _WINDOWS :] + [min(max(others, 0.0), len(self.cpus))]
        self.others = max(self._recent)
        self._last = sample

    def _sample(self):
        """(monotonic seconds, busy ticks of this process's CPUs, this process's CPU seconds,
        other processes' threads running or runnable now, scaled to this process's CPUs), or None
        without /proc/stat."""
        # This process's running threads are counted before and after /proc/stat is read, and
        # the larger count taken: a worker thread polling for its next job when /proc/stat counted
        # it may be asleep a few microseconds later, and would then be taken for another
        # process's thread (two "busy" cores on an idle machine: one thread for the next 0.3 s).
        own_before = _own_running_threads()
        stat = self._proc_stat()
        if stat is None:
            return None
        busy, running = stat
        own = max(own_before, _own_running_threads())
        share = len(self.cpus) / (os.cpu_count() or len(self.cpus))
        waiting = max(running - own, 0) * share
        return time.monotonic(), busy, time.process_time(), waiting

    def _proc_stat(self):
        """(busy ticks of this process's CPUs, threads running or runnable on the machine now) from
        /proc/stat, or None without it."""
        try:
            with open("/proc/stat", "rb") as fh:
                text = fh.read()
        except OSError:
            return None
        busy, running = 0, 0
        for line in text.splitlines():
            fields = line.split()
            if fields and fields[0] in self._rows:
                # user nice system idle iowait irq softirq steal ...: all but idle and iowait
                ticks = [int(f) for f in fields[1:9]]
                busy += sum(ticks) - ticks[3] - ticks[4]
            elif fields and fields[0] == b"procs_running":
                running = int(fields[1])
        return busy, running

    def _running_others(self) -> float:
        """Threads running on the machine now, less this one (/proc/loadavg's 4th field)."""
        try:
            with open("/proc/loadavg", "rb") as fh:
                running = int(fh.read().split()[3].split(b"/")[0])
        except (OSError, IndexError, ValueError):
            return 0.0
        return float(min(max(running - 1, 0), len(self.cpus)))


def _own_running_threads() -> int:
    """This process's threads running or runnable now (state R), at least this one."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as fh:
                # pid (comm) state ...: comm may hold spaces and parentheses, the state follows
                # the last ')'
                count += fh.read().rpartition(b")")[2].split()[0] == b"R"
        except (OSError, IndexError):
            continue  # a thread that ended meanwhile
    return max(count, 1)


_core_load: list = []  # [CoreLoad], made on first use


def core_load() -> CoreLoad:
    if not _core_load:
        _core_load.append(CoreLoad())
    return _core_load[0]


def threads_for(
    limit: int, found: int, free_cores: float, long_run: bool = False, free_from: float = _FREE_FROM
) -> int:
    """OpenBLAS threads for a run: at most ``limit`` (0: ``found``, the count OpenBLAS had), at
    least 1, and, unless the run is a long one, at most the free cores (a core others use a quarter
    or more of is not free). A long run (the last two in its scope took _LONG_RUN_S or more, many
    scheduler time slices) keeps every thread: each thread's share of the cores evens out over it,
    so a thread that waits a slice for a busy core costs it little (GEMM 2048 on two cores at a load
    of 4: 1 thread 97 ms, numpy's 2 threads 51 ms). ``free_from=_RUNTIME_FREE_FROM``: the count of
    tgc's own runtime (a core others use less than three quarters of is free for it)."""
    cap = limit if limit > 0 else found
    return max(1, cap if long_run else min(cap, int(free_cores + 1 - free_from)))


class _Shared:
    """Process-wide: how many scopes are open, the count the outermost found (the user's), the
    count OpenBLAS has now, and the count last given to the registered runtimes. (An instance, not
    class attributes: writing those on every run would invalidate Python's attribute caches of the
    class each time.)"""

    __slots__ = ("lock", "open_scopes", "found", "current", "runtime_threads")

    def __init__(self):
        self.lock = threading.Lock()
        self.open_scopes = 0
        self.found = self.current = self.runtime_threads = 0


_shared = _Shared()
# ``set(threads)`` of each thread runtime of tgc's own that every scope sets (the generated GEMM's
# parallel runtime for in-process code, tgc/lowering/cpu/parallel_gemm.py): its count is the
# scope's, as OpenBLAS's is. Unlike OpenBLAS's, it is not put back: only tgc's code uses it.
_runtimes: list = []


def register_runtime(set_threads) -> None:
    """Every ThreadScope's runs give ``set_threads`` their thread count from now on."""
    with _shared.lock:
        if set_threads not in _runtimes:
            _runtimes.append(set_threads)
            _shared.runtime_threads = 0  # the next run sets every runtime's count


class ThreadScope:
    """``with scope:`` around a run of compiled code: OpenBLAS's thread count for it (module
    doc). Reusable and reentrant; ``threads`` is the count the last entry chose. Its cost, with the
    count set and put back each run: Session.run on a tiny graph 6.4 us against 2.7 us without the
    scope (benchmarks/session_overhead.py, the shared 2-core machine at load 8). So a Session runs
    code that starts no threads without it (tgc/frontend/session.py)."""

    def __init__(self, limit: int = 0, name: str = "threads", runtime=None):
        """``runtime``: ``set(threads)`` of a thread runtime only this scope's runs use (an
        artifact's own copy of the generated GEMM's), given the count on each entry."""
        self.limit = check_thread_limit(name, limit)
        self.threads = None  # OpenBLAS's count on the last entry
        self.runtime_threads = None  # tgc's runtimes' count on the last entry
        self.runtime = runtime
        self._runtime_threads = 0  # the count ``runtime`` has
        # How long the last two runs in this scope took: both long makes the next one long (one
        # long run may be a Session.run that compiled).
        self.recent_runs_s = (0.0, 0.0)
        self._started = 0.0

    def __enter__(self):
        # The per-run path (a few microseconds of every Session.run): no helper calls beyond the
        # OpenBLAS and load readings, the counts computed inline (threads_for's rule, with
        # free_from=_RUNTIME_FREE_FROM for tgc's runtimes).
        blas = openblas()
        if blas is None and not _runtimes and self.runtime is None:
            return self
        load = core_load()
        free = load.free_cores()
        before, last = self.recent_runs_s
        long_run = before >= _LONG_RUN_S and last >= _LONG_RUN_S
        limit = self.limit
        shared = _shared
        with shared.lock:
            if shared.open_scopes == 0:
                shared.found = shared.current = blas.get() if blas else len(load.cpus)
            shared.open_scopes += 1
            threads = own = limit if limit > 0 else shared.found
            if not long_run:
                fitting = int(free + 1 - _FREE_FROM)
                if fitting < threads:
                    threads = fitting
                # tgc's own runtimes need less of a core free (module doc).
                fitting = int(free + 1 - _RUNTIME_FREE_FROM)
                if fitting < own:
                    own = fitting
            if threads < 1:
                threads = 1
            if own < 1:
                own = 1
            self.threads, self.runtime_threads = threads, own
            if threads != shared.current and blas is not None:
                blas.set(threads)
                shared.current = threads
            if own != shared.runtime_threads:
                for set_threads in _runtimes:
                    set_threads(own)
                shared.runtime_threads = own
        if self.runtime is not None and own != self._runtime_threads:
            self.runtime(own)
            self._runtime_threads = own
        self._started = _perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.threads is None:
            return
        self.recent_runs_s = (self.recent_runs_s[1], _perf_counter() - self._started)
        shared = _shared
        with shared.lock:
            shared.open_scopes -= 1
            if shared.open_scopes == 0 and shared.current != shared.found:
                blas = openblas()
                if blas is not None:
                    blas.set(shared.found)
                    shared.current = shared.found
