"""Atomic outputs: write to a temporary name, rename when complete.

An interrupted run never leaves a file or folder that looks whole: readers see either the old
complete output or the new complete output.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    return Path(name)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False, default=_jsonable) + "\n")


def timing_path(metrics_path: str | Path) -> Path:
    """Where a metrics file's run-to-run timings live: ``<stem>_time.json`` beside it.

    Wall times and throughputs differ on every run, so they are kept out of the metrics files
    that ``dvc metrics diff`` compares (a rerun of the same code must show no change there).
    """
    metrics_path = Path(metrics_path)
    return metrics_path.with_name(f"{metrics_path.stem}_time.json")


def write_metrics(path: str | Path, metrics: dict[str, Any], timing: dict[str, Any]) -> Path:
    """Write ``metrics`` to ``path`` and ``timing`` to :func:`timing_path` (each atomically)."""
    atomic_write_json(timing_path(path), timing)
    return atomic_write_json(path, metrics)


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A metrics file with its timings (if recorded) merged in; {} when the metrics are absent."""
    path = Path(path)
    if not path.is_file():
        return {}
    out = json.loads(path.read_text())
    timing = timing_path(path)
    if timing.is_file():
        out.update({k: v for k, v in json.loads(timing.read_text()).items() if k not in out})
    return out


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary file path; on success it is renamed to ``path``, on error removed.

    ``suffix`` keeps an extension on the temporary name (writers such as PyAV and torch.save pick
    the format from it); by default the final path's suffix is used.
    """
    path = Path(path)
    tmp = _tmp_sibling(path, path.suffix if suffix is None else suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``.

    On error the temporary folder is deleted and an existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through a temporary file and a rename."""
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path
