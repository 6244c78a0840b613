"""Atomic outputs: complete or absent, never half-written."""
import json

import pytest

from lstmgan.utils.io import atomic_dir, atomic_path, atomic_write_json


def test_atomic_write_json(tmp_path):
    path = atomic_write_json(tmp_path / "a" / "m.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]


def test_atomic_path_removes_partial_on_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "set"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as tmp:
            (tmp / "b.txt").write_text("2")
            raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    with atomic_dir(target) as tmp:
        (tmp / "c.txt").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c.txt"]


def test_outputs_get_ordinary_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "m.json", {})
        with atomic_dir(tmp_path / "d") as tmp:
            pass
        assert path.stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(mask)
