"""Benchmark figures as PNG files, drawn on Agg canvases (no pyplot state, no display needed).

- ``staircase_figures``: estimate vs step, one figure per family / critic and a panel per method;
  the raw per-step estimate faint, its exponential moving average bold, the truth dashed.
- ``bias_figure``: bias (mean estimate - truth) against the true MI, with +/- 1 sd bars.
- ``estimate_figure``: mean estimate against the true MI, with the identity line (fixed-N).
- ``error_vs_n_figure``: RMSE against the sample size N (fixed-N, when the sweep has several N).

Error bars are +/- 1 sd: over seeds in fixed-N sweeps, over the settled per-step estimates of a
level in streaming sweeps (``ERROR_BAR_NOTE``); every figure says which in its title. Each method
has one colour in every figure (``METHOD_COLORS``); the line style tells the critics apart.
Values beyond the axis range are marked "(off scale)" in the legend; the tables hold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .summary import ALL_LEVELS

_CRITIC_STYLES = {"separable": "-", "joint": "--", "-": ":"}
DPI = 110
OFF_SCALE = " (off scale)"
ERROR_BAR_NOTE = {
    "fixed": "error bars: ±1 sd over seeds",
    "stream": "error bars: ±1 sd of the per-step estimate over the settled steps of a level",
}

# One colour per method for every bench figure, all mutually distinct (no light/dark pairs that
# would suggest two methods are related). The study's anchor:nu=1 is the one intended relative.
METHOD_COLORS = {
    "anchor": "#4363d8",         # blue
    "anchor[nu=1]": "#000075",   # navy: the paper's nu of the same objective
    "infonce": "#f58231",        # orange
    "nwj": "#3cb44b",            # green
    "dv": "#e6194b",             # red
    "mine": "#911eb4",           # purple
    "smile": "#9a6324",          # brown
    "js": "#f032e6",             # magenta
    "nce": "#469990",            # teal
    "chi2": "#808000",           # olive
    "fdiv": "#42d4f4",           # cyan
    "ksg": "#000000",            # black
    "gaussian": "#a9a9a9",       # grey
}
# For methods and variants outside the map (e.g. "anchor[rule=brier]"), in sorted order.
_EXTRA_COLORS = ("#800000", "#bfef45", "#ffe119", "#dcbeff", "#aaffc3", "#ffd8b1", "#fabed4", "#5d6d7e")


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """The colour of each method: ``METHOD_COLORS`` where listed; other labels take the extra
    colours in sorted order, so the same set of methods gets the same colours in every figure."""
    colors = {method: METHOD_COLORS[method] for method in methods if method in METHOD_COLORS}
    others = sorted(set(methods) - set(colors))
    for index, method in enumerate(others):
        colors[method] = _EXTRA_COLORS[index % len(_EXTRA_COLORS)]
    return colors


def _grid(n_rows: int, n_cols: int, width: float, height: float, **kwargs) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(width * n_cols, height * n_rows))
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_cols, squeeze=False, **kwargs)
    return figure, axes


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def ema_span(steps_per_level: int) -> int:
    """Smoothing span in steps: 1/40 of a level (100 steps for the classic 4,000), at least 5."""
    return max(5, steps_per_level // 40)


def staircase_figures(steps: pd.DataFrame, table: pd.DataFrame, folder: Path, steps_per_level: int) -> dict[str, Path]:
    """One figure per family / critic, a panel per method: estimate vs step.

    With several seeds, the per-step mean over seeds is drawn. The y-axis shows [-1, 1.3 x the
    top level + 1]; estimates outside are clipped in the picture only (the tables hold them) and
    the panel title says "(off scale)". The figure title gives the steps per level.
    Returns {"family / critic": path}; files are named staircase_<family>_<critic>.png.
    """
    cells = table[table["kind"] == "stream"][["key", "family", "critic", "method"]]
    merged = steps.merge(cells, on="key")
    methods = list(dict.fromkeys(cells["method"]))
    colors = method_colors(list(dict.fromkeys(table["method"])))
    top = float(merged["truth"].max())
    low, high = -1.0, 1.3 * top + 1.0
    span = ema_span(steps_per_level)
    n_columns = min(3, len(methods))
    n_rows = int(np.ceil(len(methods) / n_columns))
    paths = {}
    for family, critic in dict.fromkeys(zip(cells["family"], cells["critic"])):
        figure, axes = _grid(n_rows, n_columns, 3.2, 2.4, sharex=True, sharey=True)
        for index, ax in enumerate(axes.flat):
            part = merged[(merged["family"] == family) & (merged["critic"] == critic)]
            part = part[part["method"] == methods[index]] if index < len(methods) else part.iloc[:0]
            if part.empty:
                ax.set_visible(False)
                continue
            method = methods[index]
            curve = part.groupby("step", sort=True).agg(estimate=("estimate", "mean"), truth=("truth", "first"))
            raw = curve["estimate"].replace([np.inf, -np.inf], np.nan)
            ax.plot(curve.index, raw, color=colors[method], alpha=0.25, lw=0.5)
            ax.plot(curve.index, raw.ewm(span=span, ignore_na=True).mean(), color=colors[method], lw=1.4)
            ax.step(curve.index, curve["truth"], where="post", color="k", ls="--", lw=0.9)
            ax.set_ylim(low, high)
            outside = bool(((raw < low) | (raw > high)).any() or curve["estimate"].isna().any())
            ax.set_title(method + (OFF_SCALE if outside else ""), fontsize=9)
            ax.tick_params(labelsize=7)
            if index % n_columns == 0:
                ax.set_ylabel("MI (nats)", fontsize=8)
            if index >= len(methods) - n_columns:
                ax.set_xlabel("step", fontsize=8)
                ax.xaxis.set_tick_params(labelbottom=True)
        figure.suptitle(f"{family}, {critic} critic, {steps_per_level} steps per level: per-step estimate (faint), "
                        f"EMA over {span} steps (bold), truth (dashed)", fontsize=9)
        paths[f"{family} / {critic}"] = _save(figure, folder / f"staircase_{family}_{critic}.png")
    return paths


def _trained_critics(data: pd.DataFrame) -> int:
    return data.loc[data["critic"] != "-", "critic"].nunique()


def _series_label(method: str, critic: str, critics: int) -> str:
    return method if critics <= 1 or critic == "-" else f"{method} ({critic})"


def _errorbars_by_truth(ax, part: pd.DataFrame, column: str, colors: dict, n_critics: int,
                        limits: tuple[float, float]) -> None:
    """One line per (method, critic): ``column`` +/- sd against the true MI; a series with a
    value outside ``limits`` (or a non-finite one) is labelled "(off scale)"."""
    low, high = limits
    for (method, critic), series in part.groupby(["method", "critic"], sort=False):
        series = series.sort_values("truth")
        values = series[column].to_numpy(dtype=float)
        outside = bool((~np.isfinite(values)).any() or (values[np.isfinite(values)] < low).any()
                       or (values[np.isfinite(values)] > high).any())
        sd = series["sd"].replace([np.inf, -np.inf], np.nan).fillna(0.0)
        ax.errorbar(series["truth"], series[column].replace([np.inf, -np.inf], np.nan), yerr=sd, color=colors[method],
                    ls=_CRITIC_STYLES.get(critic, "-"), marker="o", ms=3, lw=1.1, capsize=2,
                    label=_series_label(method, critic, n_critics) + (OFF_SCALE if outside else ""))


def bias_figure(summary: pd.DataFrame, path: Path, kind: str) -> Path:
    """Bias +/- sd against the true MI; one panel per family (and critic for streaming)."""
    if kind == "stream":
        data = summary[summary["level"] != ALL_LEVELS].copy()
        data["panel"] = data["family"] + " / " + data["critic"]
    else:
        data = summary[summary["n"] == summary.groupby("family")["n"].transform("max")].copy()
        data["panel"] = data["family"] + " / n=" + data["n"].astype(str)
    panels = list(dict.fromkeys(data["panel"]))
    colors = method_colors(list(dict.fromkeys(summary["method"])))
    n_critics = _trained_critics(data)
    figure, axes = _grid(1, len(panels), 4.2, 3.4)
    for ax, panel in zip(axes[0], panels):
        part = data[data["panel"] == panel]
        limits = _bias_limits(part)
        _errorbars_by_truth(ax, part, "bias", colors, n_critics, limits)
        ax.axhline(0.0, color="k", ls="--", lw=0.8)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("bias (nats)")
        ax.set_ylim(*limits)
    figure.suptitle(f"bias = mean estimate − truth; {ERROR_BAR_NOTE[kind]}", fontsize=9)
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, path)


def _bias_limits(part: pd.DataFrame) -> tuple[float, float]:
    # A blown-up estimator (NWJ at 10 nats) would flatten every other curve: the axis follows the
    # data but stops at +/- (1.2 x the top MI + 1); the tables hold the values beyond.
    limit = 1.2 * float(np.nanmax(part["truth"])) + 1.0
    spread = part["sd"].replace([np.inf, -np.inf], np.nan).fillna(0.0)
    low = np.nanmin(np.r_[(part["bias"] - spread).replace([np.inf, -np.inf], np.nan).to_numpy(dtype=float), 0.0])
    high = np.nanmax(np.r_[(part["bias"] + spread).replace([np.inf, -np.inf], np.nan).to_numpy(dtype=float), 0.0])
    margin = 0.05 * (high - low) + 0.1
    return max(low - margin, -limit), min(high + margin, limit)


def estimate_figure(summary: pd.DataFrame, path: Path) -> Path:
    """Mean estimate +/- sd against the true MI (fixed-N), identity dashed; one panel per family."""
    data = summary[summary["n"] == summary.groupby("family")["n"].transform("max")]
    panels = list(dict.fromkeys(data["family"]))
    colors = method_colors(list(dict.fromkeys(summary["method"])))
    n_critics = _trained_critics(data)
    figure, axes = _grid(1, len(panels), 4.2, 3.6)
    for ax, family in zip(axes[0], panels):
        part = data[data["family"] == family]
        top = float(part["truth"].max())
        limits = (-0.5, 1.5 * top + 0.5)
        _errorbars_by_truth(ax, part, "mean_estimate", colors, n_critics, limits)
        ax.plot([0, top], [0, top], color="k", ls="--", lw=0.8, label="truth")
        ax.set_ylim(*limits)
        ax.set_title(f"{family} / n={int(part['n'].iloc[0])}", fontsize=9)
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("estimate (nats)")
    figure.suptitle(f"mean estimate over seeds; {ERROR_BAR_NOTE['fixed']}", fontsize=9)
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, path)


def error_vs_n_figure(summary: pd.DataFrame, path: Path) -> Path:
    """RMSE against N (log axes), one panel per task; needs at least two sample sizes."""
    panels = list(dict.fromkeys(summary["task"]))
    colors = method_colors(list(dict.fromkeys(summary["method"])))
    n_critics = _trained_critics(summary)
    n_columns = min(4, len(panels))
    n_rows = int(np.ceil(len(panels) / n_columns))
    figure, axes = _grid(n_rows, n_columns, 3.6, 3.0)
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            ax.set_visible(False)
            continue
        part = summary[summary["task"] == panels[index]]
        for (method, critic), series in part.groupby(["method", "critic"], sort=False):
            series = series.sort_values("n")
            ax.plot(series["n"], series["rmse"], color=colors[method], ls=_CRITIC_STYLES.get(critic, "-"), marker="o",
                    ms=3, label=_series_label(method, critic, n_critics))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(panels[index], fontsize=9)
        ax.set_xlabel("N (pairs)")
        ax.set_ylabel("RMSE (nats)")
    figure.suptitle("RMSE = sqrt(mean((estimate − truth)²)) over seeds", fontsize=9)
    axes.flat[min(len(panels), axes.size) - 1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, path)
