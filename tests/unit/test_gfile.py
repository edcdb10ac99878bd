"""tf.gfile on the local file system: what tutorials do with it, and TF's errors naming the path."""

import pytest

import tgc as tf


def test_make_write_read_list_and_delete(tmp_path):
    logs = tmp_path / "logs" / "run1"
    tf.gfile.MakeDirs(str(logs))
    tf.gfile.MakeDirs(str(logs))  # existing: fine
    assert tf.gfile.IsDirectory(str(logs)) and tf.gfile.Exists(str(logs))
    with tf.gfile.GFile(str(logs / "a.txt"), "w") as f:
        f.write("one\ntwo\n")
    with tf.gfile.Open(str(logs / "b.bin"), "wb") as f:
        f.write("bytes")  # str into a binary file is encoded, as TF's GFile does
    with tf.gfile.FastGFile(str(logs / "a.txt"), "r") as f:
        assert f.readlines() == ["one\n", "two\n"]
    assert tf.gfile.GFile(str(logs / "b.bin"), "rb").read() == b"bytes"
    assert tf.gfile.ListDirectory(str(logs)) == ["a.txt", "b.bin"]
    assert tf.gfile.Glob(str(logs / "*.txt")) == [str(logs / "a.txt")]
    stat = tf.gfile.Stat(str(logs / "a.txt"))
    assert stat.length == 8 and not stat.is_directory
    walked = list(tf.gfile.Walk(str(tmp_path)))
    assert [w[0] for w in walked] == [str(tmp_path), str(tmp_path / "logs"), str(logs)]
    tf.gfile.DeleteRecursively(str(tmp_path / "logs"))
    assert not tf.gfile.Exists(str(tmp_path / "logs"))


def test_copy_and_rename_refuse_to_overwrite_unless_told(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_text("new")
    dst.write_text("old")
    with pytest.raises(tf.errors.AlreadyExistsError, match="file already exists: .*dst"):
        tf.gfile.Copy(str(src), str(dst))
    assert dst.read_text() == "old"
    tf.gfile.Copy(str(src), str(dst), overwrite=True)
    assert dst.read_text() == "new"
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Rename(str(src), str(dst))
    tf.gfile.Rename(str(src), str(dst), overwrite=True)
    assert not src.exists() and dst.read_text() == "new"


def test_missing_paths_are_not_found_errors(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(tf.errors.NotFoundError, match="missing; No such file or directory"):
        tf.gfile.GFile(missing, "r")
    with pytest.raises(tf.errors.NotFoundError, match="missing"):
        tf.gfile.Remove(missing)
    with pytest.raises(tf.errors.NotFoundError, match="missing"):
        tf.gfile.DeleteRecursively(missing)
    with pytest.raises(tf.errors.NotFoundError, match="Could not find directory"):
        tf.gfile.ListDirectory(missing)
    with pytest.raises(tf.errors.NotFoundError, match="missing"):
        tf.gfile.Copy(missing, str(tmp_path / "x"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.MkDir(str(tmp_path / "missing" / "child"))
    assert list(tf.gfile.Walk(missing)) == []


def test_mkdir_of_an_existing_folder_already_exists(tmp_path):
    with pytest.raises(tf.errors.AlreadyExistsError, match="File exists"):
        tf.gfile.MkDir(str(tmp_path))
