"""`tf.train.export_meta_graph` and `tf.train.import_meta_graph`: a graph, its variables and its
collections in TensorFlow's ``MetaGraphDef`` proto, rebuilt without the program that built it.

The file is TF's MetaGraphDef (the proto classes ship with tensorboard, as for GraphDefs): its
``graph_def`` is the graph as ``Graph.as_graph_def()`` writes it (a variable is a ``VariableV2``
node, its initializer the ``<var>/Assign`` node taking the initial value); ``collection_def`` holds
the collections: variables as ``VariableDef`` protos, tensors and ops by name (``node_list``),
numbers and strings as lists; ``saver_def`` the Saver's settings. tgc's saver has no save/restore
ops in the graph, so a tgc file's SaverDef names none, and its graph holds tgc's own op types (such
as ``SymbolicGradient``): TensorFlow need not read it. tgc reads its own files and TF 1.x/2.x
compat.v1 ones.

Importing rebuilds each node as ``tf.import_graph_def`` does (tgc/frontend/import_graph_def.py),
each variable as a ``tf.Variable`` whose initial value is its initializer's input, and each
assignment to a variable as that variable's ``assign``/``assign_add``/``assign_sub``. A node tgc
cannot rebuild (TF's optimizer kernels such as ``ApplyGradientDescent``, TF's gradient helpers) is
left out with everything that reads it, so the inference part of a training graph still imports;
``get_tensor_by_name`` / ``get_operation_by_name`` of a node left out raise an error that names it,
its type and why. The nodes of TF's own Saver (the ``save/`` scope of the SaverDef) are left out:
the returned ``tf.train.Saver`` restores the variables instead.
"""

from __future__ import annotations

import os
import warnings

from tgc.frontend import graph_def as _graph_def
from tgc.frontend import import_graph_def as _importer
from tgc.frontend.variables import GLOBAL_VARIABLES, TRAINABLE_VARIABLES, Variable
from tgc.graph.graph import Graph, Operation, Tensor, get_default_graph

try:  # tf.MetaGraphDef: tensorboard's proto class (an optional dependency, as for GraphDef)
    from tensorboard.compat.proto.meta_graph_pb2 import MetaGraphDef
except ImportError:  # the functions below say what to install when called
    MetaGraphDef = None

# Collections whose items are variables (TF writes them as VariableDef protos).
_VARIABLE_COLLECTIONS = {
    GLOBAL_VARIABLES,
    TRAINABLE_VARIABLES,
    "local_variables",
    "model_variables",
    "moving_average_variables",
}
_VARIABLE_TYPES = {"VariableV2", "Variable"}
_UPDATE_METHODS = {"Assign": "assign", "AssignAdd": "assign_add", "AssignSub": "assign_sub"}


def _require_protos(what):
    if MetaGraphDef is None:
        raise ImportError(
            f"tf.train.{what} needs TensorFlow's MetaGraphDef proto, which ships with the "
            "tensorboard package: pip install tensorboard"
        )


# ---- export --------------------------------------------------------------------------------------


def export_meta_graph(
    filename=None,
    meta_info_def=None,
    graph_def=None,
    saver_def=None,
    collection_list=None,
    as_text=False,
    graph=None,
    export_scope=None,
    clear_devices=False,
    **_ignored,
):
    """The graph (default: the default graph) as a MetaGraphDef, written to ``filename`` when given
    (binary, or text format with ``as_text``)."""
    _require_protos("export_meta_graph")
    graph = graph or get_default_graph()
    meta = MetaGraphDef()
    meta.meta_info_def.tensorflow_version = "tgc"
    meta.meta_info_def.stripped_default_attrs = False
    meta.graph_def.CopyFrom(graph_def if graph_def is not None else _graph_def.graph_def(graph))
    if clear_devices:
        for node in meta.graph_def.node:
            node.device = ""
    if saver_def is not None:
        meta.saver_def.CopyFrom(saver_def)
    keys = list(graph._collections) if collection_list is None else collection_list
    for key in keys:
        _write_collection(meta, key, graph.get_collection(key))
    if filename is not None:
        _write_file(os.fspath(filename), meta, as_text)
    return meta


def _write_file(path, meta, as_text):
    from google.protobuf import text_format

    from tgc.runtime import checkpoint

    if as_text:
        checkpoint.write_atomically(
            path, lambda h: h.write(text_format.MessageToString(meta)), text=True
        )
    else:
        checkpoint.write_atomically(path, lambda h: h.write(meta.SerializeToString()))


