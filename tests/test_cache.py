"""The on-disk cache is private, and every artifact is verified (and rebuilt) before use."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysd
import pytest

import urbsim
from urbsim import cache, cli
from urbsim.engine import native

TESTS = Path(__file__).parent
TINY = TESTS / "ensemble" / "tiny.mdl"
OTHER = TESTS / "engine" / "probes" / "lookups.mdl"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh, not yet existing cache folder."""
    path = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(path))
    return path


def _fresh_copy(tmp_path: Path, name: str = "m.mdl") -> Path:
    """A copy of the tiny model under a new path, so no in-process memo of it exists."""
    path = tmp_path / name
    shutil.copyfile(TINY, path)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cache_folders_and_files_are_private(cache_dir, tmp_path):
    urbsim.load_model(_fresh_copy(tmp_path)).simulate(outputs=["Stock"])
    assert _mode(cache_dir) == _mode(cache_dir / "parsed") == 0o700
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pickle" for p in files)
    for p in files:
        assert _mode(p) == (0o700 if p.suffix == ".so" else 0o600), p
    if native.compiler() is not None:
        assert any(p.suffix == ".so" for p in files)


@pytest.mark.parametrize("problem", ["world-writable", "foreign"])
def test_unsafe_cache_folder_is_refused_with_one_line(problem, cache_dir, tmp_path, monkeypatch):
    cache_dir.mkdir()
    if problem == "world-writable":
        cache_dir.chmod(0o777)
    else:
        monkeypatch.setattr(cache.os, "geteuid", lambda: cache_dir.stat().st_uid + 1)
    code = cli.main(["check", "--model", str(_fresh_copy(tmp_path))])
    assert code == 2
    assert not (cache_dir / "parsed").exists()


def test_unsafe_cache_folder_message_names_it_and_the_variable(cache_dir):
    cache_dir.mkdir()
    cache_dir.chmod(0o775)
    with pytest.raises(cache.CacheError, match=rf"{cache_dir} is writable by others.*{cache.ENV}"):
        cache.root()


def _parse_path(model: Path) -> tuple[Path, str]:
    key = f"{hashlib.sha256(model.read_bytes()).hexdigest()}-pysd{pysd.__version__}"
    return cache.subdir("parsed") / f"{key}.pickle", key


class _Payload:
    """Unpickling this runs ``touch`` on the marker."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_parse_pickle_runs_no_code_even_when_sealed(cache_dir, tmp_path):
    model = _fresh_copy(tmp_path)
    marker = tmp_path / "marker"
    path, key = _parse_path(model)
    cache.store(path, pickle.dumps(_Payload(marker)), key)  # as if its record were genuine
    info = urbsim.load_model(model).info
    assert not marker.exists()
    assert "Stock" in info.variables
    assert cache.load_parse(path, key) is not None  # the parse was redone and stored


@pytest.mark.parametrize("damage", ["truncated", "unsealed", "other key"])
def test_a_damaged_parse_is_rebuilt(damage, cache_dir, tmp_path):
    model = _fresh_copy(tmp_path)
    path, key = _parse_path(model)
    urbsim.load_model(model)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "unsealed":
        Path(f"{path}.meta").unlink()
    else:
        cache.seal(path, "another model")
    assert cache.load_parse(path, key) is None
    assert not path.exists()
    urbsim.load_model(_fresh_copy(tmp_path, "again.mdl"))  # same bytes, new path: re-parsed
    assert cache.load_parse(path, key) is not None


_RUN = """
import json, sys, urbsim
m = urbsim.load_model(sys.argv[1])
out = m.simulate(outputs=[sys.argv[2]])[sys.argv[2]]
print(json.dumps({"values": out.ravel().tolist(), "status": m.native_status}))
"""


def _run(model: Path, output: str, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(model), output],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.skipif(native.compiler() is None, reason="needs a C compiler to build kernels")
@pytest.mark.parametrize("damage", ["swapped", "truncated", "garbage"])
def test_a_damaged_kernel_is_rebuilt_not_loaded(damage, tmp_path):
    env = {**os.environ, cache.ENV: str(tmp_path / "cache")}
    _run(OTHER, "Inside", env)
    kernels = tmp_path / "cache" / "native"
    other = set(kernels.glob("*.so"))
    first = _run(TINY, "Stock", env)
    (mine,) = set(kernels.glob("*.so")) - other
    if damage == "swapped":  # another model's kernel under this model's name
        shutil.copyfile(next(iter(other)), mine)
    elif damage == "truncated":
        mine.write_bytes(mine.read_bytes()[:4096])
    else:
        mine.write_bytes(np.random.default_rng(0).bytes(mine.stat().st_size))
    again = _run(TINY, "Stock", env)
    reference = _run(TINY, "Stock", {**env, "URBSIM_NATIVE": "0"})
    assert again["status"].startswith("compiled")
    np.testing.assert_allclose(again["values"], reference["values"], rtol=1e-9)
    assert again["values"] == first["values"]


def test_a_truncated_pysd_translation_is_redone(cache_dir, tmp_path):
    model = _fresh_copy(tmp_path)
    first = urbsim.load_model(model, engine="pysd").run(outputs=["Stock"])
    (py,) = (cache_dir / "pysd").glob("*/m.py")
    py.write_text(py.read_text()[:200])
    again = urbsim.load_model(model, engine="pysd").run(outputs=["Stock"])
    np.testing.assert_array_equal(first.Stock.values, again.Stock.values)
    assert _mode(py) == 0o600
