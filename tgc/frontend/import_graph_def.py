"""`tf.import_graph_def` and `tf.GraphDef`: a GraphDef's nodes rebuilt as ops of the default graph.

A GraphDef written by tgc (tgc/frontend/graph_def.py) carries each op's TF type and the registry's
own attributes, so a node whose type, input count and attributes fit one registry op is rebuilt
as that op. A GraphDef written by TensorFlow spells some ops differently (a reduction's axes, a
reshape's shape, a concat's axis are inputs; a cast's type is ``DstT``): those op types have a rule
below that calls the frontend function TF's Python API would have called. Either way every node
keeps its name under the import prefix (``import/`` by default), so ``return_elements`` and
``get_tensor_by_name`` find ``import/logits:0``.

Variables are not imported (their state lives in a session, their initializers elsewhere): a
VariableV2 node is refused with its name, as is every op type tgc does not know.
"""

from __future__ import annotations

import numpy as np

from tgc.frontend import graph_def as _graph_def  # noqa: F401 (installs Graph.as_graph_def)
from tgc.graph.graph import Operation, Tensor, get_default_graph

# The proto classes ship with tensorboard, which tgc's summaries use too (same wire format as TF's).
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef

# AttrValues TF writes that carry no meaning for tgc's ops (types are the inputs' own).
_BOOKKEEPING_ATTRS = {
    "T",
    "_output_shapes",
    "_class",
    "use_cudnn_on_gpu",
    "Tidx",
    "Tshape",
    "Tperm",
    "Tpaddings",
    "Tindices",
    "Tparams",
    "Taxis",
    "TI",
    "Tmultiples",
    "Index",
    "dtype",  # a Const's (its value has it); registry ops that take a dtype keep theirs
    "validate_shape",
    "use_locking",
    "incompatible_shape_error",
    "grad_a",  # MatMul's hints for XLA
    "grad_b",
    "N",
    "Tdim",
    "SrcT",
    "Truncate",
}


def import_graph_def(
    graph_def,
    input_map=None,
    return_elements=None,
    name=None,
    op_dict=None,
    producer_op_list=None,
):
    """Imports ``graph_def``'s nodes into the default graph under the prefix ``name`` (default
    ``import``; ``""``: none). ``input_map`` maps "node:i" names of the GraphDef to tensors of
    this graph, used in their place; ``return_elements`` names the ops ("node") and tensors
    ("node:0") to return, as imported."""
    graph_def = _as_graph_def(graph_def)
    graph = get_default_graph()
    prefix = "import" if name is None else name
    mapped = _input_map(input_map)
    nodes = {n.name: n for n in graph_def.node}
    built: dict = {}  # node name -> Operation (or list of output tensors for multi-output rules)
    used = set()
    with graph.name_scope(prefix or None) as scope:
        _reserve_names(graph, [f"{scope}{name}" for name in nodes])
        for node in _topological(graph_def.node, nodes):
            inputs, controls = [], []
            for ref in node.input:
                if ref.startswith("^"):
                    controls.append(_op_of(built[ref[1:]]))
                    continue
                key = _tensor_key(ref)
                if key in mapped:
                    used.add(key)
                    inputs.append(mapped[key])
                else:
                    inputs.append(_output(built, key, f"node '{node.name}'"))
            with graph.control_dependencies(controls):
                built[node.name] = _build(node, inputs, f"{scope}{node.name}/")
    missing = sorted(k for k in mapped if k.split(":")[0] not in nodes)
    if missing:
        raise ValueError(
            f"Attempted to map inputs that were not found in graph_def: [{', '.join(missing)}]"
        )
    if return_elements is None:
        return None
    return [_return_element(built, element) for element in return_elements]


def _reserve_names(graph, names):
    """Marks the nodes' names as taken before any is built, so that the helper ops a rule makes
    (a Const, an AddV2) are named around them rather than taking a later node's name."""
    for name in names:
        graph._name_counts.setdefault(name, 1)


