"""The ``urbsim`` command, called in-process through ``cli.main`` (and once as a console script)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types

import pandas as pd
import pytest
import xarray as xr

from urbsim import cli
from urbsim.i18n import text
from urbsim.indicators import TARGETS, UNREPRESENTED
from urbsim.posterior import central_run
from urbsim.report import display_width
from urbsim.scenarios import load_scenario
from urbsim.units import check_units


@pytest.fixture(autouse=True)
def _shared_model(fast_model, monkeypatch):
    """Let ``urbsim run`` reuse the session's compiled model instead of compiling its own."""
    monkeypatch.setattr(cli, "load_cached_model", lambda engine: fast_model)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("urbsim: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# -- run --------------------------------------------------------------------------------------


def test_run_prints_every_target(capsys):
    code, out, err = run_cli(capsys, "run", "--scenario", "plan")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    for target in TARGETS.values():
        assert target.id in rows and text("en", f"indicators.{target.indicator}") in rows[target.id]
        assert rows[target.id].split()[-3] in ("yes", "no")
    assert f"{len(UNREPRESENTED)} targets of the plan are not represented" in out
    assert out.splitlines()[0].startswith("Scenario plan: ")


def test_run_in_chinese_names_indicators_and_aligns_columns(capsys):
    code, out, err = run_cli(capsys, "run", "--scenario", "plan", "--lang", "zh")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("情景 plan：")
    t2 = next(line for line in lines if line.startswith("T2 "))
    assert text("zh", "indicators.county_town_share") in t2
    assert text("zh", "report.yes") in out or text("zh", "report.no") in out
    table = lines[1 : 2 + len(TARGETS)]
    # every row ends at the same display column: right-aligned numbers, Chinese counted double
    assert len({display_width(line) for line in table}) == 1


def test_run_in_english_uses_english_units(capsys):
    code, out, _ = run_cli(capsys, "run", "--scenario", "plan")
    assert code == 0
    table = "\n".join(out.splitlines()[1:-1])
    assert "100M yuan" in table and not re.search(r"[\u4e00-\u9fff]", table)


def test_run_target_table_agrees_with_the_model(capsys, fast_model):
    code, out, _ = run_cli(capsys, "run", "--scenario", "baseline")
    assert code == 0
    ds = central_run(fast_model, load_scenario("baseline"), outputs=["county_gdp"])
    gdp_2025 = float(ds.county_gdp.sel(time=2025.0).squeeze())
    row = next(line for line in out.splitlines() if line.startswith("T1 "))
    assert f"{gdp_2025:,.0f}" in row
    assert ("yes" in row.split()) == (gdp_2025 >= TARGETS["T1"].threshold)


def test_run_writes_netcdf_with_provenance(capsys, tmp_path, fast_model):
    out = tmp_path / "plan.nc"
    code, stdout, err = run_cli(
        capsys, "run", "--scenario", "plan", "--set", "reward per settler=5000", "--out", str(out)
    )
    assert code == 0, err
    with xr.open_dataset(out) as ds:
        assert ds.attrs["model_sha256"] == fast_model.sha256
        assert ds.attrs["scenario"] == "plan+custom"
        assert json.loads(ds.attrs["parameters_changed"])["reward per settler"] == 5000
        assert ds.attrs["urbsim_version"] == cli.urbsim.__version__
        assert "Total Population" in ds and "county_town_share" in ds
        assert ds["Total Population"].attrs["units"] == "wperson"
        assert ds.sizes["time"] == len(fast_model.time)
    assert [p.name for p in tmp_path.iterdir()] == ["plan.nc"]


def test_run_writes_plain_csv_with_a_provenance_sidecar(capsys, tmp_path, fast_model):
    out = tmp_path / "plan.csv"
    code, stdout, err = run_cli(capsys, "run", "--out", str(out))
    assert code == 0, err
    assert out.read_bytes().startswith(b"\xef\xbb\xbfrun,time,")  # BOM: Excel reads UTF-8
    table = pd.read_csv(out)  # no options
    assert list(table.columns) == ["run", "time", "variable", "units", "value"]
    assert set(t.indicator for t in TARGETS.values()) <= set(table.variable)
    assert table.groupby("variable").size().nunique() == 1  # every indicator at every time
    whole = sorted({int(t) for t in fast_model.time if float(t).is_integer()})
    assert sorted(table.time.unique()) == whole  # whole years by default
    meta = json.loads((tmp_path / "plan.meta.json").read_text(encoding="utf-8"))
    assert meta["scenario"] == "plan" and meta["model_sha256"]
    assert isinstance(meta["parameters_changed"], dict)
    assert "plan.meta.json" in stdout


def test_run_every_step_keeps_quarter_years(capsys, tmp_path, fast_model):
    out = tmp_path / "plan.csv"
    code, _, err = run_cli(capsys, "run", "--out", str(out), "--every-step")
    assert code == 0, err
    assert pd.read_csv(out).time.nunique() == len(fast_model.time)


def test_run_writes_xlsx_with_a_provenance_sheet(capsys, tmp_path):
    out = tmp_path / "plan.xlsx"
    code, _, err = run_cli(capsys, "run", "--scenario", "baseline", "--out", str(out))
    assert code == 0, err
    sheets = pd.read_excel(out, sheet_name=None, engine="openpyxl")
    assert set(sheets) == {"data", "provenance"}
    assert list(sheets["data"].columns) == ["run", "time", "variable", "units", "value"]
    prov = dict(zip(sheets["provenance"].key, sheets["provenance"].value, strict=True))
    assert prov["scenario"] == "baseline"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_run_refuses_to_overwrite_without_force(capsys, tmp_path):
    out = tmp_path / "x.csv"
    out.write_text("old results\n")
    code, _, err = run_cli(capsys, "run", "--out", str(out))
    assert_one_line_error(code, err, "already exists", "--force")
    assert out.read_text() == "old results\n"
    code, _, err = run_cli(capsys, "run", "--out", str(out), "--force")
    assert code == 0, err and pd.read_csv(out).shape[0] > 0


def test_failed_write_leaves_no_file(capsys, tmp_path, monkeypatch):
    def broken_to_netcdf(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"CDF\x01half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken_to_netcdf)
    code, _, err = run_cli(capsys, "run", "--out", str(tmp_path / "x.nc"))
    assert_one_line_error(code, err, "x.nc: cannot be written: disk full")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(capsys, tmp_path, monkeypatch):
    out = tmp_path / "x.csv"
    out.write_text("old results\n")
    monkeypatch.setattr(cli, "indicators_long", lambda ds, every_step: 1 / 0)
    code, _, err = run_cli(capsys, "run", "--out", str(out), "--force")
    assert code == 1 and "ZeroDivisionError" in err
    assert out.read_text() == "old results\n" and [p.name for p in tmp_path.iterdir()] == ["x.csv"]


BAD_RUNS = [
    (["run", "--set", "reward per settler"], ["--set 'reward per settler'", "VAR=VALUE"]),
    (
        ["run", "--set", "reward per settler=20000"],
        ["--set: 'reward per settler' = 20000", "[0, 10000]"],
    ),
    (["run", "--set", "park investment policy[city]=3"], ["no element 'city'", "urb, agr, eco"]),
    (["run", "--set", "no such thing=3"], ["--set: unknown variable 'no such thing'"]),
    (["run", "--out", "result.txt"], ["'.txt'", ".nc, .csv, .xlsx"]),
    (["run", "--out", "/no/such/folder/x.nc"], ["/no/such/folder does not exist"]),
    (["run", "--out", "/proc/x.nc"], ["/proc is not writable"]),
    (["run", "--scenario", "nosuch"], ["unknown scenario 'nosuch'", "plan"]),
    (["run", "--engine", "turbo"], ["invalid choice: 'turbo'"]),
    (["run", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    ([], ["the following arguments are required"]),
    (["app", "--port", "99999"], ["not a port number"]),
]


@pytest.mark.parametrize(
    "argv, fragments", BAD_RUNS, ids=[" ".join(a) or "(none)" for a, _ in BAD_RUNS]
)
def test_bad_input_gives_one_line_and_exit_2(capsys, tmp_path, monkeypatch, argv, fragments):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "EXTENSIONS", ())  # their import-time output is theirs to test
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *fragments)
    assert list(tmp_path.iterdir()) == []


BAD_FILES = {
    "bad-syntax": ["bad-syntax.toml:13:", "TOML syntax error"],
    "bad-unknown-variable": ["bad-unknown-variable.toml:13:", "'reward per setler'"],
    "bad-range": ["bad-range.toml:13:", "'reward per settler' = 20000", "[0, 10000]"],
    "bad-type": ["bad-type.toml:13:", "must be a number"],
    "bad-shape": ["bad-shape.toml:13:", "is not subscripted"],
    "bad-element": ["bad-element.toml:13:", "no element 'city'", "urb, agr, eco"],
}


@pytest.mark.parametrize("stem", sorted(BAD_FILES))
def test_bad_scenario_file_gives_one_line_and_exit_2(capsys, data_dir, stem):
    code, _, err = run_cli(capsys, "run", "--scenario", str(data_dir / f"{stem}.toml"))
    assert_one_line_error(code, err, *BAD_FILES[stem])


# -- check, scenarios, app --------------------------------------------------------------------


def test_check_reports_the_project_state(capsys):
    code, out, _ = run_cli(capsys, "check")
    assert code == (1 if "problem(s)" in out else 0)
    for problem in check_units():  # unit problems of the real model are listed, if any
        assert f"  {problem}" in out
    assert "scenarios: " in out


def test_check_says_which_engine_path_runs(capsys, monkeypatch):
    from urbsim.engine import native

    monkeypatch.setattr(native, "compiler", lambda: ["/opt/cc"])
    assert "engine: C compiler /opt/cc: runs use the native path" in run_cli(capsys, "check")[1]
    monkeypatch.setattr(native, "compiler", lambda: None)
    out = run_cli(capsys, "check")[1]
    assert "engine: no C compiler found: runs use the numpy code" in out and "gcc" in out
    monkeypatch.setenv("URBSIM_NATIVE", "0")
    assert "engine: URBSIM_NATIVE=0: runs use the numpy code" in run_cli(capsys, "check")[1]


def test_check_compile_leaves_no_first_run_waiting_for_the_compiler(
    capsys, tmp_path, monkeypatch, caplog
):
    """``urbsim check --compile`` builds the kernels of a model's outputs once per machine: a
    later process's first single run and first batch load them instead of compiling."""
    import logging
    from pathlib import Path

    from urbsim import Model
    from urbsim.engine import native

    if native.compiler() is None:
        pytest.skip("no C compiler: nothing to compile")
    monkeypatch.setenv("URBSIM_CACHE_DIR", str(tmp_path / "cache"))  # empty
    model = tmp_path / "smooth.mdl"
    shutil.copy(Path(__file__).parent / "engine" / "probes" / "smooth.mdl", model)
    out = run_cli(capsys, "check", "--model", str(model), "--compile")[1]
    assert "engine: kernels ready for 1 set(s) of outputs" in out and "vector maths" in out
    again = Model(model)  # as in a new process: only the disk cache is shared
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="urbsim"):
        again.simulate(n=1)
        again.simulate(n=5)
    assert again.engine_path.startswith("native")
    assert not [r for r in caplog.records if "compiling the model kernel" in r.getMessage()]


def test_check_lists_problems_of_a_small_model(capsys, tmp_path, monkeypatch):
    model = tmp_path / "small.mdl"
    model.write_text(
        "{UTF-8}\n"
        "a = 1\n\t~\twperson\n\t~\tNo range, no source.\n\t|\n"
        "b = 2\n\t~\tyear [0,5]\n\t~\tLever: Magic. Source: test.\n\t|\n"
        "c = a * b\n\t~\twperson\n\t~\t\n\t|\n"
        "INITIAL TIME = 0\n\t~\tyear [0,0]\n\t~\tSource: d.\n\t|\n"
        "FINAL TIME = 1\n\t~\tyear [1,1]\n\t~\tSource: d.\n\t|\n"
        "TIME STEP = 1\n\t~\tyear [1,1]\n\t~\tSource: d.\n\t|\n"
        "SAVEPER = 1\n\t~\tyear [1,1]\n\t~\tSource: d.\n\t|\n",
        encoding="utf-8",
    )
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "ok.toml").write_text(
        'name = "ok"\n[title]\nen = "t"\nzh = "t"\n[description]\nen = "d"\nzh = "d"\n'
        "[parameters]\nb = 3\n"
    )
    (scenarios / "wrong.toml").write_text(
        'name = "other"\n[title]\nen = "t"\nzh = "t"\n[description]\nen = "d"\nzh = "d"\n'
        "[parameters]\nb = 9\n"
    )
    monkeypatch.setattr("urbsim.scenarios.scenario_dir", lambda: scenarios)
    code, out, _ = run_cli(capsys, "check", "--model", str(model))
    assert code == 1
    assert f"{model}:2: 'a': no [min,max] range" in out
    assert f"{model}:2: 'a': no 'Source: ...'" in out
    assert f"{model}:6: 'b': unknown lever group 'Magic'" in out
    assert f"{model}:10: 'c': left side is wperson but right side is wperson*year" in out
    assert "wrong.toml:9: 'b' = 9 is outside its documented range [0, 5]" in out
    assert "ok.toml" not in out
    assert "scenarios: 2 file(s), 1 problem(s)" in out


