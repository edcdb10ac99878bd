"""tgc-shape-equality: proves unknown dims equal, so that tgc-to-core emits no run-time broadcast
check between them.

An elementwise op whose operands have unknown (``?``) dims on the same axis is lowered with a
run-time test that they broadcast (tgc/lowering/to_core/common.py): a failed test raises
"Incompatible shapes", and a dim of 1 is broadcast by a copy. Inside a loop such as dynamic_rnn's,
where every operand has the batch dim, that test and its copies multiplied the loop body's code
(and LLVM's compile time) several times over. Most of those dims are the same run-time value by
construction: ``sigmoid(x @ w) * tanh(x @ w)`` has x's batch dim on both sides.

The pass gives each dim of each value a symbol: the static size, or a ``Sym`` shared by every dim
known to be the same run-time value. The function's arguments get one symbol per unknown dim; an
op's results get symbols from its operands':

- ops whose result is shaped like one operand (fill_like, broadcast_like's target, the gradients of
  unbroadcasting, slicing, gathering and tiling, ...) take that operand's symbols;
- ops whose result rule is exact arithmetic on the operands' dims (``EXACT_OPS``: elementwise
  broadcasting, matmul, reductions, transpose, concat, split, convolutions, ...) are evaluated by
  their registry rule twice, each unknown dim replaced by a large number that stands for its
  symbol (a different number in each round): a result dim that comes out as the same symbol's
  number in both rounds is that symbol; any other unknown dim is a new symbol;
- strided_slice keeps the symbol of an axis it takes whole (masked begin or 0, masked end,
  stride 1);
- ``tgc.while`` runs to a fixed point: a loop variable's dim keeps its initial symbol while the
  body returns that symbol for it, and becomes the loop's own symbol otherwise; ``tgc.if`` gives a
  result the symbol both branches return for it;
- every other op gives each unknown result dim a new symbol (nothing is assumed about it).

It then writes, on each op where two operand dims share a symbol, the attribute
``tgc.dim_classes``: one array per operand, one entry per dim, equal non-negative entries for dims
proven equal (-1 for the others). A loop function used by several loops is analysed in each use and
only what holds in every one is written; a function that some other op names is left without
proofs. tgc-to-core reads the attribute for the op it lowers (``dim_classes_of``) and skips the
check between dims it proves equal; a mismatch between dims it does not (two fed placeholders with
their own batch dims) is still tested and still raises InvalidArgumentError. Nothing else changes:
the pass only adds the attribute.
"""

from __future__ import annotations

import dataclasses
import itertools

from mlir import ir

from tgc.dialect.attrs import spec_of_type
from tgc.dialect.builder import decode_attrs
from tgc.dialect.ir_helpers import all_ops, functions, opdef_of, operation_of
from tgc.dialect.loop_functions import LOOPS_MODULE, symbol_name
from tgc.dialect.registry import ShapeError
from tgc.dialect.types import TensorSpec
from tgc.passes.base import ModulePass

DIM_CLASSES = "tgc.dim_classes"

# The result has exactly this operand's shape (by the op's definition; its result rule returns
# that operand's shape).
SHAPED_LIKE_OPERAND = {
    "identity": 0,
    "stop_gradient": 0,
    "check_numerics": 0,
    "fill_like": 0,
    "random_uniform_like": 0,
    "random_uniform_sized": 0,  # the size source's dims, in the draw's own dtype
    "random_normal_sized": 0,
    "truncated_normal_sized": 0,
    "dropout": 0,
    "relax_shape": 0,  # only the static type forgets sizes; the values are x's
    "broadcast_like": 1,
    "reshape_like": 1,
    "unbroadcast_like": 1,
    "strided_slice_grad": 1,
    "tile_grad": 1,
    "gather_grad": 2,
}

