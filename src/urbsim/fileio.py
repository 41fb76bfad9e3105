"""Writing result files so that nobody ever sees half of one.

Every writer in urbsim (``urbsim run --out``, Monte Carlo chunks, chart exports) goes through
:func:`write_atomic`: the content is written to a hidden temporary sibling and then renamed over
the target, which is atomic on POSIX file systems. A failure leaves the old file (or nothing).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from urbsim.errors import OutputError


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def check_new(path: Path, force: bool) -> None:
    """The overwrite rule of every command: an existing ``--out`` is refused unless ``force``.

    Raises
    ------
    OutputError
        If ``path`` exists and ``force`` is false (nothing is changed).
    """
    if not force and Path(path).exists():
        raise OutputError(key="out_exists", where=f"--out {display_path(Path(path))}")


def check_folder(path: Path, flag: str = "--out") -> None:
    """An output's folder must exist: :class:`OutputError` naming ``flag`` and the folder."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise OutputError(key="out_folder_missing", where=f"{flag} {path}", folder=str(folder))


def add_force(parser: Any) -> None:
    """Add ``--force`` (replace an existing ``--out``) to an ``argparse`` subcommand."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out if it exists (by default an existing file is left untouched)",
    )


def write_atomic(path: Path, write: Callable[[Path], None] | bytes | str) -> None:
    """Write ``path`` atomically.

    A symlink is written through (its target is replaced, the link stays); a file that is
    replaced keeps its permission bits; temporary siblings left by a killed writer (whose
    process is gone) are removed first.

    Parameters
    ----------
    path : the file (or folder, for Zarr stores) to create or replace.
    write : the content as bytes or text, or a callable that writes a file or a folder at the
        temporary path it is given.

    Raises
    ------
    OutputError
        If the folder does not exist or cannot be written (disk full, permissions, or a
        writer library's I/O error such as netCDF's "HDF error").
    """
    shown = Path(path)
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    _remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    if isinstance(write, (bytes, str)):
        raw = write.encode("utf-8") if isinstance(write, str) else write
        write = lambda target: target.write_bytes(raw)  # noqa: E731
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
        write(tmp)
        if tmp.is_dir():
            _replace_dir(tmp, path)
        else:
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # netCDF4 reports a full disk as RuntimeError
        reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:200]
        raise OutputError(f"{display_path(shown)}: cannot be written: {reason}") from None
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_stale_temps(path: Path) -> None:
    """Delete ``.NAME.PID.*.tmp`` siblings of ``path`` whose writer process no longer runs."""
    try:
        stale = list(path.parent.glob(f".{glob_escape(path.name)}.*.tmp"))
    except OSError:
        return
    for tmp in stale:
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _replace_dir(new: Path, path: Path) -> None:
    """Swap a finished folder in: the old one is renamed away first, then removed."""
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    if path.exists():
        os.replace(path, old)
    os.replace(new, path)
    shutil.rmtree(old, ignore_errors=True)
