"""`tf.train.Saver.save` killed at each step of its writes leaves a state file that names only
checkpoints that exist and restore, and temporary files of killed saves are
removed by the next save.

A crash is simulated by making one write function raise at the chosen step (numpy's savez, the
rename of the checkpoint, the write of the state file, the deletion of an old checkpoint)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tgc as tf
from tgc.runtime import checkpoint


class Crash(Exception):
    pass


def make_saver(max_to_keep):
    v = tf.Variable(np.zeros(3, np.float32), name="v")
    step = tf.placeholder(tf.float32, [], name="step")
    set_v = tf.assign(v, step * tf.ones([3]))
    return v, step, set_v, tf.train.Saver(max_to_keep=max_to_keep)


def save_at(sess, saver, set_v, step, value, prefix):
    sess.run(set_v, {step: float(value)})
    return saver.save(sess, prefix, global_step=value)


def assert_state_is_restorable(directory):
    """Every path the state file names exists; the latest restores the value saved under it."""
    state = tf.train.get_checkpoint_state(str(directory))
    assert state is not None
    for path in state.all_model_checkpoint_paths + [state.model_checkpoint_path]:
        assert os.path.exists(path + ".npz"), f"the state file names {path}, which is gone"
    latest = tf.train.latest_checkpoint(str(directory))
    assert latest == state.model_checkpoint_path
    tf.reset_default_graph()
    v = tf.Variable(np.zeros(3, np.float32), name="v")
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, latest)
        saved_step = int(latest.rsplit("-", 1)[1])
        np.testing.assert_array_equal(sess.run(v), np.full(3, saved_step, np.float32))
    return latest


def temporaries(directory):
    return sorted(n for n in os.listdir(directory) if ".tmp" in n)


def crash_on(monkeypatch, owner, name, when=lambda *a, **k: True):
    original = getattr(owner, name)

    def crashing(*args, **kwargs):
        if when(*args, **kwargs):
            raise Crash(f"killed in {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, crashing)


STEPS = {
    # the new checkpoint's data is being written
    "savez": lambda mp: crash_on(mp, checkpoint.np, "savez"),
    # the new checkpoint is complete in its temporary file, not yet renamed
    "rename checkpoint": lambda mp: crash_on(
        mp, checkpoint.os, "replace", lambda src, dst: dst.endswith(".npz")
    ),
    # the new checkpoint is in place; the state file is being written
    "write state": lambda mp: crash_on(
        mp, checkpoint.os, "replace", lambda src, dst: dst.endswith("checkpoint")
    ),
    # the state file names the new checkpoint; the old one is being deleted
    "delete old": lambda mp: crash_on(mp, os, "remove"),
}


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("max_to_keep", [1, 2])
def test_a_save_killed_at_each_step_leaves_a_restorable_state(
    tmp_path, monkeypatch, step, max_to_keep
):
    v, feed, set_v, saver = make_saver(max_to_keep)
    prefix = str(tmp_path / "model")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for value in (1, 2):
            save_at(sess, saver, set_v, feed, value, prefix)
        with monkeypatch.context() as mp:
            STEPS[step](mp)
            with pytest.raises(Crash):
                save_at(sess, saver, set_v, feed, 3, prefix)
    latest = assert_state_is_restorable(tmp_path)
    assert latest.endswith("-3" if step == "delete old" else "-2")
    assert temporaries(tmp_path) == []


def test_the_state_file_is_written_before_old_checkpoints_are_deleted(tmp_path, monkeypatch):
    # max_to_keep=1: saving step 2 deletes step 1. Killed while writing the state file, the state
    # must still name step 1, so step 1 must still exist.
    v, feed, set_v, saver = make_saver(1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        save_at(sess, saver, set_v, feed, 1, str(tmp_path / "model"))
        with monkeypatch.context() as mp:
            STEPS["write state"](mp)
            with pytest.raises(Crash):
                save_at(sess, saver, set_v, feed, 2, str(tmp_path / "model"))
        assert os.path.exists(tmp_path / "model-1.npz") and os.path.exists(tmp_path / "model-2.npz")
        # The saver goes on as if the failed save had not happened; the next save cleans up.
        save_at(sess, saver, set_v, feed, 3, str(tmp_path / "model"))
    assert assert_state_is_restorable(tmp_path).endswith("-3")
    assert not os.path.exists(tmp_path / "model-1.npz")


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    stale = [f".tmp-{dead}-abc.npz", f".checkpoint.tmp-{dead}-xyz"]
    in_progress = f".tmp-{alive}-def.npz"  # a writer that still runs: left alone
    for name in stale + [in_progress]:
        (tmp_path / name).write_bytes(b"half a file")
    v, feed, set_v, saver = make_saver(2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        save_at(sess, saver, set_v, feed, 1, str(tmp_path / "model"))
    assert temporaries(tmp_path) == [in_progress]
    assert_state_is_restorable(tmp_path)


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ck.npz"
    checkpoint.save(str(path), {"w": np.ones(4, np.float32)})
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(
        checkpoint.CheckpointError, match=r"checkpoint .*ck\.npz cannot be read \(BadZipFile"
    ):
        checkpoint.restore(str(path))
    np.save(tmp_path / "single.npy", np.ones(2))
    with pytest.raises(checkpoint.CheckpointError, match="holds a single array"):
        checkpoint.restore(str(tmp_path / "single.npy"))
