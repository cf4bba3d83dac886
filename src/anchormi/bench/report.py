"""Write a sweep's outputs: result tables, summary, figures and a Markdown report embedding them."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..files import atomic_write_table, atomic_write_text, format_number, markdown_table
from .provenance import code_version, describe_code_versions
from .summary import ALL_LEVELS


def console_table(frame: pd.DataFrame, index: bool = False, digits: int = 3) -> str:
    """Plain aligned text for the terminal."""
    if frame.empty:
        return "(no rows)"
    data = frame.reset_index() if index else frame
    cells = [[str(column) for column in data.columns]]
    cells += [[format_number(value, digits) for value in row] for row in data.itertuples(index=False)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(text.rjust(width) if j else text.ljust(width) for j, (text, width) in enumerate(zip(row, widths)))
                     for row in cells)


def stream_tables(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-method rows pooled over levels, RMSE by level with levels as columns)."""
    pooled = summary[summary["level"] == ALL_LEVELS][
        ["family", "critic", "method", "bias", "sd", "rmse", "seconds_per_step", "diverged", "n_nonfinite", "n_far_off"]
    ].rename(columns={"seconds_per_step": "s/step"})
    by_level = summary[summary["level"] != ALL_LEVELS]
    pivot = by_level.pivot_table(index=["family", "critic", "method"], columns="truth", values="rmse", aggfunc="first", sort=False)
    pivot.columns = [f"RMSE @ {format_number(float(c), 0) if float(c).is_integer() else c}" for c in pivot.columns]
    return pooled, pivot


def _environment_line() -> str:
    import torch

    return (f"anchormi {code_version()}, torch {torch.__version__}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores")


def write_outputs(outcome: Any, config: Any, out_dir: Path, figures: bool = True, command: str | None = None,
                  executor_description: str = "") -> dict[str, Path]:
    """Write results/steps tables, summary.csv, figures/*.png and report.md; return name -> path."""
    from . import figures as figure_module

    files: dict[str, Path] = {}
    suffix = ".csv" if config.format == "csv" else ".parquet"
    if not outcome.table.empty:
        files["results"] = out_dir / f"results{suffix}"
        atomic_write_table(files["results"], outcome.table)
    if not outcome.steps.empty:
        files["steps"] = out_dir / f"steps{suffix}"
        atomic_write_table(files["steps"], outcome.steps)
    if not outcome.summary.empty:
        files["summary"] = out_dir / "summary.csv"
        atomic_write_table(files["summary"], outcome.summary)

    figure_paths: dict[str, Path] = {}
    if figures and not outcome.summary.empty:
        figure_dir = out_dir / "figures"
        if config.mode == "stream":
            staircases = figure_module.staircase_figures(outcome.steps, outcome.table, figure_dir, config.steps_per_level)
            figure_paths.update({f"staircase: {name}": path for name, path in staircases.items()})
            figure_paths["bias vs true MI"] = figure_module.bias_figure(outcome.summary, figure_dir / "bias_vs_mi.png", "stream")
        else:
            if outcome.summary.groupby("family")["truth"].nunique().max() > 1:
                figure_paths["estimate vs true MI"] = figure_module.estimate_figure(outcome.summary, figure_dir / "estimate_vs_mi.png")
            figure_paths["bias vs true MI"] = figure_module.bias_figure(outcome.summary, figure_dir / "bias_vs_mi.png", "fixed")
            if outcome.summary["n"].nunique() > 1:
                figure_paths["error vs N"] = figure_module.error_vs_n_figure(outcome.summary, figure_dir / "error_vs_n.png")
    files.update({f"figure: {name}": path for name, path in figure_paths.items()})

    files["report"] = out_dir / "report.md"
    text = render_report(outcome, config, figure_paths, out_dir, command, executor_description)
    atomic_write_text(files["report"], text)
    return files


def _flag_lines(table: pd.DataFrame, summary: pd.DataFrame, mode: str) -> list[str]:
    """The "Divergences, far-off estimates and warnings" section: one line per flagged cell."""
    from .summary import FAR_OFF_FACTOR, far_off

    if table.empty:
        return []
    wild = np.zeros(len(table), dtype=bool)
    if mode == "fixed":
        estimates, truths = table["estimate"].to_numpy(dtype=float), table["truth"].to_numpy(dtype=float)
        wild = ~np.isfinite(estimates) | far_off(estimates, truths)
    flagged = table[table["diverged"].astype(bool).to_numpy() | wild | (table["warnings"] != "").to_numpy()]
    lines = []
    for row, is_wild in zip(flagged.itertuples(index=False), wild[table.index.get_indexer(flagged.index)]):
        notes = []
        if row.diverged:
            notes.append(f"diverged ({row.stop_reason})")
        if is_wild:
            notes.append(f"estimate {format_number(float(row.estimate))} vs truth {format_number(float(row.truth))}")
        if row.warnings:
            notes.append(row.warnings)
        lines.append(f"- {row.task} / {row.method} / {row.critic} / seed {row.seed}: {'; '.join(notes)}")
    if mode == "stream" and not summary.empty:
        pooled = summary[(summary["level"] == ALL_LEVELS) & ((summary["n_far_off"] > 0) | (summary["n_nonfinite"] > 0))]
        for row in pooled.itertuples(index=False):
            lines.append(f"- {row.family} / {row.method} / {row.critic}: {row.n_far_off} settled steps far off, "
                         f"{row.n_nonfinite} non-finite, of {row.steps}")
    if not lines:
        return []
    header = (f"A cell is far off when |estimate − truth| > {FAR_OFF_FACTOR:g} × max(truth, 1 nat); "
              "diverged means the estimator stopped on a non-finite loss.")
    return ["## Divergences, far-off estimates and warnings", "", header, "", *lines, ""]