def _as_graph_def(graph_def):
    if hasattr(graph_def, "node"):
        return graph_def
    if isinstance(graph_def, (bytes, bytearray)):
        parsed = GraphDef()
        parsed.ParseFromString(bytes(graph_def))
        return parsed
    raise TypeError(f"import_graph_def: graph_def must be a GraphDef proto, not {type(graph_def)}")


def _input_map(input_map) -> dict:
    mapped = {}
    for key, value in (input_map or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"input_map keys must be tensor names (strings), not {key!r}")
        if key.startswith("^"):
            raise ValueError(f"input_map: control inputs ({key}) are not supported by tgc")
        from tgc.frontend.build import convert_to_tensor

        mapped[_tensor_key(key)] = convert_to_tensor(value)
    return mapped


def _tensor_key(ref: str) -> str:
    return ref if ":" in ref else f"{ref}:0"


def _topological(node_list, nodes):
    """Producers before consumers (a GraphDef's order is free); a cycle is refused."""
    order, state = [], {}
    for root in node_list:
        stack = [(root.name, False)]
        while stack:
            name, done = stack.pop()
            if done:
                state[name] = "done"
                order.append(nodes[name])
                continue
            if state.get(name) == "done":
                continue
            if state.get(name) == "open":
                raise ValueError(f"import_graph_def: the GraphDef has a cycle through '{name}'")
            state[name] = "open"
            stack.append((name, True))
            for ref in nodes[name].input:
                producer = ref.lstrip("^").split(":")[0]
                if producer not in nodes:
                    raise ValueError(
                        f"import_graph_def: node '{name}' has an input '{ref}' that is not in "
                        "the GraphDef"
                    )
                if state.get(producer) != "done":
                    stack.append((producer, False))
    return order


def _op_of(built):
    if isinstance(built, Operation):
        return built
    return built[0].op


def _outputs(built):
    return built.outputs if isinstance(built, Operation) else list(built)


def _output(built, key, reader):
    producer, index = key.rsplit(":", 1)
    outputs = _outputs(built[producer])
    if int(index) >= len(outputs):
        raise ValueError(
            f"import_graph_def: {reader} reads output {index} of '{producer}', which has "
            f"{len(outputs)}"
        )
    return outputs[int(index)]


def _return_element(built, element: str):
    name = element.split(":")[0]
    if name not in built:
        raise ValueError(f"Requested return_element '{element}' not found in graph_def.")
    if ":" in element:
        return _output(built, element, "return_elements")
    return _op_of(built[name])


# The type attributes TF's NodeDefs carry and tgc's do not.
_TF_TYPE_ATTRS = {"T", "Tshape", "Tidx", "Tperm", "Tdim", "Taxis", "Tparams", "N", "SrcT", "DstT"}


# ---- attributes ----------------------------------------------------------------------------------


def _dtype_name(enum: int) -> str:
    from tgc.frontend.graph_def import DATA_TYPES

    names = {v: k for k, v in DATA_TYPES.items()}
    names.update({4: "uint8", 5: "int16", 6: "int8"})
    if enum not in names:
        raise ValueError(f"import_graph_def: tgc has no dtype for TF DataType {enum}")
    return names[enum]


def _attr(value):
    """An AttrValue as Python: the field it holds."""
    from tensorboard.util import tensor_util

    field = value.WhichOneof("value")
    if field == "list":
        lst = value.list
        for kind in ("i", "f", "s", "b", "type", "shape"):
            items = list(getattr(lst, kind))
            if items:
                if kind == "type":
                    return [_dtype_name(t) for t in items]
                if kind == "s":
                    return [s.decode() for s in items]
                if kind == "shape":
                    return [_shape(s) for s in items]
                return items
        return []
    if field == "s":
        return value.s.decode()
    if field == "type":
        return _dtype_name(value.type)
    if field == "shape":
        return _shape(value.shape)
    if field == "tensor":
        return tensor_util.make_ndarray(value.tensor)
    return getattr(value, field) if field else None


def _shape(proto):
    if proto.unknown_rank:
        return None
    return [None if d.size < 0 else int(d.size) for d in proto.dim]


def _attrs(node) -> dict:
    return {k: _attr(v) for k, v in node.attr.items()}


