"""The model facade: load ``model/urbsim.mdl`` with an engine and run it into an ``xarray.Dataset``.

Two engines run the same `.mdl`:

- ``"fast"`` (default): urbsim's compiler (:mod:`urbsim.engine`), vectorized over runs;
- ``"pysd"``: PySD 3.14.3, the reference runner, one run at a time.

Both return a Dataset with dimensions ``run``, ``time`` and the model's subscripts (under their
Vensim names), variables under their Vensim names plus the standard indicators of
:mod:`urbsim.indicators`, and provenance attrs (model hash, scenario, changed parameters, version,
engine).

Example
-------
>>> import urbsim
>>> model = urbsim.load_model()
>>> ds = model.run({"plan switch": 0}, outputs=["county_town_share"])
>>> float(ds.county_town_share.sel(time=2025).squeeze()) > 0
True
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import xarray as xr
from xarray.indexes import PandasIndex

from urbsim import __version__
from urbsim.errors import ModelError, ParameterError, UrbsimError
from urbsim.indicators import INDICATORS, indicator_variables
from urbsim.mdlinfo import ModelInfo, model_info
from urbsim.params import changed_params, coerce_params, split_scenario
from urbsim.paths import default_model_path
from urbsim.pysd_compat import quiet_pysd

ENGINES = ("fast", "pysd")


class EngineFallback(UserWarning):
    """The fast engine cannot compile a model, so PySD runs it (the message says why)."""


class _Runner(Protocol):
    time: np.ndarray

    def simulate(
        self,
        params: Mapping[str, np.ndarray],
        n: int,
        outputs: Sequence[str],
        first_run: int = 0,
    ) -> dict[str, np.ndarray]: ...


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class PysdRunner:
    """Runs the `.mdl` in PySD, translating it once per model version (cached on disk)."""

    def __init__(self, path: Path, sha256: str, info: ModelInfo):
        import pysd

        from urbsim import cache

        key = f"{sha256}-pysd{pysd.__version__}"
        target = cache.subdir("pysd") / sha256[:16]
        py = target / (path.stem + ".py")
        with quiet_pysd():
            try:
                if not cache.verified(py, key):  # a truncated or altered translation is redone
                    shutil.rmtree(target, ignore_errors=True)
                    target.mkdir(mode=0o700)
                    mdl = target / path.name
                    shutil.copyfile(path, mdl)
                    mdl.chmod(0o600)
                    pysd.read_vensim(str(mdl), initialize=False)
                    cache.seal(py, key)
                self._py, self._root = py, path.parent.resolve()
                self._model = self._load()
            except Exception as exc:
                raise ModelError(f"{path}: PySD cannot translate the model: {exc}") from exc
        self._info = info
        c = self._model.components  # the control values PySD computes (SAVEPER may be an
        # expression such as ``TIME STEP``, so not a constant of ``info``)
        self.time = _saved_times(c.initial_time(), c.final_time(), c.saveper())

    def _load(self):
        """A fresh PySD model from the cached translation; its external files (GET XLS/DIRECT
        ...) are read next to the model file, not next to the translation."""
        import pysd

        model = pysd.load(str(self._py), initialize=False)
        for ext in model._external_elements:
            ext.root = self._root
        unread = [d.real_name for d in model._data_elements if d.data is None]
        if unread:  # PySD would stop at the first step with a bare ValueError
            raise ModelError(
                f"data variable '{unread[0]}' has no equation: its values would come from data "
                "files at run time, which urbsim does not read (define it with GET XLS DATA, "
                "GET DIRECT DATA or a lookup of Time)"
            )
        model.initialize()
        return model

    def _pysd_value(self, name: str, value: np.ndarray):
        dims = self._info.constants[name].dims
        if not dims:
            return float(value)
        coords = {d: list(self._info.subscripts[d]) for d in dims}
        return xr.DataArray(np.asarray(value, dtype=float), coords=coords, dims=dims)

    def simulate(
        self,
        params: Mapping[str, np.ndarray],
        n: int,
        outputs: Sequence[str],
        first_run: int = 0,
    ) -> dict[str, np.ndarray]:
        """``first_run`` is accepted for the runners' common interface; PySD's RANDOM
        functions draw from numpy's global generator, whatever the run."""
        out = {name: [] for name in outputs}
        for i in range(n):
            run_params = {}
            for name, arr in params.items():
                per_run = arr.ndim > len(self._info.constants[name].dims)
                run_params[name] = self._pysd_value(name, arr[i] if per_run else arr)
            with quiet_pysd():
                self._model = self._load()
                df = self._model.run(
                    params=run_params, return_columns=list(outputs), flatten_output=False
                )
            for name in outputs:
                col = df[name]
                out[name].append(np.stack([np.asarray(v, dtype=float) for v in col.to_numpy()]))
        return {name: np.stack(v) for name, v in out.items()}


