"""Atomic outputs: a run that fails or is interrupted never leaves a half-written file or folder."""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from pebench.errors import UserError


def check_output_dir(out, overwrite=False):
    """Refuse an existing non-empty folder unless `overwrite`; check the parent is writable."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"output path {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UserError(f"output folder {out} exists and is not empty (pass --overwrite to replace it)")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create folder {parent}: {err.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write to {parent}: permission denied")


@contextlib.contextmanager
def atomic_dir(out, overwrite=False):
    """Yield a temporary folder beside `out`; on success it replaces `out` in one rename."""
    out = Path(out)
    check_output_dir(out, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path, text):
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_json(path, obj):
    """Deterministic JSON (sorted keys, fixed indent) written atomically."""
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def portable_path(path, start):
    """`path` relative to the folder `start` (posix separators): cards and results hold no absolute paths."""
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def file_sha256(path):
    """Hex sha256 of a file's bytes: what stage keys and cards record to notice a changed input."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def atomic_write_bytes(path, payload):
    """Write `payload` (bytes) to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