def test_check_list_shows_every_constant(capsys, info):
    code, out, _ = run_cli(capsys, "check", "--list")
    assert code == 0
    names = {line.split("  ")[0].split("[")[0] for line in out.splitlines()[1:]}
    assert names == set(info.constants)
    settler = next(line for line in out.splitlines() if line.startswith("reward per settler "))
    assert "yuan/person/year" in settler and "[0, 10000]" in settler and "lever:Money" in settler


def test_check_with_an_unparsable_model_exits_1(capsys, tmp_path):
    bad = tmp_path / "bad.mdl"
    bad.write_text("{UTF-8}\nthis is = = not vensim\n|\n")
    code, out, _ = run_cli(capsys, "check", "--model", str(bad))
    assert code == 1 and "bad.mdl" in out


@pytest.mark.parametrize("lang, title", [("en", "The plan as written"), ("zh", "按方案实施")])
def test_scenarios_lists_titles_in_each_language(capsys, lang, title):
    code, out, _ = run_cli(capsys, "scenarios", "--lang", lang)
    assert code == 0 and f"plan: {title}" in out
    assert "baseline: " in out and "plan-fiscal-tight: " in out


def test_app_launches_streamlit_on_the_checkout_script(capsys, tmp_path, monkeypatch):
    script = tmp_path / "streamlit_app.py"
    script.write_text("")
    calls = []
    monkeypatch.setattr(cli, "app_path", lambda: script)
    monkeypatch.setattr(cli, "run_until_stopped", lambda cmd: calls.append(cmd) or 0)
    code, _, _ = run_cli(capsys, "app", "--port", "8600")
    assert code == 0
    [command] = calls
    # urbsim.app.server warms the model, then hands its arguments to `streamlit run`
    assert command[:4] == [sys.executable, "-m", "urbsim.app.server", str(script)]
    assert command[command.index("--client.toolbarMode") + 1] == "minimal"  # no Deploy button
    assert command[command.index("--server.port") + 1] == "8600"
    assert "--server.headless" not in command  # `urbsim app` opens the user's browser
    # this computer only, no error details for visitors, uploads of at most 1 MB
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
    assert command[command.index("--server.maxUploadSize") + 1] == "1"
    assert command[command.index("--runner.postScriptGC") + 1] == "false"  # no 0.1 s per move


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "lab.example.org"])
def test_app_address_opts_into_another_interface(address, capsys, tmp_path, monkeypatch):
    (tmp_path / "streamlit_app.py").write_text("")
    calls = []
    monkeypatch.setattr(cli, "app_path", lambda: tmp_path / "streamlit_app.py")
    monkeypatch.setattr(cli, "run_until_stopped", lambda cmd: calls.append(cmd) or 0)
    assert run_cli(capsys, "app", "--address", address)[0] == 0
    assert calls[0][calls[0].index("--server.address") + 1] == address


