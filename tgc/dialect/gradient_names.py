"""TensorFlow's names for the ops of a gradient, as locations tgc-autodiff gives the ops it builds.

TF's gradients_util names the backward ops of forward op ``dense/MatMul`` under the name scope of
the ``tf.gradients`` call (``gradients``, ``gradients_1``, ...): ``gradients/dense/MatMul_grad/
MatMul``, ``gradients/dense/MatMul_grad/MatMul_1``; sums of a value's fan-out are
``gradients/AddN``. tgc keeps an op's TF name in its location (``loc("name"("file.py":12:0))``),
which run-time errors, traced step stats and the graph tools read, so the backward ops get these
names over the file location of the gradient's request (the line of the ``tf.gradients`` or
``minimize`` call, where TF's "defined at" points too).
"""

from __future__ import annotations

from mlir import ir


def location_name(location: ir.Location) -> str | None:
    """The TF name of a name location (``loc("scope/Name"(...))``), or None."""
    return location.name_str if location.is_a_name() else None


def names_in(module_op) -> set:
    """Every TF name the ops of ``module_op`` (nested modules and functions included) carry."""
    taken: set = set()

    def visit(op):
        name = location_name(op.location)
        if name is not None:
            taken.add(name)
        return ir.WalkResult.ADVANCE

    module_op.walk(visit)
    return taken


class GradientNames:
    """The names of one gradient scope's ops: unique among ``taken`` (every name in the module,
    shared by the scopes of one pass), TF's ``_1``, ``_2`` suffixes for repeats."""

    def __init__(self, scope: str, where: ir.Location, taken: set):
        self.scope, self.where, self.taken = scope, where, taken

    def unique(self, name: str) -> str:
        found, count = name, 0
        while found in self.taken:
            count += 1
            found = f"{name}_{count}"
        self.taken.add(found)
        return found

    def location(self, name: str) -> ir.Location:
        """A new name ``<scope>/<name>`` (made unique) over the request's file location."""
        unique = self.unique(f"{self.scope}/{name}")
        if self.where is None:
            return ir.Location.name(unique)
        return ir.Location.name(unique, childLoc=self.where)

    def of_op(self, forward_name: str) -> "OpNamer":
        """Names for the backward ops of forward op ``forward_name``: ``<fwd>_grad/<Type>``."""
        return OpNamer(self, f"{forward_name}_grad/")

    def top(self, kind: str | None = None) -> "OpNamer":
        """Names directly under the scope (``gradients/AddN``); every op gets ``kind`` if given."""
        return OpNamer(self, "", kind)


class OpNamer:
    """An ``IRBuilder.namer``: the location of each op the builder creates, ``<prefix><Type>``,
    ``Type`` the op's TF type (or a fixed ``kind``)."""

    def __init__(self, names: GradientNames, prefix: str, kind: str | None = None):
        self.names, self.prefix, self.kind = names, prefix, kind

    def __call__(self, tf_type: str) -> ir.Location:
        return self.names.location(self.prefix + (self.kind or tf_type))

    def under(self, part: str) -> "OpNamer":
        """Names one level further down: ``<prefix><part>/<Type>``."""
        return OpNamer(self.names, f"{self.prefix}{part}/")

    def renamed(self, location: ir.Location) -> ir.Location:
        """``location`` (a copied forward op's) renamed ``<scope>/<prefix><its name>``: a rerun of
        forward ops for the gradient, told apart from the forward run's. Left as it is when it has
        no name."""
        name = location_name(location)
        if name is None:
            return location
        unique = self.names.unique(f"{self.names.scope}/{self.prefix}{name}")
        return ir.Location.name(unique, childLoc=location.child_loc)