def _write_collection(meta, key, items):
    """One collection as TF writes it; items of a kind a proto cannot hold are skipped with a
    warning, as TF does."""
    collection = meta.collection_def[key]
    for item in items:
        if isinstance(item, Variable):
            collection.bytes_list.value.append(_variable_def(item).SerializeToString())
        elif isinstance(item, (Tensor, Operation)):
            collection.node_list.value.append(item.name)
        elif isinstance(item, bool) or not isinstance(item, (int, float, str, bytes)):
            warnings.warn(
                f"export_meta_graph: collection '{key}' holds {type(item).__name__} items, which "
                "a MetaGraphDef cannot hold; the collection is not written",
                stacklevel=3,
            )
            del meta.collection_def[key]
            return
        elif isinstance(item, int):
            collection.int64_list.value.append(item)
        elif isinstance(item, float):
            collection.float_list.value.append(item)
        else:
            collection.bytes_list.value.append(item.encode() if isinstance(item, str) else item)


def _variable_def(variable):
    from tensorboard.compat.proto.variable_pb2 import VariableDef

    return VariableDef(
        variable_name=variable.name,
        initial_value_name=variable.initial_value.name,
        initializer_name=variable.initializer.name,
        snapshot_name=variable.name,
        trainable=bool(variable.trainable),
    )


def saver_def(max_to_keep, keep_checkpoint_every_n_hours):
    """The SaverDef of a tgc Saver: its settings; no op names (it restores with Session.run)."""
    from tensorboard.compat.proto.saver_pb2 import SaverDef

    return SaverDef(
        max_to_keep=int(max_to_keep or 0),
        keep_checkpoint_every_n_hours=float(keep_checkpoint_every_n_hours),
        version=SaverDef.V2,
    )


# ---- import --------------------------------------------------------------------------------------


def import_meta_graph_nodes(meta_graph_or_file, clear_devices=False, import_scope=None):
    """Rebuilds a MetaGraphDef (a proto or a ``.meta`` file) in the default graph; returns
    (checkpoint key -> imported Variable, the SaverDef's max_to_keep);
    ``tf.train.import_meta_graph`` (tgc/frontend/saver.py) makes the Saver of them. Nodes'
    devices are not applied (as in ``tf.import_graph_def``), so ``clear_devices`` changes
    nothing."""
    _require_protos("import_meta_graph")
    meta = read_meta_graph_file(meta_graph_or_file)
    graph = get_default_graph()
    scope = f"{import_scope}/" if import_scope else ""
    variable_defs = _variable_defs(meta)
    importer = _MetaGraphImporter(meta, graph, scope, variable_defs)
    importer.run()
    left_out_items = _restore_collections(meta, graph, scope, importer.variables)
    if importer.not_imported:
        _report_not_imported(graph, importer, left_out_items)
    max_to_keep = meta.saver_def.max_to_keep if meta.HasField("saver_def") else 5
    return dict(importer.variables), max_to_keep


def read_meta_graph_file(meta_graph_or_file):
    """A MetaGraphDef from a proto, or a file in binary or text format."""
    from google.protobuf import text_format

    _require_protos("read_meta_graph_file")
    if isinstance(meta_graph_or_file, MetaGraphDef):
        return meta_graph_or_file
    path = os.fspath(meta_graph_or_file)
    if not os.path.exists(path):
        raise OSError(f"File {path} does not exist.")
    with open(path, "rb") as handle:
        data = handle.read()
    meta = MetaGraphDef()
    try:
        meta.ParseFromString(data)
        return meta
    except Exception:  # noqa: BLE001 - not binary: try the text format
        pass
    try:
        return text_format.Parse(data.decode("utf-8"), MetaGraphDef())
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{path} is not a MetaGraphDef (binary or text): {exc}") from None


def _variable_defs(meta) -> dict:
    """Variable node name -> VariableDef, from the variable collections."""
    from tensorboard.compat.proto.variable_pb2 import VariableDef

    defs = {}
    for key in _VARIABLE_COLLECTIONS & set(meta.collection_def):
        for data in meta.collection_def[key].bytes_list.value:
            proto = VariableDef()
            proto.ParseFromString(data)
            defs.setdefault(proto.variable_name.split(":")[0], proto)
    return defs