@pytest.mark.parametrize("address", ["", "not an address", "-x", "a" * 300])
def test_app_bad_address_is_one_line(address, capsys):
    code, _, err = run_cli(capsys, "app", f"--address={address}")
    assert_one_line_error(code, err, "--address")


def test_app_without_the_script_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "app_path", lambda: tmp_path / "streamlit_app.py")
    code, _, err = run_cli(capsys, "app")
    assert_one_line_error(code, err, "streamlit_app.py", "missing")


def test_app_path_is_next_to_the_package_checkout():
    assert cli.app_path().parent == cli.default_model_path().parent.parent


# -- extension hooks and failure handling -----------------------------------------------------


def test_extension_modules_add_commands(capsys, monkeypatch):
    module = types.ModuleType("urbsim.ensemble.cli")

    def add_commands(subparsers):
        mc = subparsers.add_parser("mc-probe")
        mc.add_argument("--runs", type=int, default=1)
        mc.set_defaults(func=lambda args: 7 if args.runs == 3 else 0)

    module.add_commands = add_commands
    monkeypatch.setitem(sys.modules, "urbsim.ensemble.cli", module)
    assert cli.main(["mc-probe", "--runs", "3"]) == 7


def test_extension_with_a_broken_import_is_not_hidden(capsys, monkeypatch):
    def fake_import(name):
        if name == "urbsim.app.cli":
            raise ModuleNotFoundError("No module named 'altair_x'", name="altair_x")
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(cli.importlib, "import_module", fake_import)
    code, _, err = run_cli(capsys, "mc")
    assert code == 1 and "altair_x" in err


