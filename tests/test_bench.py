"""Tests for anchormi.bench: cells, sweeps, summaries, figures, report, resume, executors, CLI.

Everything runs on tiny configurations (a few hundred pairs, tens of steps, small critics): these
tests check the machinery, not the estimators' accuracy.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from anchormi import MIEstimator
from anchormi.bench import SerialExecutor, SweepConfig, load_config, run_cell, run_sweep, summarize_fixed, summarize_stream
from anchormi.bench.cells import Cell
from anchormi.bench.cli import register
from anchormi.bench.executors import DaskExecutor, ProcessExecutor
from anchormi.bench.specs import expand_lists, label, parse_spec
from anchormi.bench.store import CellStore

TINY = {"max_steps": 30, "hidden": [16, 16], "embed_dim": 8, "batch_size": 32, "eval_every": 10}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_fixed(**changes) -> SweepConfig:
    config = SweepConfig(
        tasks=["gaussian:dim=2,mi=[0.5,1.0]"], methods=["anchor", "infonce", "gaussian"], seeds=[0, 1], n=[400],
        estimator=dict(TINY), title="tiny",
    )
    return config.replace(**changes)


def tiny_stream(**changes) -> SweepConfig:
    config = SweepConfig(
        mode="stream", tasks=["gaussian:dim=3"], methods=["anchor", "nwj"], critics=["separable", "joint"], seeds=[0],
        levels=[0.5, 1.0], steps_per_level=12, burn_in=0.5, estimator={"hidden": [16, 16], "embed_dim": 8, "batch_size": 16},
    )
    return config.replace(**changes)


def result_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The deterministic part of a results table (drop timing and warnings), in key order."""
    return table.drop(columns=["seconds", "warnings"]).sort_values("key").reset_index(drop=True)


# ---- specs and configuration -----------------------------------------------------------------


def test_specs_parse_values_lists_and_labels():
    name, params = parse_spec("gaussian:dim=20,mi=[2,6.5],flag=true,rule=brier", "task")
    assert name == "gaussian" and params == {"dim": 20, "mi": [2, 6.5], "flag": True, "rule": "brier"}
    assert expand_lists({"dim": 20, "mi": [2, 6]}) == [{"dim": 20, "mi": 2}, {"dim": 20, "mi": 6}]
    assert expand_lists({"hidden": [[8, 8]]}) == [{"hidden": [8, 8]}]
    assert label("anchor", {"rule": "brier", "nu": 2.0}) == "anchor[nu=2,rule=brier]"
    with pytest.raises(ValueError, match="key=value"):
        parse_spec("gaussian:dim", "task")


