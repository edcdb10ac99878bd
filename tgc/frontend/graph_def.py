"""Graphs as TensorFlow ``GraphDef`` protos, for TensorBoard's graph view.

Sits beside the pipeline, not in it: ``FileWriter(logdir, sess.graph)`` turns the frontend Graph
into a GraphDef (``graph_def``), and ``tgc graph --format tensorboard`` does the same for the tgc
ops of a module after any compiler stage (it builds ``Node``s and calls ``nodes_to_graph_def``).
Nodes carry their scoped names (``scores/MatMul``), so TensorBoard folds name scopes; TF op types;
data inputs (``op:1``) and control inputs (``^op``); devices; and ``_output_shapes``, which
TensorBoard prints on edges. A variable appears as one ``VariableV2`` node that its reads and
assigns take as first input, as in TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype

# tensorflow/core/framework/types.proto
DATA_TYPES = {
    "float32": 1,
    "float64": 2,
    "int32": 3,
    "string": 7,
    "int64": 9,
    "bool": 10,
    "bfloat16": 14,
    "float16": 19,
}
GRAPH_PRODUCER_VERSION = 27  # the GraphDef version TF 1.15 writes


@dataclass
class Node:
    """One GraphDef node before serialization: ``attrs`` maps a name to (registry attr kind,
    value)."""

    name: str
    op: str
    inputs: list = field(default_factory=list)  # "producer", "producer:1" or "^producer"
    device: str = ""
    outputs: list = field(default_factory=list)  # TensorSpecs; shape None = unknown rank
    attrs: dict = field(default_factory=dict)


def tensor_ref(op_name: str, index: int) -> str:
    """TensorFlow's input spelling: output 0 is the bare op name."""
    return op_name if index == 0 else f"{op_name}:{index}"


def shape_proto(shape):
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    if shape is None:
        return TensorShapeProto(unknown_rank=True)
    return TensorShapeProto(
        dim=[TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in shape]
    )


def attr_value(kind: str, value):
    """An AttrValue for a registry attribute of ``kind`` (see tgc/dialect/registry.py
    ATTR_KINDS)."""
    from tensorboard.compat.proto.attr_value_pb2 import AttrValue
    from tensorboard.util import tensor_util

    if kind == "bool":
        return AttrValue(b=bool(value))
    if kind == "int":
        return AttrValue(i=int(value))
    if kind == "float":
        return AttrValue(f=float(value))
    if kind in ("str", "symbol"):
        return AttrValue(s=str(value).encode())
    if kind == "dtype":
        return AttrValue(type=DATA_TYPES[as_dtype(value).name])
    if kind == "ints":
        return AttrValue(list=AttrValue.ListValue(i=[int(v) for v in value]))
    if kind == "floats":
        return AttrValue(list=AttrValue.ListValue(f=[float(v) for v in value]))
    if kind == "shape":
        return AttrValue(shape=shape_proto(value))
    if kind == "tensor":
        array = np.asarray(value)
        if array.dtype.name not in DATA_TYPES:  # bfloat16 and friends: show the values as float32
            array = array.astype(np.float32)
        return AttrValue(tensor=tensor_util.make_tensor_proto(array))
    raise ValueError(f"cannot write attribute kind '{kind}' into a GraphDef")


def node_def(node: Node):
    from tensorboard.compat.proto.attr_value_pb2 import AttrValue
    from tensorboard.compat.proto.node_def_pb2 import NodeDef

    proto = NodeDef(name=node.name, op=node.op, input=list(node.inputs), device=node.device)
    for key, (kind, value) in node.attrs.items():
        if value is not None:
            proto.attr[key].CopyFrom(attr_value(kind, value))
    if node.outputs:
        shapes = [shape_proto(s.shape) for s in node.outputs]
        proto.attr["_output_shapes"].CopyFrom(AttrValue(list=AttrValue.ListValue(shape=shapes)))
    return proto


def nodes_to_graph_def(nodes):
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.compat.proto.versions_pb2 import VersionDef

    return GraphDef(
        node=[node_def(n) for n in nodes], versions=VersionDef(producer=GRAPH_PRODUCER_VERSION)
    )


# ---- the frontend Graph --------------------------------------------------------------------------


def _attr_kinds(operation) -> dict:
    from tgc.dialect.registry import REGISTRY

    if operation.opdef is not None:
        return {k: a.kind for k, a in REGISTRY[operation.opdef].attrs.items()}
    if operation.type == "Placeholder":
        return {"dtype": "dtype", "shape": "shape"}
    return {}  # host ops keep their attrs to themselves


def _node_of(operation) -> Node:
    kinds = _attr_kinds(operation)
    attrs = {k: (kinds[k], v) for k, v in operation.attrs.items() if k in kinds}
    inputs = [tensor_ref(t.op.name, t.value_index) for t in operation.inputs]
    inputs += ["^" + c.name for c in operation.control_inputs]
    return Node(
        operation.name,
        operation.type,
        inputs,
        operation.device,
        [t.spec for t in operation.outputs],
        attrs,
    )


def graph_nodes(graph) -> list:
    """The Graph's ops as Nodes, with each variable drawn as TensorFlow draws it."""
    nodes, variable_nodes = [], {}
    for operation in graph.get_operations():
        node = _node_of(operation)
        variable = operation.variable
        if variable is not None and operation.name == variable._name:
            node.op, node.inputs = (
                "VariableV2",
                [],
            )  # the variable's one shared read is the variable
            variable_nodes[variable._name] = node
        elif variable is not None:
            node.inputs.insert(0, variable._name)
        nodes.append(node)
    for (
        operation
    ) in graph.get_operations():  # a variable whose named read is gone still needs a node
        variable = operation.variable
        if variable is not None and variable._name not in variable_nodes:
            spec = TensorSpec(variable._spec.shape, variable._spec.dtype)
            variable_nodes[variable._name] = Node(
                variable._name, "VariableV2", [], operation.device, [spec]
            )
            nodes.append(variable_nodes[variable._name])
    return nodes


def graph_def(graph):
    """The frontend Graph as a GraphDef proto (what ``FileWriter.add_graph`` writes)."""
    return nodes_to_graph_def(graph_nodes(graph))


def _install_graph_methods() -> None:
    """``Graph.as_graph_def()`` and ``Operation.node_def``, as TF's (set here, as math_ops sets the
    Tensor operators: tgc/graph does not import the frontend)."""
    from tgc.graph.graph import Graph, Operation

    def as_graph_def(self, from_version=None, add_shapes=False):
        """The graph as a GraphDef proto (``tf.import_graph_def`` reads it back)."""
        return graph_def(self)

    def node_def(self):
        """The op as a NodeDef proto (its TF type, inputs, device and attributes)."""
        return globals()["node_def"](_node_of(self))

    if not hasattr(Graph, "as_graph_def"):
        Graph.as_graph_def = as_graph_def
    if not hasattr(Operation, "node_def"):
        Operation.node_def = property(node_def)


_install_graph_methods()

__all__ = [
    "Node",
    "DATA_TYPES",
    "tensor_ref",
    "shape_proto",
    "attr_value",
    "node_def",
    "nodes_to_graph_def",
    "graph_nodes",
    "graph_def",
]