def test_unexpected_errors_exit_1_without_traceback(capsys, monkeypatch):
    monkeypatch.setattr(cli, "cmd_scenarios", lambda args: {}["boom"])
    code, _, err = run_cli(capsys, "scenarios")
    assert code == 1 and "KeyError" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setenv("URBSIM_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["scenarios"])


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_scenarios", interrupted)
    assert cli.main(["scenarios"]) == 130


def test_console_script_entry_point():
    """The installed ``urbsim`` script reaches ``cli.main`` (a quick bad-input call: exit 2)."""
    exe = shutil.which("urbsim")
    assert exe, "the urbsim console script is not installed (pip install -e .)"
    done = subprocess.run(
        [exe, "run", "--scenario", "nosuch"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("urbsim: error: unknown scenario 'nosuch'; available: ")


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, __import__("argparse")._SubParsersAction):
            yield from action.choices.items()


def test_every_option_has_help_and_no_raw_markup():
    parser = cli.build_parser()
    texts = [parser.format_help()]
    for name, sub in _subparsers(parser):
        texts.append(sub.format_help())
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"urbsim {name} {action.option_strings or action.dest}"
    for page in texts:
        assert "``" not in page and "%%" not in page


def test_every_writing_command_offers_force():
    for name, sub in _subparsers(cli.build_parser()):
        options = {o for a in sub._actions for o in a.option_strings}
        if "--out" in options:
            assert "--force" in options, name


def test_compiling_a_kernel_prints_a_progress_line(capsys, monkeypatch, tmp_path):
    from urbsim.engine import native

    if native.compiler() is None:
        pytest.skip("no C compiler: nothing is compiled, so there is no progress line")
    monkeypatch.setenv("URBSIM_CACHE_DIR", str(tmp_path / "cache"))
    cli._show_notices()
    native.build("int urbsim_probe(void) { return 1; }\n", vector_math=False)
    assert "urbsim: compiling the model kernel" in capsys.readouterr().err
    native.build("int urbsim_probe(void) { return 1; }\n", vector_math=False)
    assert capsys.readouterr().err == ""  # cached: no line


def test_targets_are_listed_in_the_plan_order():
    from urbsim.report import target_order

    assert sorted(["T10", "T2b", "T1", "T2"], key=target_order) == ["T1", "T2", "T2b", "T10"]


def test_run_uses_the_ensembles_central_inputs_unless_asked_for_the_defaults(capsys):
    """`run` and `mc` tell one story: by default `run` takes the ensemble's central inputs and
    says so; --defaults runs the model's documented values, --prior the prior's centre."""
    rows = {}
    for flag in ((), ("--defaults",), ("--prior",)):
        code, out, err = run_cli(capsys, "run", "--scenario", "plan", *flag)
        assert code == 0, err
        rows[flag] = next(line for line in out.splitlines() if line.startswith("T2 "))
        last = out.splitlines()[-1]
        if flag == ("--defaults",):
            assert last == text("en", "report.run_defaults")
        else:
            assert last.startswith(text("en", "report.run_central"))
            assert ("prior" if flag else "posterior") in last
    assert len(set(rows.values())) == 3
    code, _, err = run_cli(capsys, "run", "--defaults", "--prior")
    assert code == 2 and "not allowed with" in err


def test_streamlit_config_file_agrees_with_urbsim_app():
    """`streamlit run streamlit_app.py` (e.g. on Streamlit Community Cloud) reads
    .streamlit/config.toml; `urbsim app` passes flags: the settings must be the same."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    command = cli.streamlit_command(8501)
    flags = {
        command[i][2:]: command[i + 1] for i in range(len(command) - 1) if command[i][:2] == "--"
    }
    settings = {f"{s}.{k}": str(v).lower() for s, table in config.items() for k, v in table.items()}
    for key, value in settings.items():
        assert flags.get(key, "").lower() == value, key
    assert settings["client.toolbarMode"] == "minimal"


@pytest.mark.parametrize(
    ("args", "english", "chinese"),
    [
        (["run", "--scenario", "nosuch"], "unknown scenario 'nosuch'", "未知情景“nosuch”"),
        (["run", "--scenario", "nosuch.toml"], "scenario file not found", "找不到情景文件"),
        (["run", "--out", "/no/such/folder/x.csv"], "does not exist", "不存在"),
    ],
)
def test_common_cli_errors_follow_lang(capsys, args, english, chinese):
    """The errors a new user meets first read in the language asked for."""
    for lang, words in (("en", english), ("zh", chinese)):
        code, _, err = run_cli(capsys, *args, "--lang", lang)
        assert_one_line_error(code, err, words)