# ---- rebuilding one node -------------------------------------------------------------------------


def _build(node, inputs, name):
    """The node rebuilt: a node TF wrote (it carries TF's type attributes, such as ``T``) by the
    rule for TF's spelling of its type, else as the registry op it fits; a node tgc wrote
    (registry attributes only) the other way round, since tgc's ``*_like`` ops share TF's types
    with other operands (tgc's Reshape of a tensor's shape is TF's Reshape)."""
    attrs = _attrs(node)
    if node.op == "Placeholder" and node.name == "rng_step":  # tgc's run counter of random ops
        from tgc.frontend.random_ops import rng_step

        return rng_step().op
    rule = _RULES.get(node.op)
    written_by_tf = bool(_TF_TYPE_ATTRS & set(attrs))
    if rule is not None and written_by_tf:
        return rule(inputs, attrs, name)
    registry_op = _registry_match(node, inputs, attrs)
    if registry_op is not None:
        from tgc.frontend.build import make_op

        opname, kept = registry_op
        out = make_op(opname, inputs, name=name, **kept)
        if isinstance(out, (list, tuple)):
            return list(out)
        return out if isinstance(out, Operation) else out.op  # an op without outputs (NoOp)
    if rule is not None:
        return rule(inputs, attrs, name)
    raise ValueError(
        f"import_graph_def: tgc does not know op type '{node.op}' (node '{node.name}')"
        + _VARIABLE_HINT.get(node.op, "")
    )


_VARIABLE_HINT = {
    kind: ": variables are not imported; freeze the graph (its variables as constants) first"
    for kind in ("VariableV2", "Variable", "VarHandleOp", "Assign", "AssignVariableOp")
}


def _registry_match(node, inputs, attrs):
    """The registry op of the node's TF type whose operands and attributes fit it."""
    from tgc.dialect.registry import REGISTRY

    from tgc.dialect.registry import REQUIRED

    ignorable = set(_BOOKKEEPING_ATTRS)
    if attrs.get("data_format") in ("NHWC", None):
        ignorable.add("data_format")
    if attrs.get("explicit_paddings") == []:
        ignorable.add("explicit_paddings")
    if attrs.get("batch_dims", 0) == 0:
        ignorable.add("batch_dims")
    for opname, opdef in REGISTRY.items():
        if opdef.tf_type != node.op or len(opdef.operands) != len(inputs):
            continue
        if set(attrs) - set(opdef.attrs) - ignorable:
            continue
        kept = {k: v for k, v in attrs.items() if k in opdef.attrs}
        required = {k for k, a in opdef.attrs.items() if a.default is REQUIRED}
        if required <= set(kept):
            return opname, kept
    return None


# ---- TensorFlow's spellings ----------------------------------------------------------------------


def _const_input(tensor, what):
    from tgc.frontend.array_ops import _constant_value

    value = _constant_value(tensor)
    if value is None:
        raise ValueError(f"import_graph_def: {what} must be a constant, not '{tensor.name}'")
    return value


def _placeholder(inputs, attrs, name):
    from tgc.frontend.build import placeholder

    return placeholder(attrs["dtype"], attrs.get("shape"), name=name).op


def _placeholder_with_default(inputs, attrs, name):
    from tgc.frontend.build import placeholder_with_default

    return placeholder_with_default(inputs[0], attrs.get("shape"), name=name).op


def _const(inputs, attrs, name):
    from tgc.frontend.build import constant

    value = np.asarray(attrs["value"])
    return constant(value, dtype=attrs.get("dtype", value.dtype.name), name=name).op


def _with_const(fn, what, **keywords):
    """A rule for ops whose last input is a constant argument (axes, shape, perm, ...)."""

    def rule(inputs, attrs, name):
        argument = _const_input(inputs[-1], what)
        extra = {k: attrs[v] for k, v in keywords.items() if v in attrs}
        return _op(fn(*inputs[:-1], argument.tolist(), name=name, **extra))

    return rule


def _op(result):
    if isinstance(result, Tensor):
        return result.op
    if isinstance(result, (list, tuple)):
        return list(result)
    return result


