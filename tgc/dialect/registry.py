"""The op registry: one OpDef per tgc op, the source of truth for the dialect.

Everything target-independent about an op lives on its OpDef: operands, attributes, the result rule
(``infer``), numpy reference semantics (``eval``), the gradient rule (``grad``, or an explicit
``NOT_DIFFERENTIABLE``) and, for composites, a decomposition into core ops. The IRDL dialect, the
frontend's builders, the Python verifier, the folder and the autodiff pass all read from here.
Lowering is kept apart, in ``tgc/lowering/to_core``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tgc.dialect.types import TensorSpec


class ShapeError(ValueError):
    """Raised by a result rule when operand shapes or dtypes do not fit the op."""


class GradientRefused(ValueError):
    """Raised by a gradient rule that cannot differentiate this use of its op (tgc-autodiff reports
    it at the op's location rather than giving a wrong gradient)."""


class _NotDifferentiable:
    def __repr__(self) -> str:
        return "NOT_DIFFERENTIABLE"


NOT_DIFFERENTIABLE = _NotDifferentiable()
REQUIRED = object()

# The most operands (and results) an op with ``operands="variadic"`` takes, each of its own type
# (tgc/dialect/irdl.py: IRDL optional operands, counted by the op's segment sizes attributes).
VARIADIC_SLOTS = 128

# Attribute kinds and the builtin attribute each is stored as (the IRDL base constraint).
ATTR_KINDS = {
    "int": "#builtin.integer",
    "bool": "#builtin.integer",
    "float": "#builtin.float",
    "str": "#builtin.string",
    "ints": "#builtin.dense_array",
    "floats": "#builtin.dense_array",
    "dtype": "#builtin.type",
    "tensor": "#builtin.dense_int_or_fp_elements",
    "symbol": "#builtin.symbol_ref",
}

# Op traits: what passes ask of an op instead of matching its name (read by tgc.dialect.ir_helpers).
TRAITS = {
    "variable_declaration": "declares a variable (``sym_name``) that other ops name by symbol",
    "variable_read": "yields the current value of the variable it names (``var``)",
    "assigns": "writes the variable it names (``var``) and yields the new value",
    "transfer": "moves a value between devices: a send takes it (one operand, no result), "
    "a recv yields it (one result)",
    "value_shaped": "the size of its result depends on its operands' values (a range of run-time "
    "bounds), so its result rule leaves that dim unknown",
}


@dataclass(frozen=True)
class Sample:
    """Operands and attributes on which the registry-wide tests exercise an op.

    ``shapes`` gives one shape per operand; ``dtypes`` one dtype for all operands or one per
    operand. Float operands are drawn uniformly from [low, high); integer operands from
    [0, int_high); bool operands at random. ``values`` may fix operands outright (a numpy array, or
    None to draw it). ``dynamic`` lists (operand index, dim) pairs that a second run marks unknown
    (``None``), to test that one compiled function serves every size.
    """

    shapes: tuple
    dtypes: object = "float32"
    attrs: dict = field(default_factory=dict)
    low: float = -2.0
    high: float = 2.0
    int_high: int = 3
    values: tuple = ()
    dynamic: tuple = ()

    def operand_dtypes(self) -> list:
        if isinstance(self.dtypes, str):
            return [self.dtypes] * len(self.shapes)
        return list(self.dtypes)


@dataclass(frozen=True)
class Attr:
    kind: str
    default: object = REQUIRED

    def __post_init__(self):
        if self.kind not in ATTR_KINDS:
            raise ValueError(f"unknown attribute kind '{self.kind}'")


@dataclass
class OpDef:
    """Everything true of one op whatever the target."""

    name: str
    tf_type: str
    operands: object  # a tuple of operand names, or "variadic": any number (passed as *args)
    attrs: dict
    infer: Callable
    eval: Callable
    grad: object
    decompose: Callable | None = None
    results: object = 1  # an int, or "variadic" when an attribute decides the count
    stateful: bool = False  # reads or writes state, or draws random numbers: never folded or CSE'd
    # Lives in the module body, not in a function (variable declarations).
    module_level: bool = False
    doc: str = ""
    samples: tuple = ()
    # (operand specs, result specs, attrs) -> estimated flops, for placement
    flops: Callable | None = None
    # Operands that must be rank 0: a feed of unknown rank there is a scalar.
    scalar_operands: tuple = ()
    traits: frozenset = frozenset()  # names from TRAITS
    # Operands read for their shape only (a ``*_like`` op's target): no gradient flows into them,
    # and an x reached only through them has a gradient of None, as TF's through tf.shape(x).
    shape_operands: tuple = ()

    @property
    def mlir_name(self) -> str:
        return "tgc." + self.name

    @property
    def differentiable(self) -> bool:
        return self.grad is not NOT_DIFFERENTIABLE

    def carries_gradient(self, index: int) -> bool:
        """Whether gradient flows into operand ``index``: a differentiable op's operand that is
        not read for its shape only."""
        if not self.differentiable:
            return False
        if self.operands == "variadic" or index >= len(self.operands):
            return True
        return self.operands[index] not in self.shape_operands

    def complete_attrs(self, given: dict) -> dict:
        """Fill defaults, reject unknown and missing attributes; returns a new dict."""
        unknown = set(given) - set(self.attrs)
        if unknown:
            raise TypeError(f"'{self.mlir_name}' got unknown attributes {sorted(unknown)}")
        out = {}
        for key, spec in self.attrs.items():
            if key in given:
                out[key] = given[key]
            elif spec.default is REQUIRED:
                raise TypeError(f"'{self.mlir_name}' needs attribute '{key}'")
            else:
                out[key] = spec.default
        return out

    def result_specs(self, operand_specs, attrs) -> list:
        """The result rule as a list of TensorSpecs (a single-result rule may return one spec)."""
        if self.operands != "variadic" and len(operand_specs) != len(self.operands):
            raise ShapeError(
                f"expects {len(self.operands)} operands ({', '.join(self.operands)}) "
                f"but got {len(operand_specs)}"
            )
        out = self.infer(*operand_specs, **attrs)
        specs = [out] if isinstance(out, TensorSpec) else list(out)
        return specs

    def evaluate(self, arrays, attrs) -> list:
        out = self.eval(*arrays, **attrs)
        return list(out) if isinstance(out, (list, tuple)) else [out]


REGISTRY: dict[str, OpDef] = {}


def op(
    name,
    *,
    tf_type,
    operands=(),
    attrs=None,
    results=1,
    stateful=False,
    module_level=False,
    scalar_operands=(),
    traits=(),
    shape_operands=(),
):
    """Class decorator: the class body holds ``infer``, ``eval``, ``grad``, ``decompose``,
    ``samples``.

    A class without ``grad`` is a registration error, so absence is always written down as
    ``grad = NOT_DIFFERENTIABLE``.
    """

    unknown = set(traits) - set(TRAITS)
    if unknown:
        raise ValueError(f"op '{name}' has unknown traits {sorted(unknown)}")

    def register(cls) -> OpDef:
        if name in REGISTRY:
            raise ValueError(f"op '{name}' registered twice")
        if "grad" not in vars(cls):
            raise ValueError(f"op '{name}' has no gradient rule; say grad = NOT_DIFFERENTIABLE")
        opdef = OpDef(
            name=name,
            tf_type=tf_type,
            operands=operands if operands == "variadic" else tuple(operands),
            attrs=dict(attrs or {}),
            infer=vars(cls)["infer"],
            eval=vars(cls)["eval"],
            grad=vars(cls)["grad"],
            decompose=vars(cls).get("decompose"),
            results=results,
            stateful=stateful,
            module_level=module_level,
            doc=(cls.__doc__ or "").strip(),
            samples=tuple(vars(cls).get("samples", ())),
            flops=vars(cls).get("flops"),
            scalar_operands=tuple(scalar_operands),
            traits=frozenset(traits),
            shape_operands=tuple(shape_operands),
        )
        if set(opdef.shape_operands) - set(opdef.operands if operands != "variadic" else ()):
            raise ValueError(f"op '{name}': shape_operands {shape_operands} are not its operands")
        REGISTRY[name] = opdef
        return opdef

    return register


def lookup(name: str) -> OpDef:
    """The OpDef for ``name`` or ``tgc.name``."""
    short = name[4:] if name.startswith("tgc.") else name
    if short not in REGISTRY:
        raise KeyError(f"no tgc op named '{name}'")
    return REGISTRY[short]


def load_all_ops() -> dict:
    """Import every op family (each module of tgc/dialect/ops) so that REGISTRY is complete.

    The families are found by path and imported by name: they import this module to register their
    ops, and this module depends on none of them."""
    import pkgutil
    from importlib import import_module
    from pathlib import Path

    for info in pkgutil.iter_modules([str(Path(__file__).with_name("ops"))]):
        import_module(f"tgc.dialect.ops.{info.name}")
    return REGISTRY
