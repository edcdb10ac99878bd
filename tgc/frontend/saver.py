"""`tf.train.Saver` and the checkpoint-state helpers TF1 programs use to save and resume training.

A checkpoint is one ``<prefix>.npz`` file (variable name -> value, written atomically by
tgc/runtime/checkpoint.py) beside a ``checkpoint`` text file in TensorFlow's own format, listing the
latest prefix and the ones kept, so ``tf.train.get_checkpoint_state`` and ``latest_checkpoint`` work
as in the lectures. Values are read with ``Session.run`` and written back with ``Variable.load``, so
saving and restoring compile nothing. TensorFlow's binary bundle is not written. Beside each
checkpoint ``save`` writes ``<prefix>.meta`` (``write_meta_graph=True``, TF's default): the
graph and its collections as a MetaGraphDef (tgc/frontend/meta_graph.py), so
``tf.train.import_meta_graph`` can rebuild the model without the program that built it.

A save is safe to kill at any point: the new checkpoint is written (atomically, synced), then the
state file (atomically), and only then are checkpoints beyond ``max_to_keep`` deleted, so the state
file never names a checkpoint that is gone. Temporary files of killed saves are removed by the next.
"""

from __future__ import annotations

import os

from tgc.runtime import checkpoint
from tgc.frontend.variables import Variable, global_variables

_STATE_FILE = "checkpoint"


def _variable_map(var_list) -> dict:
    """Checkpoint key -> Variable: a dict is taken as is; a list is keyed by the variables' op
    names."""
    if var_list is None:
        var_list = global_variables()
    if isinstance(var_list, dict):
        items = dict(var_list)
    else:
        items = {}
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"Saver can save Variables only, not {v!r}")
            key = v.op.name
            if key in items and items[key] is not v:
                raise ValueError(f"Saver got two variables named '{key}'")
            items[key] = v
    for key, v in items.items():
        if not isinstance(v, Variable):
            raise TypeError(f"Saver can save Variables only, but '{key}' is {v!r}")
    return items


def _can_write_meta_graphs() -> bool:
    """The MetaGraphDef proto ships with tensorboard, an optional dependency: without it a save
    writes the checkpoint alone, and says so once."""
    import importlib.util
    import warnings

    if importlib.util.find_spec("tensorboard") is not None:
        return True
    if not _can_write_meta_graphs.warned:
        _can_write_meta_graphs.warned = True
        warnings.warn(
            "Saver.save: no .meta file written (write_meta_graph=True needs the tensorboard "
            "package, which holds TensorFlow's MetaGraphDef proto; pip install tensorboard)",
            stacklevel=3,
        )
    return False


_can_write_meta_graphs.warned = False