def _reduction(fn_name):
    def rule(inputs, attrs, name):
        from tgc.frontend import math_ops

        axes = _const_input(inputs[1], f"the axes of {fn_name}").tolist()
        fn = getattr(math_ops, fn_name)
        return fn(inputs[0], axis=axes, keepdims=attrs.get("keep_dims", False), name=name).op

    return rule


def _concat(inputs, attrs, name):
    from tgc.frontend.array_ops import concat

    axis = int(_const_input(inputs[-1], "the axis of ConcatV2"))
    return concat(inputs[:-1], axis, name=name).op


def _old_concat(inputs, attrs, name):
    """TF 0.x's Concat: the axis comes first."""
    from tgc.frontend.array_ops import concat

    axis = int(_const_input(inputs[0], "the axis of Concat"))
    return concat(inputs[1:], axis, name=name).op


def _pack(inputs, attrs, name):
    from tgc.frontend.array_ops import stack

    return stack(inputs, axis=attrs.get("axis", 0), name=name).op


def _cast(inputs, attrs, name):
    from tgc.frontend.math_ops import cast

    return cast(inputs[0], attrs["DstT"], name=name).op


def _squeeze(inputs, attrs, name):
    from tgc.frontend.array_ops import squeeze

    return squeeze(inputs[0], axis=attrs.get("squeeze_dims") or None, name=name).op


def _arg(fn_name):
    def rule(inputs, attrs, name):
        from tgc.frontend import math_ops

        axis = int(_const_input(inputs[1], f"the axis of {fn_name}"))
        fn = getattr(math_ops, fn_name)
        return fn(inputs[0], axis=axis, output_type=attrs.get("output_type", "int64"), name=name).op

    return rule


def _gather(inputs, attrs, name):
    from tgc.frontend.gather_ops import gather

    axis = int(_const_input(inputs[2], "the axis of GatherV2")) if len(inputs) > 2 else 0
    return gather(inputs[0], inputs[1], axis=axis, name=name).op


def _fill(inputs, attrs, name):
    from tgc.frontend.array_ops import fill

    return fill(_const_input(inputs[0], "the dims of Fill").tolist(), inputs[1], name=name).op


def _shape_op(inputs, attrs, name):
    from tgc.frontend.array_ops import shape

    return shape(inputs[0], out_type=attrs.get("out_type", "int32"), name=name).op


def _no_op(inputs, attrs, name):
    from tgc.frontend.control import no_op

    return no_op(name=name)


def _elementwise(fn_path):
    def rule(inputs, attrs, name):
        import importlib

        module, fn = fn_path.rsplit(".", 1)
        return getattr(importlib.import_module(module), fn)(*inputs, name=name).op

    return rule


def _select(inputs, attrs, name):
    from tgc.frontend.math_ops import where

    return where(inputs[0], inputs[1], inputs[2], name=name).op


def _select_v2(inputs, attrs, name):
    from tgc.frontend.math_ops import where_v2

    return where_v2(inputs[0], inputs[1], inputs[2], name=name).op


def _reshape(inputs, attrs, name):
    from tgc.frontend.array_ops import reshape

    if len(inputs) == 1:  # tgc's own Reshape node: the shape is an attribute
        return reshape(inputs[0], attrs["shape"], name=name).op
    return reshape(
        inputs[0], _const_input(inputs[1], "the shape of Reshape").tolist(), name=name
    ).op


def _bias_add(inputs, attrs, name):
    from tgc.frontend.nn import bias_add

    return bias_add(inputs[0], inputs[1], name=name).op


def _transpose(inputs, attrs, name):
    from tgc.frontend.array_ops import transpose

    if len(inputs) == 1:
        return transpose(inputs[0], attrs["perm"], name=name).op
    return transpose(inputs[0], _const_input(inputs[1], "perm").tolist(), name=name).op


def _expand_dims(inputs, attrs, name):
    from tgc.frontend.array_ops import expand_dims

    if len(inputs) == 1:
        return expand_dims(inputs[0], attrs["axis"], name=name).op
    return expand_dims(
        inputs[0], int(_const_input(inputs[1], "the axis of ExpandDims")), name=name
    ).op