class _MetaGraphImporter:
    """Rebuilds the nodes of one MetaGraphDef, variables first as their initializers need."""

    def __init__(self, meta, graph, scope, variable_defs):
        self.graph, self.scope, self.variable_defs = graph, scope, variable_defs
        self.nodes = {n.name: n for n in meta.graph_def.node}
        self.saver_scope = _saver_scope(meta)
        self.initializers = self._initializers()  # initializer node name -> variable node name
        self.built: dict = {}
        self.variables: dict = {}  # variable node name (unscoped) -> Variable
        self.not_imported: dict = {}  # scoped node name -> (op type, reason)
        self.roots: dict = {}  # scoped node name left out -> the first one left out on its path
        self.uninitializable: list = []  # variables imported without their initial value

    def _initializers(self) -> dict:
        found = {}
        for name, node in self.nodes.items():
            if node.op not in _VARIABLE_TYPES:
                continue
            proto = self.variable_defs.get(name)
            init = proto.initializer_name if proto is not None else f"{name}/Assign"
            if init in self.nodes and self.nodes[init].op == "Assign":
                found[init] = name
        return found

    def _ordered_nodes(self):
        """The nodes in an order where producers come first; a variable depends on its
        initial value, and its initializer on the variable."""
        from tensorboard.compat.proto.node_def_pb2 import NodeDef

        by_variable = {v: i for i, v in self.initializers.items()}
        copies = {}
        for name, node in self.nodes.items():
            copy = NodeDef()
            copy.CopyFrom(node)
            if name in by_variable:
                del copy.input[:]
                copy.input.append(self.nodes[by_variable[name]].input[1])
            copies[name] = copy
        return _importer._topological(list(copies.values()), copies)

    def run(self):
        with self.graph.name_scope(self.scope or None):
            reserved = set(self.nodes) - set(self.initializers) - set(self.initializers.values())
            _importer._reserve_names(self.graph, [self.scope + n for n in reserved])
            for node in self._ordered_nodes():
                self._import(node)  # a variable's copy reads its initial value

    def _import(self, node):
        name = node.name
        if self.saver_scope and name.startswith(self.saver_scope):
            return  # TF's Saver ops: the returned Saver restores instead
        if name in self.initializers and self.initializers[name] in self.variables:
            self.built[name] = self.variables[self.initializers[name]].initializer
            return  # made with its variable
        missing = [r for r in node.input if r.lstrip("^").split(":")[0] not in self.built]
        if missing and node.op in _VARIABLE_TYPES:
            self.built[name] = self._variable(node, None)  # restorable, not initializable
            return
        if missing:
            return self._leave_out_reader(node, missing[0].lstrip("^").split(":")[0])
        inputs, controls = [], []
        for ref in node.input:
            if ref.startswith("^"):
                controls.append(_importer._op_of(self.built[ref[1:]]))
            else:
                key = _importer._tensor_key(ref)
                inputs.append(_importer._output(self.built, key, f"node '{name}'"))
        try:
            with self.graph.control_dependencies(controls):
                self.built[name] = self._build(node, inputs)
        except (ValueError, TypeError, KeyError) as exc:
            self._leave_out(node, str(exc))

    def _leave_out_reader(self, node, producer):
        """Leaves out a node that reads one left out, naming the first node on that path that
        tgc could not rebuild (its root)."""
        scoped = self.scope + producer
        if self.saver_scope and producer.startswith(self.saver_scope):
            saver_op = "an op of TensorFlow's Saver (the returned Saver restores)"
            return self._leave_out(node, f"it reads '{scoped}', {saver_op}")
        root = self.roots[scoped]
        root_type, root_reason = self.not_imported[root]
        where = "" if root == scoped else f" (which reads '{root}')"
        reason = (
            f"it reads '{scoped}'{where}, which was not imported: tgc cannot rebuild '{root}' "
            f"({root_type}): {root_reason}"
        )
        self._leave_out(node, reason, root)

    def _leave_out(self, node, reason, root=None):
        scoped = self.scope + node.name
        self.not_imported[scoped] = (node.op, reason)
        self.roots[scoped] = root or scoped

    def _build(self, node, inputs):
        name = f"{self.scope}{node.name}/"
        if node.op in _VARIABLE_TYPES:
            return self._variable(node, inputs)
        target = self._variable_input(node)
        if target is not None and node.op in _UPDATE_METHODS:
            method = _UPDATE_METHODS[node.op]
            use_locking = bool(_importer._attrs(node).get("use_locking", False))
            return target._update(method, inputs[1], name, node.op, use_locking).op
        if target is not None and node.op == "Identity" and "var" in node.attr:
            return target._read(name=name).op  # a tgc read of the variable
        return _importer._build(node, inputs, name)

    def _variable_input(self, node):
        if not node.input:
            return None
        return self.variables.get(node.input[0].split(":")[0])

    def _variable(self, node, inputs):
        """The variable, its initial value its initializer's input; when that did not import (or
        there is no initializer) a placeholder of the variable's shape named
        ``<var>/initial_value_not_imported`` stands in, so the variable is restored from a
        checkpoint, and running its initializer asks for that placeholder by name."""
        proto = self.variable_defs.get(node.name)
        trainable = proto.trainable if proto is not None else True
        if inputs:
            initial_value = inputs[0]
        else:
            initial_value = self._missing_initial_value(node)
        variable = Variable(initial_value, trainable=trainable, name=f"{self.scope}{node.name}/")
        self.variables[node.name] = variable
        return variable.op

    def _missing_initial_value(self, node):
        from tgc.frontend.build import placeholder

        attrs = _importer._attrs(node)
        shape = attrs.get("shape")
        if shape is None or None in shape:
            raise ValueError(
                f"variable '{node.name}' has no initial value tgc can import and no fully known "
                "shape to stand one in"
            )
        name = f"{self.scope}{node.name}/initial_value_not_imported/"
        self.uninitializable.append(self.scope + node.name)
        return placeholder(attrs["dtype"], shape, name=name)