def _outside_urbsim() -> int:
    """``stacklevel`` of the first caller outside the urbsim package (a warning names the
    user's line, wherever inside urbsim the lazily compiled model was first needed)."""
    import functools
    import sys

    inside = (str(Path(__file__).resolve().parent), functools.__file__)  # cached_property
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


def _saved_times(initial: float, final: float, saveper: float) -> np.ndarray:
    """PySD's saved times (years) from INITIAL TIME, FINAL TIME and SAVEPER."""
    count = int(round((float(final) - float(initial)) / float(saveper))) + 1
    return float(initial) + float(saveper) * np.arange(count)


class Model:
    """A loaded model bound to an engine.

    Parameters
    ----------
    path : the `.mdl` file; default ``model/urbsim.mdl``.
    engine : ``"fast"`` (vectorized, default) or ``"pysd"`` (reference).
    backend : for the fast engine, ``"numpy"`` (default) or ``"jax"``.
    """

    def __init__(
        self, path: str | Path | None = None, engine: str = "fast", backend: str = "numpy"
    ):
        if engine not in ENGINES:
            raise UrbsimError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
        self.path = Path(path) if path is not None else default_model_path()
        self.engine = engine
        self.backend = backend
        self.info = model_info(self.path)
        self.sha256 = file_sha256(self.path)
        # why PySD runs a model loaded with the fast engine (None while the fast engine does)
        self.fallback_reason: str | None = None
        # outputs as asked -> Vensim names (a single run must not resolve names again: ~4 µs
        # of its ~115)
        self._outputs_seen: dict[tuple[str, ...], list[str]] = {}

    @cached_property
    def _runner(self) -> _Runner:
        if self.engine == "pysd":
            return PysdRunner(self.path, self.sha256, self.info)
        from urbsim.engine import compile_model

        try:
            return compile_model(self.path, backend=self.backend)
        except ModelError as err:
            # the fast engine refuses the model (a construct it does not compile): PySD runs
            # it instead, with a one-line notice; if PySD cannot either, the engine's reason
            # is the clearer message
            try:
                runner = PysdRunner(self.path, self.sha256, self.info)
            except ModelError:
                raise err from None
            self.fallback_reason = str(err).split("; supported functions")[0]
            warnings.warn(
                f"running with PySD instead of the fast engine: {self.fallback_reason}",
                EngineFallback,
                stacklevel=_outside_urbsim(),
            )
            return runner

    @property
    def engine_path(self) -> str:
        """The execution path of the last run: ``pysd``, or the fast engine's ``native-vector``
        (C, vector maths), ``native-exact`` (C, C library maths), ``scalar``,
        ``scalar+numpy``, ``numpy`` or ``jax``; ``fast-<backend>`` before its first run."""
        path = getattr(self._runner, "last_path", "pysd")
        return f"fast-{self.backend}" if path == "not run yet" else path

    @property
    def time(self) -> np.ndarray:
        """Saved times, in years (end of year)."""
        return self._runner.time

    @property
    def native_status(self) -> str | None:
        """Whether the fast engine's last run used its compiled C path, and if not, why
        (see ``src/urbsim/engine/README.md``); ``None`` for the PySD engine."""
        return getattr(self._runner, "native_status", None)

    def default_outputs(self) -> list[str]:
        """Every auxiliary and stock of the model (constants and lookups excluded)."""
        return [v.name for v in self.info.variables.values() if v.kind in ("auxiliary", "stateful")]

    def _resolve_outputs(self, outputs: Sequence[str] | None) -> list[str]:
        if outputs is None:
            return self.default_outputs()
        if isinstance(outputs, str):  # one name, not its characters
            outputs = [outputs]
        key = tuple(outputs)
        if key not in self._outputs_seen:
            if len(self._outputs_seen) >= 64:  # bounded: callers may ask for many sets
                self._outputs_seen.clear()
            self._outputs_seen[key] = self._resolve_names(key)
        return list(self._outputs_seen[key])

    def _resolve_names(self, outputs: tuple[str, ...]) -> list[str]:
        names = []
        for name in outputs:
            if name in INDICATORS:
                names.append(INDICATORS[name].variable)
                continue
            try:
                real = self.info.resolve(name)
            except KeyError:
                raise ParameterError(
                    f"unknown output {name!r}: not a model variable nor a standard indicator "
                    f"({', '.join(INDICATORS)})"
                ) from None
            if self.info.variables[real].kind == "lookup":
                raise ParameterError(f"output {real!r} is a lookup table, not a time series")
            names.append(real)
        return list(dict.fromkeys(names))

    def run(
        self,
        params: Mapping[str, Any] | Any | None = None,
        *,
        n: int | None = None,
        outputs: Sequence[str] | None = None,
        chunk: int | None = None,
        scenario: str | None = None,
    ) -> xr.Dataset:
        """Run the model.

        Parameters
        ----------
        params : constant values by name, or a Scenario; a value may be a scalar, a table
            ``{element: value}``, or an array shaped ``(n,)`` or ``(n, *subscripts)``.
        n : number of runs (default 1; inferred from per-run arrays when omitted).
        outputs : variables or standard indicators to record (default: all).
        chunk : compute at most this many runs at once (bounds working memory).
        scenario : scenario name for the provenance attrs (taken from a Scenario otherwise).

        Returns
        -------
        xarray.Dataset
            Dimensions ``run``, ``time`` and the subscripts; units in each variable's attrs.
        """
        parts = list(self.run_chunks(params, n=n, outputs=outputs, chunk=chunk, scenario=scenario))
        if len(parts) == 1:
            return parts[0]
        return xr.concat(
            parts, dim="run", data_vars="minimal", coords="minimal", combine_attrs="override"
        )

    def prepare(
        self, params: Mapping[str, Any] | Any | None, n: int | None
    ) -> tuple[str, dict[str, np.ndarray], int]:
        """Validate parameters; returns the scenario name, arrays by Vensim name and ``n``."""
        name, raw, _ = split_scenario(params)
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ParameterError(f"n must be a positive whole number of runs; got {n!r}")
        guess = n or _infer_n(self.info, raw)
        arrays = coerce_params(self.info, raw, n=guess)
        return name, arrays, guess

    def run_chunks(
        self,
        params: Mapping[str, Any] | Any | None = None,
        *,
        n: int | None = None,
        outputs: Sequence[str] | None = None,
        chunk: int | None = None,
        scenario: str | None = None,
    ) -> Iterator[xr.Dataset]:
        """Like :meth:`run`, but yield one Dataset per chunk of runs (for huge ensembles).

        The ``run`` coordinate of each chunk continues from the previous one.
        """
        name, arrays, total = self.prepare(params, n)
        names = self._resolve_outputs(outputs)
        if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
            raise ParameterError(f"chunk must be a positive whole number; got {chunk!r}")
        size = chunk or total
        attrs = self.provenance(scenario or name, arrays)
        for start in range(0, total, size):
            stop = min(start + size, total)
            sliced = {
                k: (v[start:stop] if v.ndim > len(self.info.constants[k].dims) else v)
                for k, v in arrays.items()
            }
            # runs keep their RANDOM streams (rng.py) however the ensemble is chunked
            result = self._runner.simulate(sliced, stop - start, names, first_run=start)
            attrs = {**attrs, "engine": self.engine_path}  # the path that actually ran
            yield self.to_dataset(result, np.arange(start, stop), attrs, sliced)

    def simulate(
        self,
        params: Mapping[str, Any] | Any | None = None,
        *,
        n: int | None = None,
        outputs: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Like :meth:`run` without the Dataset: ``{Vensim name: (run, time, *dims) array}``.

        For ensembles that reduce the arrays themselves (Monte Carlo, sensitivity), where
        wrapping every chunk in xarray would cost more than the runs.
        """
        _, arrays, total = self.prepare(params, n)
        return self._runner.simulate(arrays, total, self._resolve_outputs(outputs))

    def provenance(self, scenario: str, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
        """Attrs that say where a result came from."""
        return {
            "model_sha256": self.sha256,
            "model_file": self.path.name,
            "scenario": scenario or "default",
            "parameters_changed": json.dumps(changed_params(self.info, arrays), ensure_ascii=False),
            "urbsim_version": __version__,
            "engine": self.engine_path,
        }

    def to_dataset(
        self,
        arrays: Mapping[str, np.ndarray],
        runs: np.ndarray,
        attrs: Mapping[str, str],
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> xr.Dataset:
        """Wrap engine arrays ``(run, time, *dims)`` into a Dataset with units and indicators.

        ``inputs`` (the parameter arrays the runs used, by Vensim name) become variables on the
        ``run`` dimension (``(run, *subscripts)``, attr ``role = "input"``), as in an
        experiments table, whatever outputs were recorded.
        """
        variables: dict[str, xr.Variable] = {}
        for name, arr in (inputs or {}).items():
            if name in arrays:
                continue  # recorded as an output already (a constant asked for by name)
            c = self.info.constants[name]
            shape = np.shape(arr)
            per_run = np.broadcast_to(arr, (len(runs), *shape[len(shape) - len(c.dims) :]))
            variables[name] = xr.Variable(
                ("run", *c.dims), per_run, attrs={"units": c.units, "role": "input"}
            )
        for name, arr in arrays.items():
            var = self.info.variables[name]
            variables[name] = xr.Variable(
                ("run", "time", *var.dims), arr, attrs={"units": var.units}
            )
        variables.update(indicator_variables(variables))
        return self._dataset(variables, runs, attrs)

    @cached_property
    def _coordinates(self) -> dict[str, tuple[xr.IndexVariable, PandasIndex]]:
        """``time`` (years) and every subscript range: coordinate and index, built once.

        Building them (pandas indexes of the labels) was most of a single run's Dataset;
        each Dataset gets shallow copies, so changing one's attrs leaves the others alone.
        """
        labels = {"time": np.asarray(self.time, dtype=np.float64)}
        labels.update({d: np.array(list(v)) for d, v in self.info.subscripts.items()})
        out = {}
        for dim, values in labels.items():
            var = xr.IndexVariable(dim, values, {"units": "year"} if dim == "time" else None)
            out[dim] = (var, PandasIndex.from_variables({dim: var}, options={}))
        return out

    def _dataset(
        self, variables: dict[str, xr.Variable], runs: np.ndarray, attrs: Mapping[str, str]
    ) -> xr.Dataset:
        """The Dataset of ``variables`` (dims ``run``, ``time`` and subscripts), with the
        cached coordinates of the dims they use, constructed without xarray's merge and
        alignment: every variable here is built on exactly these dims and sizes (the result is
        identical to ``xr.Dataset(variables, coords=...)``, tested)."""
        run = xr.IndexVariable("run", np.asarray(runs))
        coords = {"run": run}
        indexes = {"run": PandasIndex.from_variables({"run": run}, options={})}
        used = [d for v in variables.values() for d in v.dims]
        for dim in ["time", *used]:
            if dim not in coords:
                var, index = self._coordinates[dim]
                coords[dim] = var.copy(deep=False)
                indexes[dim] = index
        # dims in xarray's order: as the data variables use them, then the coordinates'
        sizes = {d: coords[d].size for d in [*used, *coords]}
        names = set(coords)
        return xr.Dataset._construct_direct(
            {**coords, **variables}, names, sizes, dict(attrs), indexes=indexes
        )


def _infer_n(info: ModelInfo, raw: Mapping[str, Any]) -> int:
    """Number of runs implied by per-run arrays (1 when every value is shared)."""
    sizes = set()
    for key, v in raw.items():
        if isinstance(v, Mapping):
            continue
        try:
            arr = np.asarray(v)
        except (ValueError, TypeError, OverflowError):
            continue  # ragged or not numbers: coerce_params says what is wrong
        try:
            dims = info.constants[info.resolve(key)].dims
        except KeyError:
            continue  # coerce_params reports the unknown name
        if arr.ndim > len(dims):
            sizes.add(arr.shape[0])
    if len(sizes) > 1:
        raise ParameterError(
            f"per-run parameter arrays disagree on the number of runs: {sorted(sizes)}"
        )
    return sizes.pop() if sizes else 1


def load_model(
    path: str | Path | None = None, *, engine: str = "fast", backend: str = "numpy"
) -> Model:
    """Load the model (default ``model/urbsim.mdl``) with the ``fast`` or ``pysd`` engine.

    Example
    -------
    >>> model = load_model(engine="pysd")
    """
    return Model(path, engine=engine, backend=backend)