def _reduction_or_registry(fn_name):
    tf_rule = _reduction(fn_name)

    def rule(inputs, attrs, name):
        if len(inputs) == 2:
            return tf_rule(inputs, attrs, name)
        from tgc.frontend import math_ops

        fn = getattr(math_ops, fn_name)
        return fn(
            inputs[0], axis=attrs["axes"], keepdims=attrs.get("keepdims", False), name=name
        ).op

    return rule


def _concat_or_registry(inputs, attrs, name):
    from tgc.frontend.array_ops import concat

    if "axis" in attrs and not isinstance(attrs["axis"], str):
        return concat(inputs, attrs["axis"], name=name).op
    return _concat(inputs, attrs, name)


def _strided_slice(inputs, attrs, name):
    from tgc.frontend.array_ops import strided_slice

    begin, end, strides = (
        _const_input(t, f"the {what} of StridedSlice")
        for t, what in zip(inputs[1:], ("begin", "end", "strides"))
    )
    masks = {
        k: attrs.get(k, 0)
        for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    }
    return strided_slice(inputs[0], begin, end, strides, name=name, **masks).op


def _slice(inputs, attrs, name):
    from tgc.frontend.array_ops import slice as slice_

    begin = _const_input(inputs[1], "the begin of Slice")
    size = _const_input(inputs[2], "the size of Slice")
    return slice_(inputs[0], begin, size, name=name).op


def _tile(inputs, attrs, name):
    from tgc.frontend.array_ops import tile

    return tile(inputs[0], _const_input(inputs[1], "the multiples of Tile"), name=name).op


def _split(inputs, attrs, name):
    from tgc.frontend.array_ops import split

    axis = int(_const_input(inputs[0], "the axis of Split"))
    return split(inputs[1], attrs["num_split"], axis=axis, name=name)


def _one_hot(inputs, attrs, name):
    from tgc.frontend.array_ops import one_hot

    depth, on, off = (_const_input(t, "OneHot's depth and values") for t in inputs[1:4])
    return one_hot(inputs[0], int(depth), on, off, axis=attrs.get("axis", -1), name=name).op


def _add_n(inputs, attrs, name):
    from tgc.frontend.math_ops import add_n

    return add_n(inputs, name=name).op


def _nn(fn_name, **attr_names):
    def rule(inputs, attrs, name):
        from tgc.frontend import nn

        extra = {k: attrs[v] for k, v in attr_names.items() if v in attrs}
        return getattr(nn, fn_name)(*inputs, name=name, **extra).op

    return rule


def _global_batch_norm(inputs, attrs, name):
    from tgc.frontend.math_ops import identity
    from tgc.frontend.normalization import batch_norm_with_global_normalization

    normed = batch_norm_with_global_normalization(
        *inputs,
        variance_epsilon=attrs["variance_epsilon"],
        scale_after_normalization=attrs["scale_after_normalization"],
    )
    return identity(normed, name=name).op  # the node's own name for its output


def _lrn(inputs, attrs, name):
    from tgc.frontend.math_ops import identity
    from tgc.frontend.normalization import local_response_normalization

    normed = local_response_normalization(
        inputs[0],
        depth_radius=attrs.get("depth_radius", 5),
        bias=attrs.get("bias", 1.0),
        alpha=attrs.get("alpha", 1.0),
        beta=attrs.get("beta", 0.5),
    )
    return identity(normed, name=name).op  # the node's own name for its output


def _fused_batch_norm(inputs, attrs, name):
    """Inference only (``is_training=False``, the frozen graphs' form): y from the given mean and
    variance; the other outputs pass the statistics through."""
    from tgc.frontend.math_ops import identity
    from tgc.frontend.normalization import batch_normalization

    if attrs.get("is_training", True) or attrs.get("data_format", "NHWC") != "NHWC":
        raise ValueError(
            "import_graph_def: tgc imports FusedBatchNorm with is_training=False and NHWC only "
            f"(node '{name.rstrip('/')}')"
        )
    x, scale, offset, mean, variance = inputs[:5]
    y = batch_normalization(x, mean, variance, offset, scale, attrs.get("epsilon", 1e-4))
    y = identity(y, name=name)  # the node's own name for its first output
    return [y, identity(mean), identity(variance), identity(mean), identity(variance)]