class Saver:
    """Saves the variables' values to checkpoints and restores them into a session."""

    def __init__(
        self,
        var_list=None,
        reshape=False,
        sharded=False,
        max_to_keep=5,
        keep_checkpoint_every_n_hours=10000.0,
        name=None,
        allow_empty=False,
        **_ignored,
    ):
        self._vars = _variable_map(var_list)
        if not self._vars and not allow_empty:
            raise ValueError("No variables to save")
        self._max_to_keep = max_to_keep
        self._keep_hours = keep_checkpoint_every_n_hours
        self._kept: list = []  # prefixes this saver wrote, oldest first

    @property
    def last_checkpoints(self) -> list:
        return list(self._kept)

    def as_saver_def(self):
        """TF's SaverDef of this saver's settings (it names no ops: tgc restores by Session.run)."""
        from tgc.frontend.meta_graph import saver_def

        return saver_def(self._max_to_keep, self._keep_hours)

    def export_meta_graph(self, filename=None, collection_list=None, as_text=False, **kwargs):
        from tgc.frontend.meta_graph import export_meta_graph

        return export_meta_graph(
            filename,
            saver_def=self.as_saver_def(),
            collection_list=collection_list,
            as_text=as_text,
            **kwargs,
        )

    def save(
        self,
        sess,
        save_path,
        global_step=None,
        latest_filename=None,
        meta_graph_suffix="meta",
        write_meta_graph=True,
        write_state=True,
        **_ignored,
    ) -> str:
        """Writes ``save_path`` (with ``-<global_step>`` appended when given) and, with
        ``write_meta_graph``, the graph to ``<prefix>.meta``; returns the prefix."""
        prefix = os.fspath(save_path)
        if global_step is not None:
            step = global_step if isinstance(global_step, int) else int(sess.run(global_step))
            prefix = f"{prefix}-{step}"
        names = list(self._vars)
        values = sess.run([self._vars[n] for n in names]) if names else []
        checkpoint.save(prefix + ".npz", dict(zip(names, values)))
        if write_meta_graph and _can_write_meta_graphs():
            graph = getattr(sess, "graph", None)
            self.export_meta_graph(f"{prefix}.{meta_graph_suffix}", graph=graph)
        kept, dropped = self._after_keeping(prefix)
        if write_state:
            _write_state(
                os.path.dirname(os.path.abspath(prefix)),
                prefix,
                kept,
                latest_filename or _STATE_FILE,
            )
        self._kept = kept
        for (
            old
        ) in dropped:  # last: a crash before this leaves extra files, never a dangling state file
            for path in (old + ".npz", f"{old}.{meta_graph_suffix}"):
                if os.path.exists(path):
                    os.remove(path)
        return prefix

    def _after_keeping(self, prefix) -> tuple:
        """(prefixes kept after saving ``prefix``, oldest first; prefixes to delete)."""
        kept = [p for p in self._kept if p != prefix] + [prefix]
        cut = len(kept) - self._max_to_keep if self._max_to_keep else 0
        return kept[max(cut, 0) :], kept[: max(cut, 0)]

    def restore(self, sess, save_path):
        """Loads every variable of this saver from the checkpoint ``save_path`` into ``sess``."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        path = os.fspath(save_path)
        if not checkpoint_exists(path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {path}")
        values, _ = checkpoint.restore(path + ".npz" if os.path.exists(path + ".npz") else path)
        for key, var in self._vars.items():
            if key not in values:
                raise ValueError(f"Key {key} not found in checkpoint {path}")
            if tuple(values[key].shape) != tuple(var.shape.as_list()):
                raise ValueError(
                    f"Restoring '{key}' from {path}: the checkpoint holds shape "
                    f"{list(values[key].shape)} but the variable has shape {var.shape.as_list()}"
                )
            var.load(values[key], session=sess)


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **_ignored):
    """Rebuilds a MetaGraphDef (a proto or a ``.meta`` file, see tgc/frontend/meta_graph.py) in
    the default graph; returns a Saver of its variables, keyed by their names in the meta graph
    so it restores the checkpoints saved with it (None when it has no variables)."""
    from tgc.frontend.meta_graph import import_meta_graph_nodes

    variables, max_to_keep = import_meta_graph_nodes(
        meta_graph_or_file, clear_devices=clear_devices, import_scope=import_scope
    )
    return Saver(var_list=variables, max_to_keep=max_to_keep) if variables else None


# ---- the "checkpoint" state file -----------------------------------------------------------------


class CheckpointState:
    """What ``get_checkpoint_state`` returns: the latest prefix and every prefix kept."""

    def __init__(self, model_checkpoint_path, all_model_checkpoint_paths):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)

    def __repr__(self):
        return f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r})"


def _write_state(directory, latest, kept, filename):
    """TensorFlow's text format; paths relative to the directory, so it can be moved."""

    def rel(p):
        return os.path.relpath(os.path.abspath(p), directory)

    lines = [f'model_checkpoint_path: "{rel(latest)}"'] + [
        f'all_model_checkpoint_paths: "{rel(p)}"' for p in kept
    ]
    checkpoint.write_atomically(
        os.path.join(directory, filename), lambda h: h.write("\n".join(lines) + "\n"), text=True
    )


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The state file of ``checkpoint_dir`` with paths joined to the directory, or None if it has
    none."""
    path = os.path.join(os.fspath(checkpoint_dir), latest_filename or _STATE_FILE)
    if not os.path.exists(path):
        return None
    latest, kept = None, []
    with open(path) as handle:
        for line in handle:
            key, _, value = line.partition(":")
            value = value.strip().strip('"')
            if not os.path.isabs(value):
                value = os.path.join(os.fspath(checkpoint_dir), value)
            if key.strip() == "model_checkpoint_path":
                latest = value
            elif key.strip() == "all_model_checkpoint_paths":
                kept.append(value)
    return CheckpointState(latest, kept) if latest else None


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The newest checkpoint prefix in ``checkpoint_dir``, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not checkpoint_exists(state.model_checkpoint_path):
        return None
    return state.model_checkpoint_path


def checkpoint_exists(checkpoint_prefix) -> bool:
    path = os.fspath(checkpoint_prefix)
    return os.path.exists(path + ".npz") or (path.endswith(".npz") and os.path.exists(path))