def test_toml_config_is_parsed_into_cells(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(
        'title = "t"\nmode = "fixed"\nseeds = [0, 1]\nn = [500, 1000]\ncritics = ["separable", "joint"]\n'
        'tasks = ["gaussian:dim=3,mi=[0.5,1]", {family = "cubic", dim = 2, mi = 0.3}]\n'
        'methods = ["anchor", {name = "anchor", rule = "brier"}, "ksg:n_neighbors=5"]\nformat = "csv"\n'
        "[estimator]\nbatch_size = 64\nmax_steps = 100\n"
    )
    config = load_config(path)
    assert config.format == "csv" and config.estimator == {"batch_size": 64, "max_steps": 100}
    cells = config.cells()
    # 3 tasks x (2 trained methods x 2 critics + ksg without a critic) x 2 N x 2 seeds
    assert len(cells) == 3 * (2 * 2 + 1) * 2 * 2
    assert {cell.method_label for cell in cells} == {"anchor", "anchor[rule=brier]", "ksg[n_neighbors=5]"}
    ksg = [cell for cell in cells if cell.method == "ksg"]
    assert all(cell.critic == "-" and cell.estimator == {} and cell.method_params == {"n_neighbors": 5} for cell in ksg)
    assert len({cell.key for cell in cells}) == len(cells)

    path.write_text('mode = "fixed"\nseed = [0]\n')
    with pytest.raises(ValueError, match="unknown key"):
        load_config(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"estimator": {"batch_sise": 3}}, "not an MIEstimator argument"),
        ({"estimator": {"seed": 3}}, "set per cell"),
        ({"methods": ["anchr"]}, "unknown"),
        ({"mode": "streaming"}, "mode="),
        ({"n": [0]}, "n="),
    ],
)
def test_invalid_configuration_fails_early(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_fixed(**changes).cells()


def test_streaming_rejects_classical_methods_and_mi_arguments():
    with pytest.raises(ValueError, match="no streaming mode"):
        tiny_stream(methods=["anchor", "ksg"]).cells()
    with pytest.raises(ValueError, match="only dim"):
        tiny_stream(tasks=["gaussian:dim=3,mi=2"]).cells()


def test_removed_compare_key_is_refused_as_unknown(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('mode = "fixed"\ncompare = ["torch-mist"]\n')
    with pytest.raises(ValueError, match="unknown key.*compare"):
        load_config(path)


# ---- cells ---------------------------------------------------------------------------------------


def test_fixed_cell_records_truth_estimate_and_is_deterministic():
    cell = tiny_fixed().cells()[0]
    first, second = run_cell(cell)["record"], run_cell(cell)["record"]
    assert first["truth"] == 0.5 and math.isfinite(first["estimate"]) and first["stderr"] > 0
    assert first["error"] == pytest.approx(first["estimate"] - first["truth"])
    # Cross-fitted by default: every pair is held out once, each critic trains on a part.
    assert first["n_test"] == 400 and first["n_train"] < 400 and first["method"] == "anchor"
    assert first["critic"] == MIEstimator().critic  # a sweep without a critics axis runs the default
    assert first["seconds"] > 0
    assert first["estimate"] == second["estimate"] and first["stderr"] == second["stderr"]


def test_stream_cell_has_one_row_per_step_on_the_right_level():
    cell = tiny_stream(methods=["anchor"], critics=["separable"]).cells()[0]
    outcome = run_cell(cell)
    steps = outcome["steps"]
    assert list(steps.columns) == ["step", "level", "truth", "estimate", "train_loss"]
    assert steps["step"].tolist() == list(range(1, 25))
    assert steps["level"].tolist() == [0] * 12 + [1] * 12
    assert steps["truth"].tolist() == [0.5] * 12 + [1.0] * 12
    assert np.isfinite(steps["estimate"]).all()
    record = outcome["record"]
    assert record["steps_run"] == 24 and record["seconds_per_step"] > 0 and record["readout"] == "plugin"


# ---- summaries -----------------------------------------------------------------------------------


def test_fixed_summary_formulas_on_a_hand_made_table():
    table = pd.DataFrame({
        "kind": "fixed", "task": ["a"] * 3 + ["b"] * 2, "family": "f", "n": 100, "method": "m", "critic": "c",
        "truth": [1.0, 1.0, 1.0, 2.0, 2.0], "estimate": [0.5, 1.0, 1.5, 1.0, 3.0],
        "seconds": [1.0, 2.0, 3.0, 4.0, 6.0], "diverged": [False, True, False, False, False],
    })
    summary = summarize_fixed(table).set_index("task")
    a, b = summary.loc["a"], summary.loc["b"]
    assert a["bias"] == pytest.approx(0.0) and a["sd"] == pytest.approx(0.5) and a["rmse"] == pytest.approx(math.sqrt(0.5 / 3))
    assert a["seconds"] == pytest.approx(2.0) and a["diverged"] == 1 and a["cells"] == 3
    assert b["bias"] == pytest.approx(0.0) and b["sd"] == pytest.approx(math.sqrt(2.0)) and b["rmse"] == pytest.approx(1.0)
    # rmse^2 = bias^2 + (m-1)/m sd^2 within a group of one truth
    assert a["rmse"] ** 2 == pytest.approx(a["bias"] ** 2 + 2 / 3 * a["sd"] ** 2)


def test_fixed_summary_counts_divergence_nonfinite_and_far_off_estimates():
    # One group, truth 2: a finite but absurd estimate (NWJ at 7e5), an infinite one, a sane one.
    table = pd.DataFrame({
        "kind": "fixed", "task": "a", "family": "f", "n": 100, "method": "nwj", "critic": "c", "truth": 2.0,
        "estimate": [7e5, np.inf, 1.9, -4.5], "seconds": 1.0, "diverged": [False, True, False, False],
    })
    row = summarize_fixed(table).iloc[0]
    assert row["diverged"] == 1 and row["n_nonfinite"] == 1
    assert row["n_far_off"] == 2  # 7e5 and -4.5 (|error| 6.5 > 3 x 2); 1.9 is fine
    assert not math.isfinite(row["rmse"])  # nothing is dropped from the statistics


def test_stream_summary_uses_settled_steps_per_level():
    steps_per_level = 4
    estimate = [9, 9, 1.0, 3.0, 9, 9, 2.0, 2.0]  # the first half of each level is burn-in
    steps = pd.DataFrame({
        "key": "k", "step": range(1, 9), "level": [0] * 4 + [1] * 4, "truth": [2.0] * 4 + [4.0] * 4, "estimate": estimate,
    })
    table = pd.DataFrame({"key": ["k"], "kind": "stream", "family": "f", "critic": "c", "method": "m",
                          "seconds_per_step": [0.01], "diverged": [False]})
    summary = summarize_stream(steps, table, steps_per_level, burn_in=0.5).set_index("level")
    assert summary.loc["0", "bias"] == pytest.approx(0.0) and summary.loc["0", "sd"] == pytest.approx(math.sqrt(2.0))
    assert summary.loc["0", "rmse"] == pytest.approx(1.0) and summary.loc["0", "steps"] == 2
    assert summary.loc["1", "bias"] == pytest.approx(-2.0) and summary.loc["1", "rmse"] == pytest.approx(2.0)
    pooled = summary.loc["all"]
    assert pooled["bias"] == pytest.approx(-1.0) and pooled["rmse"] == pytest.approx(math.sqrt(10 / 4))
    assert pooled["sd"] == pytest.approx(1.0)  # sqrt(mean(2, 0))


# ---- sweeps: outputs, resume, failures -------------------------------------------------------------


def test_fixed_sweep_writes_table_summary_figures_and_report(tmp_path):
    config = tiny_fixed(n=[400, 500], seeds=[0])
    outcome = run_sweep(config, out_dir=tmp_path, executor=SerialExecutor())
    # 2 tasks x (2 trained + 1 classical) x 2 N x 1 seed
    assert outcome.table.shape[0] == 12 and outcome.ran == 12 and not outcome.failures
    for column in ("key", "task", "method", "critic", "seed", "n", "truth", "estimate", "stderr", "error", "seconds"):
        assert column in outcome.table.columns
    saved = pd.read_parquet(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(saved, outcome.table)
    assert len(outcome.summary) == 12 and set(outcome.rmse.index) == {"anchor", "infonce", "gaussian"}
    for name in ("estimate_vs_mi.png", "bias_vs_mi.png", "error_vs_n.png"):
        data = (tmp_path / "figures" / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    report = (tmp_path / "report.md").read_text()
    assert "## RMSE" in report and "](figures/bias_vs_mi.png)" in report and "](figures/error_vs_n.png)" in report
    assert "error bars: ±1 sd over seeds" in report and "n_far_off" in report
    assert json.loads((tmp_path / "sweep.json").read_text())["n"] == [400, 500]
    # Every cell says which code ran it, and the report names it.
    from anchormi.bench.provenance import code_version

    assert set(outcome.table["code"]) == {code_version()}
    assert f"Code: {code_version()} (12 cells)." in report


def test_stream_sweep_writes_steps_and_staircase_figure(tmp_path):
    outcome = run_sweep(tiny_stream(format="csv"), out_dir=tmp_path, executor=SerialExecutor())
    assert outcome.table.shape[0] == 4 and len(outcome.steps) == 4 * 24
    assert set(pd.read_csv(tmp_path / "steps.csv")["level"]) == {0, 1}
    summary = outcome.summary
    assert len(summary) == 4 * 3 and set(summary["level"]) == {"0", "1", "all"}
    for critic in ("separable", "joint"):
        assert (tmp_path / "figures" / f"staircase_gaussian-d3_{critic}.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "](figures/staircase_gaussian-d3_joint.png)" in (tmp_path / "report.md").read_text()


# ---- figures ---------------------------------------------------------------------------------------


def test_every_method_has_one_distinct_colour_in_every_figure():
    from anchormi.bench.figures import METHOD_COLORS, method_colors
    from anchormi.bench.reproduce import STUDY_METHODS

    labels = [label(*parse_spec(spec, "method")) for spec in (*STUDY_METHODS, "gaussian", "ksg", "fdiv", "anchor:rule=brier")]
    colors = method_colors(labels)
    assert len(set(colors.values())) == len(labels) == len(colors)
    assert method_colors(list(reversed(labels))) == colors
    assert method_colors(["smile", "infonce"]) == {"smile": colors["smile"], "infonce": colors["infonce"]}
    assert colors["anchor"] == METHOD_COLORS["anchor"] and colors["anchor[nu=1]"] == METHOD_COLORS["anchor[nu=1]"]


@pytest.fixture()
def saved_figures(monkeypatch):
    """File name -> the matplotlib Figure that bench.figures saved under it."""
    from anchormi.bench import figures

    saved = {}
    real_save = figures._save

    def capture(figure, path):
        saved[path.name] = figure
        return real_save(figure, path)

    monkeypatch.setattr(figures, "_save", capture)
    return saved


def _legend(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes if ax.get_legend() for text in ax.get_legend().get_texts()]


def test_fixed_figures_say_sd_over_seeds_and_mark_off_scale_series(tmp_path, saved_figures):
    from anchormi.bench import figures

    summary = pd.DataFrame({
        "task": ["g1", "g2"] * 2, "family": "g", "truth": [1.0, 2.0] * 2, "n": 100, "critic": "separable",
        "method": ["anchor", "anchor", "nwj", "nwj"], "mean_estimate": [1.0, 2.1, 1.0, 7e5],
        "bias": [0.0, 0.1, 0.0, 7e5 - 2], "sd": [0.1, 0.1, 0.1, 3e5], "rmse": [0.1, 0.1, 0.1, 7e5],
    })
    figures.estimate_figure(summary, tmp_path / "estimate.png")
    figures.bias_figure(summary, tmp_path / "bias.png", "fixed")
    for name in ("estimate.png", "bias.png"):
        figure = saved_figures[name]
        assert "error bars: ±1 sd over seeds" in figure._suptitle.get_text()
        assert "nwj (off scale)" in _legend(figure) and "anchor" in _legend(figure)


def test_stream_figures_give_steps_per_level_and_what_the_bars_are(tmp_path, saved_figures):
    config = tiny_stream(methods=["anchor"], critics=["separable"])
    run_sweep(config, out_dir=tmp_path, executor=SerialExecutor())
    assert "12 steps per level" in saved_figures["staircase_gaussian-d3_separable.png"]._suptitle.get_text()
    assert "sd of the per-step estimate" in saved_figures["bias_vs_mi.png"]._suptitle.get_text()
    assert "sd of the per-step estimate" in (tmp_path / "report.md").read_text()


def test_quick_staircase_title_states_the_steps_per_level():
    from anchormi.bench.reproduce import staircase_config

    assert "100 steps per level" in staircase_config(quick=True).title
    config = staircase_config(quick=True, steps_per_level=6)
    assert "6 steps per level" in config.title and config.steps_per_level == 6


def test_the_reproductions_of_the_default_run_the_estimators_default_critic():
    # Images, pair scoring and a sweep without a critics axis describe "the default"; when the
    # estimator's default critic changes they must change with it, not keep a copied name. The
    # staircase pins the paper's critics instead (checked below).
    from anchormi.bench.reproduce import images_config, staircase_config
    from anchormi.pairs.reproduce import PMISettings

    default = MIEstimator().get_params()["critic"]
    assert images_config().critics == [default] and images_config(quick=True).critics == [default]
    assert SweepConfig().critics == [default]
    assert PMISettings().critic == default and PMISettings.quick().critic == default
    assert staircase_config().critics == ["separable", "joint"]


class CountingCells:
    """run_cell that counts its calls (the serial executor runs it in this process)."""

    def __init__(self, fail_method: str | None = None) -> None:
        self.calls: list[str] = []
        self.fail_method = fail_method

    def __call__(self, cell: Cell):
        self.calls.append(cell.key)
        if cell.method == self.fail_method:
            raise RuntimeError("boom")
        return run_cell(cell)


class KilledAfter(SerialExecutor):
    """Runs ``limit`` cells, then raises as if the sweep had been killed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def run(self, fn, cells):
        for index, outcome in enumerate(super().run(fn, cells)):
            yield outcome
            if index + 1 == self.limit:
                raise KeyboardInterrupt


def test_rerun_runs_only_missing_cells_and_leaves_finished_ones_untouched(tmp_path):
    config = tiny_fixed(methods=["anchor", "gaussian"], seeds=[0])
    first = CountingCells()
    outcome = run_sweep(config, out_dir=tmp_path, executor=SerialExecutor(), cell_fn=first, figures=False)
    assert len(first.calls) == 4
    store = CellStore(tmp_path)
    cells = config.cells()
    stamps = {cell.key: store.record_path(cell).stat().st_mtime_ns for cell in cells}
    store.record_path(cells[1]).unlink()

    second = CountingCells()
    again = run_sweep(config, out_dir=tmp_path, executor=SerialExecutor(), cell_fn=second, figures=False)
    assert second.calls == [cells[1].key] and again.ran == 1 and again.skipped == 3
    for cell in cells:
        if cell is not cells[1]:
            assert store.record_path(cell).stat().st_mtime_ns == stamps[cell.key]
    pd.testing.assert_frame_equal(result_columns(again.table), result_columns(outcome.table))


def test_killed_sweep_resumes_where_it_stopped(tmp_path):
    config = tiny_fixed(methods=["anchor", "gaussian"], seeds=[0])
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, out_dir=tmp_path, executor=KilledAfter(2), figures=False)
    finished = sorted(path.name for path in (tmp_path / "cells").glob("*.json"))
    assert len(finished) == 2 and not list((tmp_path / "cells").glob(".*tmp"))

    counter = CountingCells()
    outcome = run_sweep(config, out_dir=tmp_path, executor=SerialExecutor(), cell_fn=counter, figures=False)
    assert len(counter.calls) == 2 and outcome.skipped == 2 and len(outcome.table) == 4
    assert not {f"{key}.json" for key in counter.calls} & set(finished)


def test_failed_cell_is_reported_and_retried(tmp_path):
    config = tiny_fixed(methods=["anchor", "gaussian"], seeds=[0], tasks=["gaussian:dim=2,mi=0.5"])
    outcome = run_sweep(config, out_dir=tmp_path, executor=SerialExecutor(), cell_fn=CountingCells("anchor"), figures=False)
    assert len(outcome.failures) == 1 and "boom" in outcome.failures[0][1] and len(outcome.table) == 1
    assert len(list((tmp_path / "cells").glob("*.failed.json"))) == 1
    assert "Failed cells" in (tmp_path / "report.md").read_text()
    retry = CountingCells()
    again = run_sweep(config, out_dir=tmp_path, executor=SerialExecutor(), cell_fn=retry, figures=False)
    assert len(retry.calls) == 1 and not again.failures and len(again.table) == 2
    assert not list((tmp_path / "cells").glob("*.failed.json"))


# ---- executors -------------------------------------------------------------------------------------


def test_dask_local_cluster_gives_the_same_table_as_local_processes(tmp_path):
    pytest.importorskip("distributed")
    config = tiny_fixed(methods=["anchor", "nwj"], seeds=[0], tasks=["gaussian:dim=2,mi=0.5"])
    local = run_sweep(config, out_dir=tmp_path / "local", executor=ProcessExecutor(2), figures=False)
    dask = run_sweep(config, out_dir=tmp_path / "dask", executor=DaskExecutor(n_workers=2), figures=False)
    serial = run_sweep(config, out_dir=tmp_path / "serial", executor=SerialExecutor(), figures=False)
    assert len(local.table) == 2 and not local.failures and not dask.failures
    pd.testing.assert_frame_equal(result_columns(dask.table), result_columns(local.table))
    pd.testing.assert_frame_equal(result_columns(serial.table), result_columns(local.table))


def test_worker_initializer_sets_one_torch_thread(monkeypatch):
    import torch

    from anchormi.bench.executors import init_worker

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, "4")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the test suite runs with one thread; start from more so the check can fail
    try:
        init_worker()
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


# ---- command line ----------------------------------------------------------------------------------


@pytest.fixture()
def cli_app() -> typer.Typer:
    app = typer.Typer()
    reproduce_app = typer.Typer()
    app.add_typer(reproduce_app, name="reproduce")

    @app.command()
    def version() -> None:  # a second command keeps typer from collapsing the app into "bench"
        """Placeholder."""

    register(app, reproduce_app)
    return app


def test_cli_bench_runs_a_sweep_and_prints_the_summary(cli_app, tmp_path):
    result = CliRunner().invoke(cli_app, [
        "bench", "-t", "gaussian:dim=2,mi=0.5", "-m", "anchor", "-m", "ksg", "--n", "300", "--seeds", "0",
        "--max-steps", "20", "--param", "hidden=[16,16]", "--workers", "0", "--out", str(tmp_path), "--format", "csv",
    ])
    assert result.exit_code == 0, result.output
    assert "RMSE" in result.output and "anchor" in result.output and "ksg" in result.output
    assert len(pd.read_csv(tmp_path / "results.csv")) == 2 and (tmp_path / "report.md").exists()


def test_bench_and_reproduce_commands_share_one_run_option_block(cli_app):
    import click

    root = typer.main.get_command(cli_app)
    context = click.Context(root)
    reproduce = root.get_command(context, "reproduce")
    commands = {"bench": root.get_command(context, "bench"),
                "staircase": reproduce.get_command(context, "staircase"), "images": reproduce.get_command(context, "images")}
    shared = ["--workers", "--dask", "--dask-local", "--format", "--figures", "--progress", "--seeds"]
    helps = {}
    for name, command in commands.items():
        options = {option: param for param in command.params for option in param.opts}
        assert set(shared) <= set(options), name
        assert "--compare" not in options, name
        helps[name] = [options[option].help for option in shared]
    assert helps["bench"] == helps["staircase"] == helps["images"]


def test_cli_bench_reports_bad_input_cleanly(cli_app, tmp_path):
    result = CliRunner().invoke(cli_app, ["bench", "-m", "nope", "--workers", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown" in result.output


def test_cli_reproduce_staircase_and_images_quick(cli_app, tmp_path):
    runner = CliRunner()
    staircase = runner.invoke(cli_app, [
        "reproduce", "staircase", "--quick", "--steps-per-level", "6", "--methods", "anchor,infonce", "--dim", "4",
        "--families", "gaussian", "--workers", "0", "--out", str(tmp_path / "s"),
    ])
    assert staircase.exit_code == 0, staircase.output
    table = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert len(table) == 2 and set(table["critic"]) == {"separable"}
    assert len(pd.read_parquet(tmp_path / "s" / "steps.parquet")) == 2 * 5 * 6
    assert (tmp_path / "s" / "figures" / "staircase_gaussian-d4_separable.png").exists()

    images = runner.invoke(cli_app, [
        "reproduce", "images", "--quick", "--ks", "1,2", "--n", "1500", "--max-steps", "20", "--methods", "anchor,infonce",
        "--workers", "0", "--out", str(tmp_path / "i"),
    ])
    assert images.exit_code == 0, images.output
    table = pd.read_parquet(tmp_path / "i" / "results.parquet")
    assert sorted(table["truth"].unique()) == pytest.approx([math.log(10), 2 * math.log(10)])
    assert (tmp_path / "i" / "figures" / "estimate_vs_mi.png").exists()


def test_code_versions_are_counted_and_a_mixed_folder_is_called_so():
    from anchormi.bench.provenance import describe_code_versions

    assert describe_code_versions(["0.2+abc", "0.2+abc"]) == "Code: 0.2+abc (2 cells)."
    mixed = describe_code_versions(["0.2+abc", None, "0.2+abc"])
    assert mixed == "Code: 0.2+abc (2 cells), unrecorded (1 cells); mixed: these rows come from different code."
    assert describe_code_versions([]) == ""
    # A results table column holds NaN, not None, for cells from before the field.
    assert describe_code_versions(pd.Series(["0.2+abc", float("nan")])) == (
        "Code: 0.2+abc (1 cells), unrecorded (1 cells); mixed: these rows come from different code.")


def test_the_source_commit_ignores_commits_outside_the_folder(tmp_path):
    import subprocess

    from anchormi.bench.provenance import source_commit

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    package = tmp_path / "pkg"
    package.mkdir()
    assert source_commit(package) is None  # nothing tracked yet
    (package / "code.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-qm", "code")
    code_commit = git("rev-parse", "--short", "HEAD")
    (tmp_path / "README.md").write_text("docs\n")
    git("add", "-A")
    git("commit", "-qm", "docs")
    # A docs commit moves HEAD but not the source's version; an edit there marks it dirty.
    assert git("rev-parse", "--short", "HEAD") != code_commit
    assert source_commit(package) == code_commit
    (package / "code.py").write_text("x = 2\n")
    assert source_commit(package) == code_commit + ".dirty"
