"""`tf.gather` and `tf.nn.embedding_lookup`: the TF1 wrappers over the ``gather`` op
(tgc/dialect/ops/gather.py).

The op picks rows (axis 0); another axis is a transpose that brings it to the front, the gather, and
a transpose that puts the index dims back where TensorFlow leaves them. ``tf.gather`` is re-exported
by tgc/frontend/array_ops.py, ``embedding_lookup`` by tgc/frontend/nn.py.
"""

from __future__ import annotations

from tgc.frontend.build import convert_to_tensor, make_op
from tgc.graph.graph import Tensor


def _int_indices(indices):
    if isinstance(indices, Tensor) or hasattr(indices, "_as_graph_element"):
        return convert_to_tensor(indices)
    return convert_to_tensor(indices, preferred_dtype="int32")


def gather(params, indices, validate_indices=None, name=None, axis=0, batch_dims=0):
    """params' slices along ``axis`` picked by ``indices``:
    shape params[:axis] + indices + params[axis+1:].

    An index outside [0, dim) reads zeros (TensorFlow's CPU kernel raises instead)."""
    if batch_dims != 0:
        raise ValueError(f"gather with batch_dims={batch_dims} is not supported: only batch_dims=0")
    params = convert_to_tensor(params)
    indices = _int_indices(indices)
    rank = params.spec.rank
    if rank is None:
        raise ValueError(f"gather needs params of known rank but '{params.name}' has unknown rank")
    if not -rank <= int(axis) < rank:
        raise ValueError(f"gather axis {axis} is out of range for params of shape {params.shape}")
    axis = int(axis) % rank
    if axis == 0:
        return make_op("gather", [params, indices], name=name or "GatherV2")
    front = [axis] + [i for i in range(rank) if i != axis]
    rows = make_op("gather", [make_op("transpose", [params], perm=front), indices])
    k = indices.spec.rank
    if k is None:
        raise ValueError(
            f"gather along axis {axis} needs indices of known rank but '{indices.name}' has "
            "unknown rank"
        )
    # rows has shape indices + params[:axis] + params[axis+1:]; move params[:axis] to the front.
    back = list(range(k, k + axis)) + list(range(k)) + list(range(k + axis, k + rank - 1))
    return make_op("transpose", [rows], name=name or "GatherV2", perm=back)


def embedding_lookup(
    params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None
):
    """Rows of the embedding matrix for ``ids`` (`tf.nn.embedding_lookup`); ``max_norm`` clips each
    row.

    ``params`` is one tensor or Variable, or a list holding one (sharded embeddings are not
    supported)."""
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise ValueError(
                f"embedding_lookup of {len(params)} sharded tensors is not supported: pass one "
                "embedding matrix"
            )
        params = params[0]
    rows = gather(params, ids, name=None if max_norm is None else "embedding_lookup")
    if max_norm is None:
        return make_op("identity", [rows], name=name or "embedding_lookup")
    from tgc.frontend.math_ops import clip_by_norm

    return clip_by_norm(rows, max_norm, axes=[-1], name=name or "embedding_lookup")