# Ops whose result rule computes each result dim from the operands' dims by exact arithmetic (no
# clamping, nothing decided by operand values), so two evaluations tell which result dim is which
# operand dim. A dim the rule leaves unknown (decided by a value: zero_rows' count) stays unknown.
EXACT_OPS = frozenset(
    {
        # elementwise: numpy broadcasting
        *("add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "negative"),
        *("abs", "sign", "square", "sqrt", "rsqrt", "exp", "log", "floor", "ceil", "round"),
        *("relu", "sigmoid", "tanh", "sin", "cos", "tan", "atan", "sinh", "cosh", "log1p"),
        *("expm1", "erf", "cast", "select", "logical_and", "logical_or", "logical_not"),
        *("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"),
        # composites, shaped by their operands
        *("softmax", "log_softmax", "elu", "l2_loss", "softmax_cross_entropy_with_logits"),
        *("sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits"),
        # reductions, contractions, layout
        *("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"),
        *("argmax", "argmin", "dim_size", "matmul", "shape"),
        *("expand_dims", "squeeze", "reshape", "transpose", "concat", "split", "split_like"),
        *("slice", "tile", "one_hot", "gather", "read_row", "write_row", "zero_rows"),
        "head_rows",
        *("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"),
        *("max_pool", "max_pool_grad", "max_pool_grad_grad", "avg_pool", "avg_pool_grad"),
    }
)

# The numbers that stand for symbols in the two evaluations: far from any real size or attribute,
# spaced differently in each round, small enough that products of three stay within int64.
_ROUNDS = ((100_003, 2), (300_007, 6))


class Sym:
    """An unknown dim: two dims with the same Sym are the same run-time value."""

    _ids = itertools.count()

    def __init__(self):
        self.id = next(Sym._ids)

    def __repr__(self) -> str:
        return f"s{self.id}"


@dataclasses.dataclass(frozen=True)
class ShapeEqualityPass(ModulePass):
    """Proves unknown dims equal (same placeholder dim through shape-preserving ops, loops
    included) and marks them on each op (``tgc.dim_classes``), so that tgc-to-core emits no
    run-time broadcast check between them."""

    name = "tgc-shape-equality"

    def run(self, module: ir.Module) -> None:
        analysis = _Analysis(module)
        for function in functions(module):
            entry = function.regions[0].blocks[0]
            analysis.function(function, [_fresh_dims(a.type) for a in entry.arguments], True)
        analysis.annotate()


def dim_classes_of(operation) -> list | None:
    """The ``tgc.dim_classes`` the pass wrote on ``operation``: per operand, per dim, a class (equal
    classes: proven equal) or -1; None when it wrote none."""
    attrs = operation_of(operation).attributes
    if DIM_CLASSES not in attrs:
        return None
    return [list(ir.DenseI64ArrayAttr(a)) for a in ir.ArrayAttr(attrs[DIM_CLASSES])]


def _fresh_dims(type_) -> tuple:
    """A new symbol for each unknown dim of a ranked tensor type (none for any other type)."""
    return tuple(Sym() if d is None else d for d in _shape(type_))


def _shape(type_) -> tuple:
    """The static shape of a ranked tensor type (None for unknown dims); () for other types."""
    if not _is_ranked(type_):
        return ()
    ranked = ir.RankedTensorType(type_)
    return tuple(
        None if ranked.is_dynamic_dim(i) else ranked.get_dim_size(i) for i in range(ranked.rank)
    )


class _Analysis:
    def __init__(self, module: ir.Module):
        self.loop_functions = _loop_functions(module)
        self.unknown_uses = _named_by_other_ops(module, set(self.loop_functions))
        # op -> [per context: per operand a tuple of dim symbols]
        self.facts: dict = {}
        # (op, result index) -> a tuple of symbols made once, so that fixed points settle
        self.made: dict = {}

    def fresh(self, operation, index: int, type_) -> tuple:
        key = (operation, index)
        if key not in self.made:
            self.made[key] = _fresh_dims(type_)
        return self.made[key]

    # ---- the walk -------------------------------------------------------------------------------

    def function(self, function, arguments: list, record: bool) -> list:
        """Symbols of ``function``'s returned values for these of its arguments; with ``record``,
        each op's operand symbols are kept as one context of its facts."""
        entry = function.regions[0].blocks[0]
        dims = dict(zip(entry.arguments, arguments))
        returned = []
        for op in entry.operations:
            operation = op.operation
            operands = [self.dims_of(dims, v) for v in operation.operands]
            if operation.name == "func.return":
                returned = operands
                continue
            if record:
                self.facts.setdefault(operation, []).append(operands)
            for i, result in enumerate(self.results(operation, operands, record)):
                dims[operation.results[i]] = result
        return returned

    def dims_of(self, dims: dict, value) -> tuple:
        if value not in dims:  # a value this walk did not make (a non-tensor): assume nothing
            dims[value] = _fresh_dims(value.type)
        return dims[value]

    def results(self, operation, operands: list, record: bool) -> list:
        opdef = opdef_of(operation)
        name = opdef.name if opdef is not None else None
        types = [r.type for r in operation.results]
        if name == "while":
            return self.loop(operation, operands, record)
        if name == "if":
            return self.conditional(operation, operands, record)
        if name in SHAPED_LIKE_OPERAND:
            like = operands[SHAPED_LIKE_OPERAND[name]]
            return (
                [_keep_static(like, types[0])]
                if _same_rank(like, types[0])
                else self.new(operation, types)
            )
        if name == "strided_slice":
            (made,) = self.new(operation, types)
            return [_strided_slice(operands[0], decode_attrs(operation, opdef), made)]
        if name in EXACT_OPS:
            found = _evaluate(opdef, operation, operands, types)
            if found is not None:
                made = self.new(operation, types)
                return [
                    tuple(d if d is not None else m[j] for j, d in enumerate(dims))
                    for dims, m in zip(found, made)
                ]
        return self.new(operation, types)

    def new(self, operation, types: list) -> list:
        return [self.fresh(operation, i, t) for i, t in enumerate(types)]

    def loop(self, operation, operands: list, record: bool) -> list:
        attrs = decode_attrs(operation, opdef_of(operation))
        count = attrs["num_vars"]
        cond = self.loop_functions.get(attrs["cond"])
        body = self.loop_functions.get(attrs["body"])
        carried, captured = list(operands[:count]), operands[count:]
        own = self.new(operation, [r.type for r in operation.results])
        if cond is None or body is None:
            return own
        # Each round replaces a dim the body changes by the loop's own symbol, so at most one round
        # per dim: then the body returns what it was given, and that holds in every iteration.
        for _ in range(sum(len(d) for d in carried) + 1):
            nexts = self.function(body, carried + captured, False)
            if len(nexts) != len(carried):
                carried = own
                break
            merged = [_merge(c, n, o) for c, n, o in zip(carried, nexts, own)]
            if merged == carried:
                break
            carried = merged
        else:
            carried = own  # assumes nothing of the loop variables (not reached: see above)
        # The body and cond are recorded in every use: a use left out would make their proofs
        # claim more than holds there.
        if record:
            self.function(cond, carried + captured, True)
            self.function(body, carried + captured, True)
        return carried

    def conditional(self, operation, operands: list, record: bool) -> list:
        attrs = decode_attrs(operation, opdef_of(operation))
        branches = [self.loop_functions.get(attrs[k]) for k in ("then_branch", "else_branch")]
        own = self.new(operation, [r.type for r in operation.results])
        if any(b is None for b in branches):
            return own
        inputs = operands[1:]
        then, other = (self.function(b, inputs, record) for b in branches)
        return [_merge(a, b, o) for a, b, o in zip(then, other, own)]

    # ---- the attribute --------------------------------------------------------------------------

    def annotate(self) -> None:
        excluded = self.unknown_uses
        for operation, contexts in self.facts.items():
            function = operation.parent
            if function is not None and symbol_name(function) in excluded:
                continue
            classes = _classes(contexts)
            if classes is not None:
                operation.attributes[DIM_CLASSES] = ir.ArrayAttr.get(
                    [ir.DenseI64ArrayAttr.get(c) for c in classes]
                )


def _classes(contexts: list) -> list | None:
    """Per operand, per dim: a class shared by the dims whose symbols are equal in every context;
    None when no two dims share one."""
    keys = [
        [tuple(ctx[k][j] for ctx in contexts) for j in range(len(contexts[0][k]))]
        for k in range(len(contexts[0]))
    ]
    counts: dict = {}
    for key in itertools.chain.from_iterable(keys):
        if all(isinstance(s, Sym) for s in key):
            counts[key] = counts.get(key, 0) + 1
    shared = [key for key, n in counts.items() if n > 1]
    if not shared:
        return None
    number = {key: i for i, key in enumerate(shared)}
    return [[number.get(key, -1) for key in operand] for operand in keys]


def _merge(a: tuple, b: tuple, own: tuple) -> tuple:
    """Per dim: the symbol when ``a`` and ``b`` agree, else ``own``'s."""
    if len(a) != len(b) or len(a) != len(own):
        return own
    return tuple(x if x is y or x == y else o for x, y, o in zip(a, b, own))


def _keep_static(dims: tuple, type_) -> tuple:
    """``dims`` where ``type_`` has unknown dims, its static sizes where it has them."""
    return tuple(d if s is None else s for d, s in zip(dims, _shape(type_)))


def _same_rank(dims: tuple, type_) -> bool:
    return _is_ranked(type_) and len(dims) == len(_shape(type_))


def _is_ranked(type_) -> bool:
    try:
        ir.RankedTensorType(type_)
    except ValueError:
        return False
    return True


def _strided_slice(x: tuple, attrs: dict, made: tuple) -> tuple:
    """An axis taken whole (from its start or 0, to its end, stride 1) keeps x's symbol; the
    others keep ``made``'s (the result's static size or its own symbol)."""
    if len(made) != len(x):
        return made
    out = []
    for i, (d, own) in enumerate(zip(x, made)):
        whole = (
            attrs["strides"][i] == 1
            and (attrs["begin_mask"] >> i & 1 or attrs["begin"][i] == 0)
            and attrs["end_mask"] >> i & 1
        )
        out.append(d if whole and isinstance(own, Sym) else own)
    return tuple(out)


def _evaluate(opdef, operation, operands: list, types: list) -> list | None:
    """The result rule run on numbers standing for the symbols: per result, per dim, the operand's
    symbol it equals in both rounds, the static size, or None (unknown); None when the rule
    refuses the numbers or disagrees with the result types."""
    symbols = list(dict.fromkeys(s for dims in operands for s in dims if isinstance(s, Sym)))
    try:
        attrs = decode_attrs(operation, opdef)
        rounds = []
        for base, step in _ROUNDS:
            number = {s: base + step * i for i, s in enumerate(symbols)}
            specs = [
                TensorSpec(tuple(number.get(d, d) for d in dims), spec_of_type(v.type).dtype)
                for dims, v in zip(operands, operation.operands)
            ]
            rounds.append((number, opdef.result_specs(specs, attrs)))
    except (ShapeError, TypeError, ValueError, KeyError, IndexError, ZeroDivisionError):
        return None
    (first, out_a), (second, out_b) = rounds
    if len(out_a) != len(types) or len(out_b) != len(types):
        return None
    by_pair = {(first[s], second[s]): s for s in symbols}
    found = []
    for a, b, type_ in zip(out_a, out_b, types):
        shape = _shape(type_)
        if len(a.shape) != len(shape) or len(b.shape) != len(shape):
            return None
        found.append(
            tuple(
                size if size is not None else by_pair.get((x, y))
                for x, y, size in zip(a.shape, b.shape, shape)
            )
        )
    return found


def _loop_functions(module: ir.Module) -> dict:
    """name -> func.func of the nested @tgc.loops module (empty when there is none)."""
    for op in module.body.operations:
        if op.operation.name == "builtin.module" and symbol_name(op.operation) == LOOPS_MODULE:
            return {
                symbol_name(f.operation): f.operation
                for f in op.regions[0].blocks[0].operations
                if f.operation.name == "func.func"
            }
    return {}


_NAMING_ATTRS = {"while": ("cond", "body"), "if": ("then_branch", "else_branch")}


def _named_by_other_ops(module: ir.Module, names: set) -> set:
    """Loop functions that an op other than a while or an if (by its own attributes) names, and
    the functions those reach: the pass does not see those uses, so it proves nothing inside
    them."""
    unseen, reaches = set(), {}
    for operation in all_ops(module):
        opdef = opdef_of(operation)
        handled = _NAMING_ATTRS.get(opdef.name if opdef is not None else None, ())
        parent = operation.parent
        caller = symbol_name(parent) if parent is not None else None
        for key in operation.attributes:
            try:
                value = ir.StringAttr(operation.attributes[key]).value
            except ValueError:
                continue
            if value not in names:
                continue
            if key in handled:
                reaches.setdefault(caller, set()).add(value)
            else:
                unseen.add(value)
    pending = list(unseen)
    while pending:
        for name in reaches.get(pending.pop(), ()):
            if name not in unseen:
                unseen.add(name)
                pending.append(name)
    return unseen