def _saver_scope(meta) -> str:
    """The name scope of TF's Saver ops (``save/``), from the SaverDef; "" when it names none."""
    if not meta.HasField("saver_def") or not meta.saver_def.restore_op_name:
        return ""
    return meta.saver_def.restore_op_name.rsplit("/", 1)[0] + "/"


def _restore_collections(meta, graph, scope, variables):
    """The collections of the meta graph, in their order; the variables' own collection entries
    (made when they were created) are replaced by the meta graph's. Returns the collection items
    left out of the import, as (collection, name)."""
    by_name = {f"{scope}{name}:0": v for name, v in variables.items()}
    created = set(map(id, variables.values()))
    for key in (GLOBAL_VARIABLES, TRAINABLE_VARIABLES):
        ref = graph.get_collection_ref(key)
        ref[:] = [item for item in ref if id(item) not in created]
    left_out = []
    for key, collection in meta.collection_def.items():
        items = _collection_items(key, collection, graph, scope, by_name, left_out)
        ref = graph.get_collection_ref(key)
        ref.extend(item for item in items if not any(item is kept for kept in ref))
    return left_out


def _collection_items(key, collection, graph, scope, variables_by_name, left_out) -> list:
    kind = collection.WhichOneof("kind")
    if kind == "node_list":
        items = []
        for name in collection.node_list.value:
            full = scope + name
            lookup = graph.get_tensor_by_name if ":" in full else graph.get_operation_by_name
            try:
                items.append(lookup(full))
            except KeyError:
                left_out.append((key, full))  # reported, and named again when fetched
        return items
    if kind == "bytes_list" and key in _VARIABLE_COLLECTIONS:
        from tensorboard.compat.proto.variable_pb2 import VariableDef

        items = []
        for data in collection.bytes_list.value:
            proto = VariableDef()
            proto.ParseFromString(data)
            variable = variables_by_name.get(scope + proto.variable_name)
            if variable is not None:
                items.append(variable)
        return items
    if kind == "bytes_list":
        return [b.decode("utf-8", "replace") for b in collection.bytes_list.value]
    if kind == "int64_list":
        return list(collection.int64_list.value)
    if kind == "float_list":
        return list(collection.float_list.value)
    return []  # any_list: TF's own Python objects (queue runners, ...), which tgc cannot rebuild


def _report_not_imported(graph, importer, left_out_items):
    """Records the nodes left out on the graph (for lookups by name) and warns once."""
    not_imported = importer.not_imported
    graph._not_imported = {**getattr(graph, "_not_imported", {}), **not_imported}
    roots = [n for n, root in importer.roots.items() if n == root]
    shown = ", ".join(f"'{n}' ({not_imported[n][0]})" for n in roots[:5])
    more = f" and {len(roots) - 5} more" if len(roots) > 5 else ""
    unique_items = dict.fromkeys(left_out_items)  # TF's minimize adds its op to train_op too
    items = "".join(f"; collection '{key}' loses '{name}'" for key, name in unique_items)
    if importer.uninitializable:
        names = ", ".join(f"'{n}'" for n in importer.uninitializable)
        items += f"; variables {names} have no initial value (restore them from a checkpoint)"
    warnings.warn(
        f"import_meta_graph: {len(not_imported)} node(s) not imported, as tgc cannot rebuild "
        f"{shown}{more} or they read such nodes{items}; the rest of the graph is imported",
        stacklevel=4,
    )


def _install_lookup_of_left_out_nodes() -> None:
    """``get_operation_by_name`` (and so ``get_tensor_by_name``) of a node the import left out
    names the node, its type and why, rather than saying the graph has no such op."""
    plain = Graph.get_operation_by_name
    if getattr(plain, "_meta_graph_aware", False):
        return

    def get_operation_by_name(self, name):
        left_out = getattr(self, "_not_imported", {})
        if name in left_out and name not in self._by_name:
            op_type, reason = left_out[name]
            raise KeyError(
                f"node '{name}' (op type '{op_type}') was not imported from the meta graph: "
                f"{reason}"
            )
        return plain(self, name)

    get_operation_by_name._meta_graph_aware = True
    get_operation_by_name.__doc__ = plain.__doc__
    Graph.get_operation_by_name = get_operation_by_name


_install_lookup_of_left_out_nodes()


__all__ = [
    "MetaGraphDef",
    "export_meta_graph",
    "import_meta_graph_nodes",
    "read_meta_graph_file",
    "saver_def",
]
