"""The ``urbsim`` command: run scenarios, check the model and scenario files, launch the app.

Exit codes: 0 success; 1 a check found problems or an unexpected failure; 2 bad input (every
:class:`~urbsim.errors.UrbsimError` and every usage error, reported as one line on stderr);
130 interrupted. ``URBSIM_DEBUG=1`` shows the traceback of unexpected failures.

Other packages add subcommands through ``add_commands(subparsers)`` in
``urbsim.ensemble.cli`` and ``urbsim.app.cli``; each sets ``func`` (returning an exit code) with
``set_defaults``.

Example
-------
>>> main(["run", "--scenario", "plan", "--set", "reward per settler=5000"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import urbsim
from urbsim.errors import ModelError, OutputError, UrbsimError
from urbsim.fileio import add_force, check_folder, check_new, display_path, write_atomic
from urbsim.i18n import LANGUAGES, error_text, text
from urbsim.indicators import INDICATORS
from urbsim.mdlguard import ModelRefused
from urbsim.model import ENGINES
from urbsim.paths import default_model_path
from urbsim.report import align, target_table
from urbsim.tables import annual, provenance, write_table

EXTENSIONS = ("urbsim.ensemble.cli", "urbsim.app.cli", "urbsim.brief", "urbsim.pathways.cli")
OUT_SUFFIXES = (".nc", ".csv", ".xlsx")
BUILTIN_COMMANDS = ("run", "check", "scenarios", "app")
LOCALHOST = "127.0.0.1"


class UsageError(Exception):
    """A command-line usage error (argparse's), reported like an UrbsimError."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become one line (and exit 2) instead of usage + message."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# -- run --------------------------------------------------------------------------------------


@cache
def _model(engine: str, path: Path, mtime_ns: int) -> urbsim.Model:
    """A loaded model, kept for repeated in-process calls (compiling takes seconds)."""
    return urbsim.load_model(path, engine=engine)


def load_cached_model(engine: str) -> urbsim.Model:
    """The project's model with ``engine``, compiled once per process and model version."""
    path = default_model_path()
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    return _model(engine, path, path.stat().st_mtime_ns)


def check_out_path(out: Path, force: bool = False) -> None:
    """Fail before running if ``out`` has a bad suffix, exists (without ``force``) or its
    folder cannot be written."""
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise OutputError(
            f"--out {out}: unsupported file type {out.suffix or '(none)'!r}; allowed: "
            f"{', '.join(OUT_SUFFIXES)}"
        )
    check_folder(out)
    if out.is_dir():
        raise OutputError(f"--out {out}: is a folder; give a file name ending in .nc or .csv")
    check_new(out, force)
    try:  # trying is the only test that also holds for root, ACLs and read-only mounts
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise OutputError(
            f"--out {out}: folder {out.parent} is not writable ({exc.strerror})"
        ) from None


def indicators_long(ds: xr.Dataset, every_step: bool = False) -> pd.DataFrame:
    """Standard indicators as a tidy table: run, time, variable, units, value.

    Whole years only unless ``every_step`` (the model saves every quarter year).
    """
    frames = []
    for name in INDICATORS:
        if name not in ds:
            continue
        da = ds[name]
        frame = da.to_dataframe(name="value").reset_index()[["run", "time", "value"]]
        frame.insert(2, "variable", name)
        frame.insert(3, "units", da.attrs.get("units", ""))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return table if every_step else annual(table)


def write_result(ds: xr.Dataset, out: Path, every_step: bool = False) -> list[Path]:
    """Write ``ds`` to ``out``: NetCDF (everything, attrs kept), or the indicators as a tidy
    table (.csv with a ``NAME.meta.json`` provenance sidecar, or .xlsx with a provenance sheet).

    Returns the files written.
    """
    if out.suffix.lower() == ".nc":
        write_atomic(out, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"))
        return [out]
    table = indicators_long(ds, every_step)
    meta = provenance(ds.attrs, rows="every saved time" if every_step else "whole years")
    return write_table(table, out, meta)


def run_inputs(model, scenario, args: argparse.Namespace, outputs) -> xr.Dataset:
    """``urbsim run``'s one run: the central inputs of the default Monte Carlo ensemble, or the
    model's documented defaults with ``--defaults``; the ``inputs`` attr says which."""
    if args.defaults:
        ds = model.run(scenario, outputs=outputs)
        ds.attrs["inputs"] = "the model's documented defaults"
        return ds
    from urbsim.posterior import central_run

    return central_run(model, scenario, "prior" if args.prior else "auto", outputs)


def inputs_line(inputs: str, lang: str) -> str:
    """The line under ``run``'s table that says which inputs the run used."""
    if not inputs.startswith("central"):
        return text(lang, "report.run_defaults")
    kind = "posterior" if inputs.split(": ", 1)[-1].startswith("posterior") else "prior"
    return text(lang, "report.run_central") + text(lang, f"report.ensemble_{kind}")


def cmd_run(args: argparse.Namespace) -> int:
    """``urbsim run``: one scenario, the target table, optionally a result file."""
    from urbsim.params import coerce_params
    from urbsim.scenarios import load_scenario, parse_set

    out = Path(args.out) if args.out is not None else None  # --out "" is refused, not ignored
    if out is not None:
        check_out_path(out, args.force)
    scenario = load_scenario(args.scenario)
    overrides = parse_set(args.set or [])
    model = load_cached_model(args.engine)
    coerce_params(model.info, overrides, n=1, where="--set")
    scenario = scenario.with_overrides(overrides)
    # A NetCDF file gets every variable; the table and the CSV need only the indicators.
    everything = out is not None and out.suffix.lower() == ".nc"
    outputs = None if everything else list(INDICATORS)
    ds = run_inputs(model, scenario, args, outputs)
    lang = args.lang
    print(
        text(
            lang,
            "report.run_head",
            name=scenario.name,
            title=scenario.title.get(lang, scenario.name),
            engine=ds.attrs["engine"],
            model=ds.attrs["model_sha256"][:12],
        )
    )
    print(target_table(ds, lang))
    print(inputs_line(ds.attrs["inputs"], lang))
    if out is not None:
        for path in write_result(ds, out, args.every_step):
            print(f"Wrote {path}")
    return 0


# -- check ------------------------------------------------------------------------------------


def model_problems(path: Path) -> list[str]:
    """Documentation and unit problems of a model file, one ``FILE:LINE: ...`` line each."""
    from urbsim.mdlinfo import LEVER_GROUPS, model_info, name_clashes
    from urbsim.units import check_units

    info = model_info(path)
    where = display_path(info.path)
    problems = [
        f"{where}:{b_line}: {b!r} is the same name as {a!r} (line {a_line}) in Vensim, which "
        "ignores case, spaces and underscores; rename one"
        for (a_line, a), (b_line, b) in name_clashes(info.path.read_text(encoding="utf-8"))
    ]
    for c in info.constants.values():
        at = f"{where}:{c.line}: {c.name!r}"
        if c.range is None:
            problems.append(f"{at}: no [min,max] range in its unit field")
        if not c.source:
            problems.append(f"{at}: no 'Source: ...' in its comment")
        if c.lever and c.lever not in LEVER_GROUPS:
            problems.append(
                f"{at}: unknown lever group {c.lever!r}; allowed: {', '.join(LEVER_GROUPS)}"
            )
    return problems + check_units(info.path)


def scenario_problems(model_path: Path) -> tuple[int, list[str]]:
    """Validate every built-in scenario file; returns the count and one line per problem."""
    from urbsim.mdlinfo import model_info
    from urbsim.scenarios import read_scenario, scenario_files

    info = model_info(model_path)
    problems = []
    files = scenario_files()
    for path in files:
        try:
            scenario = read_scenario(path, info)
        except UrbsimError as exc:
            problems.append(str(exc))
            continue
        missing = [k for k in ("title", "description") if k not in tomllib.loads(path.read_text())]
        if missing:
            problems.append(
                f"{display_path(path)}:1: a built-in scenario needs [{'] and ['.join(missing)}] "
                "in English and Chinese"
            )
        if scenario.name != path.stem:
            problems.append(
                f"{display_path(path)}:1: name {scenario.name!r} differs from the file name "
                f"{path.stem!r}"
            )
    return len(files), problems


def constants_listing(model_path: Path) -> str:
    """Every constant with its unit, range, default and lever/uncertain/calibrated flags."""
    from urbsim.mdlinfo import model_info

    info = model_info(model_path)
    rows = [["name", "unit", "range", "default", "flags"]]
    for c in info.constants.values():
        rng = f"[{c.range[0]:g}, {c.range[1]:g}]" if c.range else "-"
        default = ", ".join(f"{v:g}" for v in np.ravel(c.default))
        flags = [f"lever:{c.lever}"] if c.lever else []
        flags += ["uncertain"] * c.uncertain + ["calibrated"] * c.calibrated
        name = c.name + (f"[{','.join(c.dims)}]" if c.dims else "")
        rows.append([name, c.units, rng, default, " ".join(flags)])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    cells = ("  ".join(c.ljust(w) for c, w in zip(r, widths + [0], strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in cells)


def cmd_check(args: argparse.Namespace) -> int:
    """``urbsim check``: validate the model and every scenario; exit 1 on any problem."""
    path = Path(args.model) if args.model else default_model_path()
    if args.list:
        print(constants_listing(path))
        return 0
    try:
        problems = model_problems(path)
    except ModelRefused:
        raise  # unsafe or unreadable: bad input (exit 2), not a problem of a model
    except ModelError as exc:
        print(f"model: 1 problem\n  {exc}")
        return 1
    count, bad = scenario_problems(path)
    print(f"model {path.name}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    for p in problems:
        print(f"  {p}")
    print(f"scenarios: {count} file(s), {'ok' if not bad else f'{len(bad)} problem(s)'}")
    for p in bad:
        print(f"  {p}")
    from urbsim.engine.native import availability

    print(f"engine: {availability()}")
    if args.compile:
        print(f"engine: {precompile(path)}")
    stale = False
    if path.resolve() == default_model_path().resolve():
        from urbsim.posterior import posterior_status

        status = posterior_status(load_cached_model("fast"))
        stale = "STALE" in status
        print(status)
    return 1 if problems or bad or stale else 0


def precompile(path: Path) -> str:
    """Build (or load from this machine's cache) the native kernels of the model at ``path``
    for single runs and batches of every variable (``Model.run``'s default) and, for the
    project's model, of the standard indicators and the charts' variables: a new set of
    outputs pauses its first call to compile (5-25 s); after this, those sets do not, in any
    process on this machine. Returns one line for ``urbsim check``."""
    from urbsim.charts import CHART_OUTPUTS

    start = time.perf_counter()
    model = urbsim.load_model(path)
    sets: list[list[str] | None] = [None]
    if path.resolve() == default_model_path().resolve():
        sets += [list(INDICATORS), list(CHART_OUTPUTS)]
    for outputs in sets:
        for n in (1, 17):  # the single-run kernel, then the batch kernel
            model.simulate(n=n, outputs=outputs)
    seconds = time.perf_counter() - start
    return (
        f"kernels ready for {len(sets)} set(s) of outputs, single runs and batches, in "
        f"{seconds:.0f} s (cached on this machine): {model.native_status}"
    )


# -- calibrate --------------------------------------------------------------------------------


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``urbsim calibrate``: sample the Bayesian posterior and write it beside the model."""
    from tqdm import tqdm

    from urbsim.calibration import load_observed
    from urbsim.ensemble.sampling import check_n, check_seed
    from urbsim.posterior import default_path, posterior

    seed = check_seed(args.seed)
    steps = check_n(args.steps, "steps")
    out = Path(args.out) if args.out else default_path()
    check_out_path(out, args.force)
    if args.observed:
        load_observed(args.observed)  # a bad file is one line, before any work
    model = load_cached_model("fast")
    with tqdm(total=steps, unit="step", file=sys.stderr, desc="MCMC") as bar:
        post = posterior(model, seed=seed, steps=steps, progress=lambda k, total: bar.update(1))
    post.save(out)
    q = np.percentile(post.draws, [5, 50, 95], axis=0)
    rows = [["constant", "p5", "median", "p95", "shrinkage", "ESS"]]
    for j, name in enumerate(post.names):
        rows.append(
            [name, *(f"{v:.4g}" for v in q[:, j]), f"{post.shrinkage[j]:.2f}", f"{post.ess[j]:.0f}"]
        )
    print("\n".join(align(rows, right_from=1)))
    print(
        f"acceptance {post.attrs['acceptance_fraction']:.2f}, longest autocorrelation time "
        f"{post.attrs['autocorr_time_max']:.0f} steps; wrote {out}"
    )
    return 0


# -- scenarios, app ---------------------------------------------------------------------------


def cmd_scenarios(args: argparse.Namespace) -> int:
    """``urbsim scenarios``: each built-in scenario with its title and description."""
    from urbsim.scenarios import list_scenarios

    for scenario in list_scenarios():
        print(f"{scenario.name}: {scenario.title[args.lang]}")
        body = scenario.description[args.lang]
        # textwrap breaks at spaces; Chinese has none, so leave it to the terminal
        print(textwrap.indent(textwrap.fill(body, 88) if args.lang == "en" else body, "    "))
        print()
    return 0


def app_path() -> Path:
    """``streamlit_app.py`` at the top of the source checkout."""
    return Path(urbsim.__file__).resolve().parents[2] / "streamlit_app.py"


def cmd_app(args: argparse.Namespace) -> int:
    """``urbsim app``: run the Streamlit app (blocks until it stops)."""
    script = app_path()
    if not script.is_file():
        raise UrbsimError(
            f"{script}: the app script is missing; `urbsim app` needs a source checkout "
            "(pip install -e .)"
        )
    return run_until_stopped(streamlit_command(args.port, address=args.address))


def run_until_stopped(command: list[str]) -> int:
    """Run ``command`` and wait; SIGTERM and SIGHUP sent to urbsim are passed on to it, so
    stopping ``urbsim app`` stops the Streamlit server too (no orphan keeps the port)."""
    proc = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    stops = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    previous = {name: signal.signal(getattr(signal, name), forward) for name in stops}
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # Ctrl-C reached Streamlit too: let it finish
                proc.send_signal(signal.SIGINT)
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def streamlit_command(port: int, *, headless: bool = False, address: str = LOCALHOST) -> list[str]:
    """The command that serves the policy lab on ``address:port`` (used by ``urbsim app``, the
    browser test and ``bench/app.py``); ``headless`` opens no browser window.

    Error details are off for visitors and uploads are limited to 1 MB (scenario files are
    at most :data:`urbsim.scenarios.MAX_SCENARIO_BYTES`); no forced garbage collection after
    each rerun.
    """
    command = [
        sys.executable,
        "-m",
        "urbsim.app.server",  # warms the model first, then `streamlit run`
        str(app_path()),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.maxUploadSize",
        "1",
        "--client.showErrorDetails",
        "none",
    ]
    command += ["--browser.gatherUsageStats", "false"]
    command += ["--client.toolbarMode", "minimal"]  # no Deploy button, no developer menu
    # Streamlit's full garbage collection after every rerun walked the warmed heap (~0.13 s of
    # every slider move); Python's own collector still runs (see urbsim.app.server).
    command += ["--runner.postScriptGC", "false"]
    return command + (["--server.headless", "true"] if headless else [])


def _address(text: str) -> str:
    """An IP address or host name to listen on."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if re.fullmatch(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*", text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not an IP address or host name")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


# -- parser and main --------------------------------------------------------------------------


def build_parser(extensions: bool = True) -> argparse.ArgumentParser:
    """The ``urbsim`` argument parser, with the extension subcommands if ``extensions``."""
    parser = _Parser(prog="urbsim", description=__doc__.split("\n\n")[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"urbsim {urbsim.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a scenario and print the plan's targets",
        description="Run one scenario (optionally with --set changes) and print the plan's "
        "represented targets: the 2025 value, the target, whether it is met, and the values "
        "in 2030 and 2035; --out writes the result.",
    )
    run.add_argument(
        "--scenario",
        default="plan",
        metavar="NAME|PATH",
        help="built-in scenario name or .toml file (default: plan)",
    )
    run.add_argument(
        "--set",
        action="append",
        metavar='"VAR=VALUE"',
        help='override a constant: "VAR=VALUE" or "VAR[element]=VALUE" (repeatable)',
    )
    run.add_argument(
        "--engine",
        choices=ENGINES,
        default="fast",
        help="fast: urbsim's compiled engine (default); pysd: the reference, ~40 s per run",
    )
    run.add_argument(
        "--out",
        metavar="FILE.nc|FILE.csv",
        help="write all variables (.nc), or the indicators as a tidy table: .csv (UTF-8, "
        "provenance in NAME.meta.json beside it) or .xlsx (with a provenance sheet)",
    )
    run.add_argument(
        "--every-step",
        action="store_true",
        help="tables hold every saved time (quarter years) instead of whole years",
    )
    run.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    inputs = run.add_mutually_exclusive_group()
    inputs.add_argument(
        "--prior",
        action="store_true",
        help="take the central inputs of the prior ensemble (the middle of each Uncertain "
        "constant's range) instead of the posterior's (see 'urbsim mc --prior')",
    )
    inputs.add_argument(
        "--defaults",
        action="store_true",
        help="run the model's documented defaults (calibrated constants at the least-squares "
        "fit) instead of the central inputs of the Monte Carlo ensemble",
    )
    add_force(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="validate the model and the scenario files")
    check.add_argument(
        "--list",
        action="store_true",
        help="list every constant with unit, range, default and flags",
    )
    check.add_argument("--model", metavar="PATH", help="model file (default: model/urbsim.mdl)")
    check.add_argument(
        "--compile",
        action="store_true",
        help="also compile the engine's kernels for the outputs urbsim's commands ask for, so "
        "that no first run waits for the C compiler (once per machine, about a minute)",
    )
    check.set_defaults(func=cmd_check)

    cal = sub.add_parser(
        "calibrate",
        help="sample the Bayesian posterior of the calibrated and most influential constants",
        description="Bayesian calibration (emcee, affine-invariant MCMC over the vectorized "
        "engine) against model/data/observed.csv; writes model/data/posterior.nc, which every "
        "ensemble then draws from (use --prior on mc to ignore it).",
    )
    cal.add_argument("--seed", type=int, required=True, help="seed of the sampler")
    cal.add_argument(
        "--steps", type=int, default=4000, help="chain length; the first half is burn-in"
    )
    cal.add_argument("--out", help="posterior file (default: model/data/posterior.nc)")
    cal.add_argument("--observed", help="observed-data CSV (default: model/data/observed.csv)")
    add_force(cal)
    cal.set_defaults(func=cmd_calibrate)

    scen = sub.add_parser("scenarios", help="list the built-in scenarios")
    scen.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    scen.set_defaults(func=cmd_scenarios)

    app = sub.add_parser("app", help="open the Streamlit app")
    app.add_argument("--port", type=_port, default=8501, help="port to serve on (default 8501)")
    app.add_argument(
        "--address",
        type=_address,
        default=LOCALHOST,
        help=f"interface to listen on (default {LOCALHOST}: this computer only; 0.0.0.0: "
        "every network interface, so anyone who can reach this computer can use the app)",
    )
    app.set_defaults(func=cmd_app)

    for module_name in EXTENSIONS if extensions else ():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            parents = {module_name.rsplit(".", i)[0] for i in range(module_name.count("."))}
            if exc.name in parents:
                continue  # that package is not installed (yet): no extra commands
            raise
        if hasattr(module, "add_commands"):
            module.add_commands(sub)
    return parser


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signum)


def _show_notices() -> None:
    """urbsim's progress lines and notices (logger ``urbsim``, INFO and up) as ``urbsim: ...``
    lines on stderr, once per process."""
    log = logging.getLogger("urbsim")
    if any(isinstance(h, _StderrHandler) for h in log.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("urbsim: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (it may be replaced after start-up)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``urbsim`` console script; returns the exit code.

    SIGTERM unwinds like Ctrl-C (exit 130), so every error path's cleanup runs (temporary
    files, the state of a Monte Carlo that kept no chunk).
    """
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _show_notices()
    command = next((a for a in argv if not a.startswith("-")), None)
    args = None
    try:
        # Extensions import heavy packages (the app imports streamlit): load them only when the
        # command is not a built-in one, or for the full --help.
        args = build_parser(extensions=command not in BUILTIN_COMMANDS).parse_args(argv)
        return int(args.func(args))
    except (UrbsimError, UsageError) as exc:
        # in the command's --lang where it has one (scenario and value errors are catalogued)
        message = " ".join(error_text(getattr(args, "lang", None) or "en", exc).split())
        print(f"urbsim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("urbsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`urbsim scenarios | head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if os.environ.get("URBSIM_DEBUG") == "1":
            raise
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(
            f"urbsim: unexpected failure: {message} (set URBSIM_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