def render_report(outcome: Any, config: Any, figure_paths: dict[str, Path], out_dir: Path, command: str | None,
                  executor_description: str) -> str:
    table, summary = outcome.table, outcome.summary
    n_cells = outcome.ran + outcome.skipped
    cell_seconds = float(table["seconds"].sum()) if not table.empty else 0.0
    lines = [f"# {config.title}", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines += [
        f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} with {_environment_line()}; "
        f"executor: {executor_description or 'unknown'}.",
        "",
        f"Cells: {n_cells} ({outcome.ran} run now, {outcome.skipped} reused from `cells/`, {len(outcome.failures)} failed). "
        f"Wall time of this run: {outcome.seconds:.0f} s; compute inside the finished cells: {cell_seconds:.0f} s "
        "(sum of per-cell wall times, one torch thread each).",
        "",
    ]
    if "code" in table:  # cells from before the field say 'unrecorded'
        lines += [describe_code_versions(table["code"]), ""]
    if config.mode == "stream":
        lines += [
            f"Protocol: streaming staircase, MI levels {', '.join(format_number(float(v), 0) for v in config.levels)} nats, "
            f"{config.steps_per_level} steps per level, a fresh batch every step; estimator settings {config.estimator or 'default'}. "
            f"Statistics use the per-step estimate (the readout of that step's training batch) over the last "
            f"{100 * (1 - config.burn_in):.0f} % of each level (the first {100 * config.burn_in:.0f} % is the critic adapting). "
            "bias = mean(estimate − truth), sd = within-level standard deviation of the per-step estimate "
            "(pooled: root mean of the level variances), RMSE = sqrt(mean((estimate − truth)²)).",
            "",
        ]
    else:
        lines += [
            "Protocol: fixed-N; each cell draws N pairs with its seed and calls `anchormi.estimate` "
            f"(estimator settings {config.estimator or 'default'}). Over the seeds of a group: bias = mean(estimate − truth), "
            "sd = standard deviation of the estimate (ddof 1), RMSE = sqrt(mean((estimate − truth)²)); "
            "seconds = mean wall time of one `estimate` call.",
            "",
        ]
    from .summary import FAR_OFF_FACTOR

    unit = "settled steps" if config.mode == "stream" else "cells"
    lines += [
        f"Flags: `diverged` counts cells whose estimator stopped on a non-finite loss (`result.info['diverged']`); "
        f"`n_nonfinite` and `n_far_off` count {unit} with a NaN/infinite estimate and with "
        f"|estimate − truth| > {FAR_OFF_FACTOR:g} × max(truth, 1 nat). No value is dropped from bias, sd or RMSE.",
        "",
    ]
    if not outcome.rmse.empty:
        label = "all levels, settled steps" if config.mode == "stream" else "over seeds"
        lines += [f"## RMSE (nats, {label})", "", markdown_table(outcome.rmse, index=True), ""]
    if not summary.empty:
        lines += ["## Summary", ""]
        if config.mode == "stream":
            pooled, by_level = stream_tables(summary)
            lines += [markdown_table(pooled), "", "### RMSE by level (nats)", "", markdown_table(by_level, index=True), ""]
        else:
            shown = summary.drop(columns=["family"])
            lines += [markdown_table(shown), ""]
        suffix = "csv" if config.format == "csv" else "parquet"
        lines += [f"All rows: `summary.csv`. Per-cell results: `results.{suffix}`"
                  + (f"; per-step estimates: `steps.{suffix}`." if config.mode == "stream" else "."), ""]
    if figure_paths:
        from .figures import ERROR_BAR_NOTE

        lines += ["## Figures", "", f"In the bias and estimate figures, {ERROR_BAR_NOTE[config.mode]}.", ""]
        for name, path in figure_paths.items():
            lines += [f"### {name}", "", f"![{name}]({path.relative_to(out_dir).as_posix()})", ""]
    lines += _flag_lines(table, summary, config.mode)
    if outcome.failures:
        lines += ["## Failed cells (retried on the next run)", ""]
        for cell, failure in outcome.failures:
            last = failure.strip().splitlines()[-1] if failure.strip() else "unknown error"
            lines.append(f"- {cell.describe()}: `{last}`")
        lines.append("")
    return "\n".join(lines)
