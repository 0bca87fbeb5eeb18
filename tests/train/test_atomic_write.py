"""chainrule.train.checkpoint's atomic writes, in-process: a failure at any point before the
rename leaves the old file intact and no temporary file behind, and a successful write
replaces the file (a new inode moved over the name) instead of rewriting it in place."""

from __future__ import annotations

import json
import os

import pytest

from chainrule.train import checkpoint
from chainrule.train.checkpoint import atomic_write_bytes, atomic_write_json, atomic_write_text

WRITERS = {
    "bytes": (atomic_write_bytes, b"new contents\n"),
    "text": (atomic_write_text, "new contents\n"),
    "json": (atomic_write_json, {"new": "contents"}),
}


def _fail(*args, **kwargs):
    raise OSError("disk full")


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("where", ["replace", "fsync", "chmod"])
def test_a_failure_before_the_rename_leaves_the_old_file_and_no_temporary(
        tmp_path, monkeypatch, kind, where):
    write, value = WRITERS[kind]
    path = tmp_path / "metrics.json"
    path.write_bytes(b"old contents\n")
    monkeypatch.setattr(checkpoint.os, where, _fail)
    with pytest.raises(OSError, match="disk full"):
        write(path, value)
    monkeypatch.undo()
    assert path.read_bytes() == b"old contents\n"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_the_file_is_replaced_not_rewritten_in_place(tmp_path, monkeypatch):
    path = tmp_path / "model.bin"
    path.write_bytes(b"old contents\n")
    old_inode = os.stat(path).st_ino
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        # at the rename the target still holds the old bytes and the new ones are complete
        # in a temporary file of the same directory
        renames.append((os.fspath(src), os.fspath(dst)))
        assert path.read_bytes() == b"old contents\n"
        with open(src, "rb") as f:
            assert f.read() == b"new contents\n"
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", spy)
    with open(path, "rb") as reader:  # a reader that opened the old file keeps all of it
        atomic_write_bytes(path, b"new contents\n")
        assert reader.read() == b"old contents\n"
    assert path.read_bytes() == b"new contents\n"
    assert os.stat(path).st_ino != old_inode
    (src, dst), = renames
    assert dst == os.fspath(path) and os.path.dirname(src) == os.fspath(tmp_path)
    assert os.path.basename(src).startswith(".model.bin.") and src.endswith(".tmp")
    assert os.listdir(tmp_path) == ["model.bin"]


def test_json_round_trip_and_modes(tmp_path):
    path = tmp_path / "m.json"
    atomic_write_json(path, {"b": 1, "a": [1.5]})
    assert path.read_text() == '{\n  "b": 1,\n  "a": [\n    1.5\n  ]\n}\n'
    assert json.loads(path.read_text()) == {"b": 1, "a": [1.5]}
    assert os.stat(path).st_mode & 0o777 == 0o644  # a new file
    os.chmod(path, 0o600)
    atomic_write_json(path, [])
    assert os.stat(path).st_mode & 0o777 == 0o600  # a replaced file keeps its mode


@pytest.mark.parametrize("write", [
    lambda p: atomic_write_bytes(p, b"x"),
    lambda p: atomic_write_text(p, "x"),
    lambda p: atomic_write_json(p, {"a": 1}),
])
def test_a_missing_directory_is_named_and_nothing_is_written(tmp_path, write):
    target = tmp_path / "absent" / "f.json"
    with pytest.raises(FileNotFoundError,
                       match=f"cannot write {target}: directory {target.parent} does not exist"):
        write(target)
    assert not (tmp_path / "absent").exists() and os.listdir(tmp_path) == []
