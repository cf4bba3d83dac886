"""Bias, standard deviation, RMSE and time per method and task.

With e_i = estimate_i - truth_i over the m values of a group:
    bias = mean(e),  sd = std(estimate, ddof=1) (0 values -> NaN),  rmse = sqrt(mean(e^2)),
so rmse^2 = bias^2 + (m - 1)/m * sd^2 within a group of one truth.

Fixed-N: a group is (task, n, method, critic); its values are the cells (seeds).
Streaming: a group is (family, critic, method, level); its values are the per-step estimates of
the settled part of each level, i.e. after the first ``burn_in`` fraction of the level's steps
(the critic needs those steps to adapt to the new MI). The "all" row per (family, critic, method)
pools the settled steps of every level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALL_LEVELS = "all"
# An estimate is "far off" when |estimate - truth| > FAR_OFF_FACTOR x max(truth, 1 nat): below
# -2 x truth or above 4 x truth, which no working MI estimator reaches by sampling noise alone.
FAR_OFF_FACTOR = 3.0


def far_off(estimates: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """Boolean mask of finite estimates whose error is far above the truth (see ``FAR_OFF_FACTOR``)."""
    estimates = np.asarray(estimates, dtype=float)
    truths = np.asarray(truths, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(estimates) & (np.abs(estimates - truths) > FAR_OFF_FACTOR * np.maximum(np.abs(truths), 1.0))


def _stats(estimates: np.ndarray, truths: np.ndarray) -> dict[str, float]:
    """bias, sd, rmse over every value (a non-finite estimate makes them non-finite: nothing is
    dropped), and the count of non-finite and of far-off estimates."""
    finite = np.isfinite(estimates)
    with np.errstate(invalid="ignore", over="ignore"):
        errors = estimates - truths
        return {
            "bias": float(np.mean(errors)) if len(errors) else np.nan,
            "sd": float(np.std(estimates, ddof=1)) if len(estimates) > 1 else np.nan,
            "rmse": float(np.sqrt(np.mean(errors**2))) if len(errors) else np.nan,
            "n_nonfinite": int((~finite).sum()),
            "n_far_off": int(far_off(estimates, truths).sum()),
        }


def summarize_fixed(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, n, method, critic) of fixed-N cells.

    Columns: task, family, truth, n, method, critic, cells, mean_estimate, bias, sd, rmse,
    seconds (mean wall time per cell), diverged (cells whose estimator reported a non-finite
    loss: ``result.info["diverged"]``), n_nonfinite (cells with a NaN or infinite estimate) and
    n_far_off (cells with a finite estimate but |error| > FAR_OFF_FACTOR x max(truth, 1)).
    """
    fixed = table[table["kind"] == "fixed"]
    rows = []
    for (task, n, method, critic), group in fixed.groupby(["task", "n", "method", "critic"], sort=False):
        estimates = group["estimate"].to_numpy(dtype=float)
        truths = group["truth"].to_numpy(dtype=float)
        rows.append({
            "task": task, "family": group["family"].iloc[0], "truth": float(truths[0]), "n": int(n),
            "method": method, "critic": critic, "cells": len(group), "mean_estimate": float(np.mean(estimates)),
            **_stats(estimates, truths), "seconds": float(group["seconds"].mean()),
            "diverged": int(group["diverged"].astype(bool).sum()),
        })
    columns = ["task", "family", "truth", "n", "method", "critic", "cells", "mean_estimate", "bias", "sd", "rmse",
               "seconds", "diverged", "n_nonfinite", "n_far_off"]
    return pd.DataFrame(rows, columns=columns)


def settled_steps(steps: pd.DataFrame, steps_per_level: int, burn_in: float) -> pd.DataFrame:
    """The per-step rows past the first ``burn_in`` fraction of their level."""
    if not 0 <= burn_in < 1:
        raise ValueError(f"burn_in={burn_in!r} is invalid; pass a fraction of each level in [0, 1).")
    position = (steps["step"] - 1) - steps["level"] * steps_per_level
    return steps[position >= int(burn_in * steps_per_level)]


def summarize_stream(steps: pd.DataFrame, table: pd.DataFrame, steps_per_level: int, burn_in: float = 0.5) -> pd.DataFrame:
    """One row per (family, critic, method, level) plus an "all" row per (family, critic, method).

    ``steps`` is the per-step table (key, step, level, truth, estimate, ...) and ``table`` the
    per-cell table (for seconds per step and divergence). Columns: family, critic, method, level,
    truth, steps, mean_estimate, bias, sd, rmse, n_nonfinite and n_far_off (settled steps with a
    non-finite or far-off estimate), seconds_per_step, diverged (cells whose estimator reported a
    non-finite loss).
    """
    cells = table[table["kind"] == "stream"].set_index("key")
    merged = settled_steps(steps, steps_per_level, burn_in).join(cells[["family", "critic", "method"]], on="key")
    rows = []
    for (family, critic, method), group in merged.groupby(["family", "critic", "method"], sort=False):
        keys = group["key"].unique()
        timing = {
            "seconds_per_step": float(cells.loc[keys, "seconds_per_step"].mean()),
            "diverged": int(cells.loc[keys, "diverged"].astype(bool).sum()),
        }
        for level, part in group.groupby("level", sort=True):
            estimates = part["estimate"].to_numpy(dtype=float)
            truths = part["truth"].to_numpy(dtype=float)
            rows.append({
                "family": family, "critic": critic, "method": method, "level": str(int(level)), "truth": float(truths[0]),
                "steps": len(part), "mean_estimate": float(np.mean(estimates)), **_stats(estimates, truths),
                **timing,
            })
        pooled = _stats(group["estimate"].to_numpy(dtype=float), group["truth"].to_numpy(dtype=float))
        # Pooled sd: the root mean within-level variance (the levels' means differ by design).
        pooled["sd"] = float(np.sqrt(np.mean([v for v in group.groupby("level")["estimate"].var(ddof=1) if np.isfinite(v)] or [np.nan])))
        rows.append({
            "family": family, "critic": critic, "method": method, "level": ALL_LEVELS, "truth": np.nan,
            "steps": len(group), "mean_estimate": np.nan, **pooled, **timing,
        })
    columns = ["family", "critic", "method", "level", "truth", "steps", "mean_estimate", "bias", "sd", "rmse",
               "n_nonfinite", "n_far_off", "seconds_per_step", "diverged"]
    return pd.DataFrame(rows, columns=columns)


def rmse_pivot(summary: pd.DataFrame, kind: str) -> pd.DataFrame:
    """RMSE with methods as rows.

    Streaming: columns family / critic, all levels pooled. Fixed-N: columns task (with n=N when
    the sweep has several N); rows name the critic too when the sweep has several.
    """
    if summary.empty:
        return pd.DataFrame()
    if kind == "stream":
        part = summary[summary["level"] == ALL_LEVELS]
        part = part.assign(row=part["method"], column=part["family"] + " / " + part["critic"])
    else:
        part = summary
        column = part["task"]
        if part["n"].nunique() > 1:
            column = column + " / n=" + part["n"].astype(str)
        several = part.loc[part["critic"] != "-", "critic"].nunique() > 1
        row = part["method"].where(~several | (part["critic"] == "-"), part["method"] + " (" + part["critic"] + ")")
        part = part.assign(row=row, column=column)
    pivot = part.pivot_table(index="row", columns="column", values="rmse", aggfunc="first", sort=False)
    pivot.index.name = "method"
    pivot.columns.name = None
    return pivot
