"""Pipelines as printable strings that mix tgc passes and upstream MLIR passes.

MLIR prints Python passes as ``unknown<...>`` and cannot parse their names, so this module splits a
spec such as ``tgc-autodiff,tgc-decompose,canonicalize,func.func(cse)`` into runs: tgc passes run
themselves, consecutive upstream passes go to one ``PassManager``. ``Pipeline.spec()`` prints the
string back exactly, so any compile can be replayed with ``tgc opt -p '<spec>'``.

Each upstream element runs in its own ``PassManager`` (the same passes in the same order, so the
same result): observers registered with ``observe_stages`` then hear the name of every pass before
it runs, and a pass that aborts the process (an assertion in MLIR on IR it does not expect) can be
named by the parent of an isolated run (tgc/tools/isolation.py).

MLIR's verifier runs after every upstream pass where ``verify_each`` asks for it (``tgc opt`` does,
as ``mlir-opt`` does, and so does any run with ``TGC_VERIFY_EACH_PASS=1``); every run verifies the
module after the pipeline's last stage. A compile verifies only there, which keeps a Session's
first call short (verifying after each of a step's twenty-odd upstream passes is a tenth of its
compile) and still refuses invalid IR before it reaches code generation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time

from mlir import ir
from mlir.passmanager import PassManager

from tgc.passes import get_pass_class, tgc_passes
from tgc.passes.base import ModulePass, PassFailure


class PipelineError(ValueError):
    pass


_VALID_UPSTREAM: set = set()  # upstream pipeline texts PassManager.parse accepted
_STAGE_OBSERVERS: list = []  # callables taking the name of the step about to run
VERIFY_EACH_ENVIRONMENT = "TGC_VERIFY_EACH_PASS"


def verify_each_by_default() -> bool:
    return os.environ.get(VERIFY_EACH_ENVIRONMENT, "") not in ("", "0")


@contextlib.contextmanager
def observe_stages(observer):
    """Within the block, ``observer(name)`` is called before every pass (and announced step)
    runs."""
    _STAGE_OBSERVERS.append(observer)
    try:
        yield
    finally:
        _STAGE_OBSERVERS.remove(observer)


def announce(step: str) -> None:
    """Tells the observers that ``step`` starts now (a phrase: "running pass 'cse'", "parsing the
    input")."""
    for observer in _STAGE_OBSERVERS:
        observer(step)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise PipelineError(f"unbalanced brackets in pipeline '{text}'")
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return [p for p in parts if p]


def _convert(field, text: str):
    kind = (
        field.type
        if isinstance(field.type, str)
        else getattr(field.type, "__name__", str(field.type))
    )
    if "bool" in kind:
        if text.lower() not in ("true", "false", "1", "0"):
            raise PipelineError(f"option '{field.name}' expects true or false, got '{text}'")
        return text.lower() in ("true", "1")
    if "int" in kind and "tuple" not in kind:
        return int(text)
    if "float" in kind:
        return float(text)
    if "tuple" in kind:
        return tuple(t for t in text.split(",") if t)
    return text


def make_pass(element: str):
    name, _, rest = element.partition("{")
    name = name.strip()
    cls = get_pass_class(name)
    options = {}
    if rest:
        if not rest.endswith("}"):
            raise PipelineError(f"malformed options in '{element}'")
        fields = {f.name.replace("_", "-"): f for f in dataclasses.fields(cls)}
        for item in split_top_level(rest[:-1].strip(), " "):
            key, eq, value = item.partition("=")
            if not eq or key not in fields:
                known = ", ".join(sorted(fields)) or "none"
                raise PipelineError(f"pass '{name}' has no option '{key}' (options: {known})")
            options[fields[key].name] = _convert(fields[key], value)
    return cls(**options)


def _parsed(element: str, known: dict) -> tuple:
    """(text, tgc pass) for an element naming a tgc pass, (text, None) for an upstream one."""
    name = element.partition("{")[0].strip()
    return (element, make_pass(element)) if name in known else (element, None)


def _has_current_context() -> bool:
    try:
        return ir.Context.current is not None
    except ValueError:  # older bindings raise instead of answering None
        return False


@dataclasses.dataclass
class Stage:
    spec: str
    tgc_pass: object = None  # a ModulePass, or None for an upstream run

    def run(self, module: ir.Module, verify_each: bool = True) -> None:
        if self.tgc_pass is not None:
            announce(f"running pass '{self.spec}'")
            self.tgc_pass.run(module)
            return
        for element in split_top_level(self.spec):
            announce(f"running pass '{element}'")
            manager = PassManager.parse(f"builtin.module({element})")
            manager.enable_verifier(verify_each)
            manager.run(module.operation)


class Pipeline:
    def __init__(self, spec: str):
        known = tgc_passes()
        self._set_stages([_parsed(element, known) for element in split_top_level(spec)])

    def _set_stages(self, elements: list) -> None:
        """Stages from (text, tgc pass or None) pairs: each tgc pass alone, consecutive upstream
        passes together in one."""
        self.stages: list[Stage] = []
        upstream: list[str] = []
        for text, tgc_pass in elements:
            if tgc_pass is None:
                upstream.append(text)
                continue
            if upstream:
                self.stages.append(Stage(",".join(upstream)))
                upstream = []
            self.stages.append(Stage(text, tgc_pass))
        if upstream:
            self.stages.append(Stage(",".join(upstream)))
        self._check_upstream()

    def _check_upstream(self):
        unchecked = [
            s.spec for s in self.stages if s.tgc_pass is None and s.spec not in _VALID_UPSTREAM
        ]
        if not unchecked:
            return
        # One context for all of them: creating an MLIR context is costly.
        with contextlib.nullcontext() if _has_current_context() else ir.Context():
            for spec in unchecked:
                try:
                    PassManager.parse(f"builtin.module({spec})")
                except ValueError as exc:
                    raise PipelineError(f"invalid pipeline element '{spec}': {exc}") from None
                _VALID_UPSTREAM.add(spec)

    @classmethod
    def of(cls, elements: list) -> "Pipeline":
        """A pipeline from its elements: tgc pass objects and upstream pass texts (each as MLIR's
        pipeline syntax writes one pass, e.g. ``func.func(cse)``), in order."""
        known = tgc_passes()
        pipeline = cls.__new__(cls)
        pipeline._set_stages(
            [(e.spec(), e) if isinstance(e, ModulePass) else _parsed(e, known) for e in elements]
        )
        return pipeline

    def __add__(self, other: "Pipeline") -> "Pipeline":
        joined = Pipeline.__new__(Pipeline)
        joined.stages = self.stages + other.stages
        return joined

    def up_to(self, name: str, last_occurrence: bool = False) -> "Pipeline":
        """The passes from the first through the first (or last) one called ``name``."""
        elements = split_top_level(self.spec())
        names = [e.partition("{")[0].strip() for e in elements]
        if name not in names:
            raise PipelineError(f"pass '{name}' is not in the pipeline")
        end = len(names) - names[::-1].index(name) if last_occurrence else names.index(name) + 1
        return Pipeline(",".join(elements[:end]))

    def spec(self) -> str:
        return ",".join(
            s.tgc_pass.spec() if s.tgc_pass is not None else s.spec for s in self.stages
        )

    def run(
        self,
        module: ir.Module,
        *,
        print_after_all=False,
        print_after_change=False,
        timing=None,
        out=None,
        verify_each=None,
    ):
        """Runs every stage in order; ``timing`` (a list) receives (stage spec, seconds).
        ``verify_each``: verify the IR after every upstream pass too (None: TGC_VERIFY_EACH_PASS
        decides); it is verified after the last stage in any case (an ``ir.MLIRError`` where it
        does not)."""
        out = out or sys.stderr
        if verify_each is None:
            verify_each = verify_each_by_default()
        for stage in self.stages:
            before = str(module) if print_after_change else None
            start = time.perf_counter()
            stage.run(module, verify_each)
            if timing is not None:
                timing.append((stage.spec, time.perf_counter() - start))
            if print_after_all or (print_after_change and str(module) != before):
                print(f"// -----// IR Dump After {stage.spec} //----- //", file=out)
                print(module, file=out)
        if self.stages:  # a tgc pass's result too, which no PassManager verifies
            announce("verifying the IR after the pipeline")
            module.operation.verify()


def run_pipeline(module: ir.Module, spec: str, **kwargs) -> Pipeline:
    pipeline = Pipeline(spec)
    pipeline.run(module, **kwargs)
    return pipeline


__all__ = ["Pipeline", "PipelineError", "PassFailure", "run_pipeline", "observe_stages", "announce"]
