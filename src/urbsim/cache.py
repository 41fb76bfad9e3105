"""urbsim's on-disk cache: private, and every artifact verified before use.

Three kinds of artifact are cached under :func:`root` (``$URBSIM_CACHE_DIR``, else
``~/.cache/urbsim``): PySD's parse of a `.mdl` (``parsed/``), the engine's compiled C kernels
(``native/``) and PySD's Python translations (``pysd/``). Each artifact ``F`` has a sidecar
``F.meta`` (JSON) holding the key it was built for (a digest of its inputs: the model's
sha256, PySD's version, the C text, the compiler and its flags) and the sha256 and size of
its bytes. :func:`verified` checks both before an artifact is used; a missing, foreign,
swapped, truncated or altered artifact is deleted and rebuilt.

The cache folder and its subfolders are created ``0700``, artifacts ``0600`` (kernels
``0700``); a folder that is group- or world-writable or owned by another user is refused
(:class:`CacheError`), since whoever can write there could plant a kernel that urbsim loads.
Parses are stored with :mod:`pickle` but read back by :class:`_ParseUnpickler`, which builds
only PySD's abstract-model classes, paths and numpy arrays, so a planted pickle cannot run
code either.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import stat
from pathlib import Path

from urbsim.errors import UrbsimError
from urbsim.fileio import write_atomic

ENV = "URBSIM_CACHE_DIR"


class CacheError(UrbsimError):
    """The cache folder is not private to the current user."""


class CacheUnavailable(CacheError):
    """The cache folder cannot be created (a read-only home): callers may work without it."""


def root() -> Path:
    """The cache folder, created ``0700`` if missing and checked to be private.

    Raises
    ------
    CacheError
        If it is group- or world-writable or owned by another user.
    """
    base = Path(os.environ.get(ENV) or Path.home() / ".cache" / "urbsim")
    return _private_dir(base)


def subdir(kind: str) -> Path:
    """``root()/kind``, created and checked like :func:`root`."""
    return _private_dir(root() / kind)


def _private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError as exc:
        raise CacheUnavailable(
            f"cache folder {path}: cannot be created ({exc.strerror}); set {ENV} to a "
            "writable folder"
        ) from None
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise CacheError(
            f"cache folder {path} belongs to another user (uid {st.st_uid}); set {ENV} to a "
            "folder of your own"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(
            f"cache folder {path} is writable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 700 {path}` or set {ENV} to a private folder"
        )
    return path


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta")


def _digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def seal(path: Path, key: str, mode: int = 0o600) -> None:
    """Record ``path``'s content hash and the ``key`` it was built for; set its mode."""
    os.chmod(path, mode)
    sha, size = _digest(path)
    meta = json.dumps({"key": key, "sha256": sha, "size": size})
    write_atomic(_meta_path(path), meta)
    os.chmod(_meta_path(path), 0o600)


def verified(path: Path, key: str) -> bool:
    """Whether ``path`` holds exactly what :func:`seal` recorded for ``key``.

    Anything else (no record, another key, other bytes, a non-regular file) is removed, so the
    caller rebuilds it.
    """
    meta = _meta_path(path)
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
        ok = (
            path.is_file()
            and not path.is_symlink()
            and record.get("key") == key
            and [record.get("sha256"), record.get("size")] == list(_digest(path))
        )
    except (OSError, ValueError, AttributeError):
        ok = False
    if not ok:
        for p in (path, meta):
            with contextlib.suppress(OSError):  # already gone, or a folder: rebuilt anyway
                p.unlink()
    return ok


def store(path: Path, data: bytes, key: str) -> None:
    """Write ``data`` to ``path`` atomically and :func:`seal` it (``0600``)."""
    write_atomic(path, data)
    seal(path, key)


# -- parses -----------------------------------------------------------------------------------

_PARSE_GLOBALS = {
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
}


class _ParseUnpickler(pickle.Unpickler):
    """Unpickles only PySD's abstract-model classes, paths and numpy arrays."""

    def find_class(self, module: str, name: str):
        if (module, name) in _PARSE_GLOBALS or (
            module.startswith("pysd.translators.structures.") and name[:1].isupper()
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a parsed model")


def load_parse(path: Path, key: str):
    """The parse cached at ``path`` for ``key``, or None (then parse and :func:`store`)."""
    if not verified(path, key):
        return None
    try:
        return _ParseUnpickler(io.BytesIO(path.read_bytes())).load()
    except Exception:  # a parse from another PySD or numpy: rebuild it
        path.unlink(missing_ok=True)
        return None
