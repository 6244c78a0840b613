"""Atomic outputs: write to a temporary name, rename when complete.

An interrupted or failed run never leaves a file or folder that looks whole: readers see either the
old complete output or the new complete output. Every writer of the package goes through
:func:`atomic_path` or :func:`atomic_dir`, so they share one behaviour on a destination that cannot
be written (a folder where a file is expected, a read-only place, a full disk): an
:class:`OutputError` of one line naming the path and the cause, no temporary file left, an older
file unchanged. Inside :func:`all_or_nothing` several outputs appear together or not at all.
"""
from __future__ import annotations

import contextlib
import contextvars
import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from lstmgan.errors import UserError

# errno -> the cause and what to do, as the one line shows them
WRITE_ERRORS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EFBIG: "file too large for this file system; write elsewhere",
    errno.EROFS: "read-only file system; write elsewhere",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.EISDIR: "is a folder, not a file; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a part of the path is a file, not a folder; choose another path",
}


class OutputError(UserError):
    """A destination that cannot be written; ``str(err)`` names the path and the cause."""


def write_error(path: str | Path, exc: OSError) -> OutputError | None:
    """The :class:`OutputError` for ``exc`` raised while writing ``path``; None when ``exc`` is not a
    write failure (e.g. an input that is missing), which then propagates unchanged."""
    if exc.errno not in WRITE_ERRORS:
        return None
    return OutputError(f"{path}: cannot write: {WRITE_ERRORS[exc.errno]} ({os.strerror(exc.errno)})")


def _about(exc: OSError, path: Path, *places: Path) -> bool:
    """Whether ``exc`` concerns ``path`` (or a folder above it) or something inside ``places``;
    an error that names no file (as PyAV's write errors may) counts as about them."""
    name = getattr(exc, "filename", None)
    if not name:
        return True
    name = os.path.abspath(str(name))
    target = str(path.absolute())
    if target == name or target.startswith(name.rstrip(os.sep) + os.sep):
        return True
    return any(name == str(p) or name.startswith(str(p) + os.sep) for p in (p.absolute() for p in places))


@contextlib.contextmanager
def writing(path: str | Path, *places: Path) -> Iterator[None]:
    """Report a write failure on ``path`` (or the temporary ``places`` behind it) as one line: the
    wrapper for a library that writes files itself (dvclive's log)."""
    path = Path(path)
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        err = write_error(path, exc) if _about(exc, path, *places) else None
        if err is None:
            raise
        raise err from exc


# pending (commit, discard) pairs of the innermost all_or_nothing block; None outside one
_PENDING: contextvars.ContextVar[list[tuple[Callable[[], None], Callable[[], None]]] | None] = \
    contextvars.ContextVar("lstmgan_pending_outputs", default=None)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """Outputs written inside the block appear together when it succeeds, none of them when it fails
    (a command with several outputs, e.g. a video and its GIF). Nested blocks join the outer one."""
    if _PENDING.get() is not None:
        yield
        return
    pending: list[tuple[Callable[[], None], Callable[[], None]]] = []
    token = _PENDING.set(pending)
    try:
        yield
        for commit, _ in pending:
            commit()
    finally:
        _PENDING.reset(token)
        for _, discard in pending:
            discard()


# temporary folders of atomic_dir blocks now open: what is written inside them is committed with them
_STAGING: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("lstmgan_staging", default=())


def _finish(commit: Callable[[], None], discard: Callable[[], None], path: Path) -> None:
    """Commit a completed temporary output now, or at the end of the enclosing all_or_nothing
    (at once inside an open atomic_dir, whose own commit is the one that waits)."""
    pending = _PENDING.get()
    staged = any(path.absolute().is_relative_to(folder) for folder in _STAGING.get())
    if pending is not None and not staged:
        pending.append((commit, discard))
        return
    try:
        commit()
    finally:
        discard()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output(path: str | Path, folder: bool = False) -> Path:
    """Fail early, with the one line of :class:`OutputError`, when ``path`` cannot become a file
    (``folder``: a folder): it is the other kind, or a part of its path is a file. Writes nothing."""
    path = Path(path)
    if not folder and path.is_dir():
        raise OutputError(f"{path}: cannot write: is a folder, not a file; give a file name, "
                          f"e.g. {path / ('output' + path.suffix)}")
    if folder and path.exists() and not path.is_dir():
        raise OutputError(f"{path}: cannot write: is a file, not a folder; give a folder path")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: cannot write: {parent} is a file, not a folder; choose another path")
            break
    return path


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    check_output(path)
    with writing(path, path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    return Path(name)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path, suffix="") as tmp:
        tmp.write_bytes(data)
    return Path(path)


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
    the format from it); by default the final path's suffix is used. A write failure is an
    :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    tmp = _tmp_sibling(path, path.suffix if suffix is None else suffix)
    try:
        with writing(path, tmp):
            yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

    def commit() -> None:
        with writing(path, tmp):
            os.replace(tmp, path)

    _finish(commit, lambda: tmp.unlink(missing_ok=True), path)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``.

    On error the temporary folder is deleted and an existing ``path`` is left untouched. A write
    failure is an :class:`OutputError` naming ``path``.
    """
    path = check_output(path, folder=True)
    with writing(path, path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    token = _STAGING.set(_STAGING.get() + (tmp.absolute(),))
    try:
        with writing(path, tmp):
            yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _STAGING.reset(token)

    def commit() -> None:
        with writing(path, tmp, path.parent):
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
                os.replace(path, old / path.name)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)

    _finish(commit, lambda: shutil.rmtree(tmp, ignore_errors=True) if tmp.exists() else None, path)


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through a temporary file and a rename.

    Serialised in memory first: torch's own file writer reports a full disk as a RuntimeError,
    a plain file write as the OSError that :func:`atomic_path` turns into one line.
    """
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write_bytes(path, buffer.getvalue())