def _batch_matmul(inputs, attrs, name):
    """TF's BatchMatMul and BatchMatMulV2 (V1 is V2 without broadcasting): ``adj_x``/``adj_y`` are
    transposes (tgc has no complex types)."""
    from tgc.frontend.math_ops import matmul

    a, b = inputs
    return matmul(
        a, b, adjoint_a=attrs.get("adj_x", False), adjoint_b=attrs.get("adj_y", False), name=name
    ).op


def _random(fn_name):
    """TF's random ops take their shape as an input; the op's seed becomes tgc's op seed, so an
    imported graph draws reproducibly, but not TF's numbers (tgc's generator is its own)."""

    def rule(inputs, attrs, name):
        from tgc.frontend import random_ops
        from tgc.frontend.array_ops import _constant_value

        shape = _constant_value(inputs[0])
        shape = inputs[0] if shape is None else shape.tolist()
        seed = attrs.get("seed2") or attrs.get("seed") or None
        extra = {}
        if len(inputs) == 3:  # RandomUniformInt: minval, maxval
            extra = {
                "minval": int(_const_input(inputs[1], "the minval of RandomUniformInt")),
                "maxval": int(_const_input(inputs[2], "the maxval of RandomUniformInt")),
            }
        dtype = attrs.get("dtype") or attrs.get("Tout")
        fn = getattr(random_ops, fn_name)
        return fn(shape, dtype=dtype, seed=seed, name=name, **extra).op

    return rule


_RULES = {
    "RandomStandardNormal": _random("random_normal"),
    "TruncatedNormal": _random("truncated_normal"),
    "RandomUniform": _random("random_uniform"),
    "RandomUniformInt": _random("random_uniform"),
    "BatchMatMul": _batch_matmul,
    "BatchMatMulV2": _batch_matmul,
    "Placeholder": _placeholder,
    "PlaceholderWithDefault": _placeholder_with_default,
    "Const": _const,
    "Reshape": _reshape,
    "Sum": _reduction_or_registry("reduce_sum"),
    "Mean": _reduction_or_registry("reduce_mean"),
    "Max": _reduction_or_registry("reduce_max"),
    "Min": _reduction_or_registry("reduce_min"),
    "Prod": _reduction_or_registry("reduce_prod"),
    "ConcatV2": _concat_or_registry,
    "Concat": _old_concat,
    "StridedSlice": _strided_slice,
    "Slice": _slice,
    "Tile": _tile,
    "Split": _split,
    "OneHot": _one_hot,
    "AddN": _add_n,
    "Relu6": _nn("relu6"),
    "Softplus": _nn("softplus"),
    "LeakyRelu": _nn("leaky_relu", alpha="alpha"),
    "BatchNormWithGlobalNormalization": _global_batch_norm,
    "LRN": _lrn,
    "FusedBatchNorm": _fused_batch_norm,
    "FusedBatchNormV3": _fused_batch_norm,
    "Pack": _pack,
    "Cast": _cast,
    "Squeeze": _squeeze,
    "ArgMax": _arg("argmax"),
    "ArgMin": _arg("argmin"),
    "GatherV2": _gather,
    "Fill": _fill,
    "Shape": _shape_op,
    "NoOp": _no_op,
    "Select": _select,
    "SelectV2": _select_v2,
    "BiasAdd": _bias_add,
    "Transpose": _transpose,
    "ExpandDims": _expand_dims,
    "Add": _elementwise("tgc.frontend.math_ops.add"),
    "Div": _elementwise("tgc.frontend.math_ops.divide"),
    "RealDiv": _elementwise("tgc.frontend.math_ops.divide"),
}

__all__ = ["GraphDef", "NodeDef", "import_graph_def"]
