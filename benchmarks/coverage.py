"""Coverage benchmark of ``anchormi.estimate``: bias, RMSE, interval coverage and type-I error.

A client of the public API only: every cell samples (x, y) from a task with known MI (or an
independent pair, truth 0) and calls ``anchormi.estimate(x, y, seed=seed, **params)``.

Cells are task family x true MI x dimension x seed:

- ``gaussian``      ``anchormi.tasks.gaussian(dim, mi)``
- ``cubic``         ``anchormi.tasks.cubic(dim, mi)`` (y -> y^3)
- ``student_t``     ``anchormi.tasks.student_t(dim, dim, dof=3, rho)``, heavy tails. Its MI is
                    I_gauss(rho) + c(dof, dim, dim) with c > 0 even at rho = 0 (0.30 nats at d = 5,
                    0.52 at d = 10); rho is solved for the wanted MI where that exceeds c, else
                    rho = 0 and the cell's truth is c (the 0.5-nat level at d = 10 has truth 0.519).
- ``half_cube``     ``anchormi.tasks.half_cube(gaussian(dim, mi))``: sign(v)|v|^1.5 on x and y.
- ``digits``        ``anchormi.tasks.digits(k)``, k = 1..4, dimension 64 k, truth k log 10.
- ``independent_gaussian`` / ``independent_t`` / ``independent_mixed``: MI = 0 (the builders
                    refuse mi=0): x and y are drawn independently, standard normal, numpy
                    ``standard_t(df=3)`` columns, or skewed x (lognormal) with few-valued y
                    (Poisson(2) counts, ties on every column).

Levels: 0, 0.5, 2, 4, 6, 8, 10 nats (digits: 2.30, 4.61, 6.91, 9.21), dimensions 5 and 10,
seeds 100 and 101, N = 10,000: 104 cells by default. The data of a cell are drawn from a seed
derived from (seed, family, dim, level), so two families never share a draw; ``seed`` itself is
passed to ``estimate`` (training split and initialisation).

REPORT set, not development set: the library's defaults are tuned on a separate development set
(Gaussian and cubic at d = 10 with 4 and 8 nats, Gaussian at d = 5 with 1 nat, seeds 11 and 12;
``benchmarks/defaults_sweep.py --grid dev``). Those (family, dim, mi) combinations are excluded
from the default grid here (``DEV_CELLS``): Gaussian and cubic d = 10 at 4 and 8 nats are not run,
and 1 nat is not a level. The seeds differ as well. ``half_cube`` d = 10 at 4 and 8 nats is kept:
it is another family (a non-Gaussian marginal of the same dependence).

Usage:

    python benchmarks/coverage.py                                   # the default report grid
    python benchmarks/coverage.py --param folds=5 --param marginals=normal_scores --label ns_folds5
    python benchmarks/coverage.py --quick                           # 6 cells, N = 2,000, smoke test
    python benchmarks/coverage.py --families independent_gaussian,independent_t,independent_mixed \
        --seeds 200-209 --label null                                # 60 null cells: type-I error, coverage of 0
    python benchmarks/coverage.py --compare coverage_output/default coverage_output/ns_folds5
                                                                    # two configurations, shared cells

Results go to ``OUT/LABEL/``: ``cells/<key>.json`` (one per finished cell, written atomically;
a rerun skips them, so a killed run resumes), ``cells.csv``, ``summary.md`` (starting with the
command line), ``summary.csv``, ``overall.json``, ``estimate_vs_truth.png`` and
``coverage_by_level.png``. Ctrl-C or SIGTERM stops the worker processes and keeps finished cells.
Use a new ``--label`` for every new set of ``--param`` values (a label remembers its params and
refuses others), and after a code change: each cell records the code that ran it (``code``, the
version plus git commit), and ``summary.md`` says when a folder's cells come from different code.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import multiprocessing
import os
import re
import shlex
import signal
import sys
import time
import traceback
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

# Each worker process uses one thread; set before any child imports torch (children inherit it).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

FAMILIES = ("gaussian", "cubic", "student_t", "half_cube", "digits", "independent_gaussian", "independent_t",
            "independent_mixed")
NULL_FAMILIES = ("independent_gaussian", "independent_t", "independent_mixed")
# The report grid of 0.2 (--seeds 100 without --families): the families it was first run with.
REPORT_FAMILIES = tuple(family for family in FAMILIES if family != "independent_mixed")
LEVELS = (0.5, 2.0, 4.0, 6.0, 8.0, 10.0)
DIGITS_K = (1, 2, 3, 4)
DIMS = (5, 10)
SEEDS = (100, 101)
N_DEFAULT = 10_000
N_QUICK = 2_000
STUDENT_T_DOF = 3.0
INDEPENDENT_T_DOF = 3.0
# The development set of the defaults (benchmarks/defaults_sweep.py --grid dev): never reported here.
DEV_CELLS = frozenset({("gaussian", 10, 4.0), ("gaussian", 10, 8.0), ("cubic", 10, 4.0), ("cubic", 10, 8.0),
                       ("gaussian", 5, 1.0)})
NOMINAL = 0.95
ALPHA = 0.05
CLASSICAL_METHODS = ("ksg", "gaussian")


# ---- the grid ---------------------------------------------------------------------------------


def _cell(family: str, dim: int, level: float, seed: int, n: int, k: int | None = None) -> dict[str, Any]:
    if family == "digits":
        key = f"digits-k{k}-s{seed}-n{n}"
    else:
        key = f"{family}-d{dim}-mi{level:g}-s{seed}-n{n}"
    return {"key": key, "family": family, "dim": dim, "level": float(level), "seed": int(seed), "n": int(n), "k": k}


def build_grid(seeds: Iterable[int] = SEEDS, n: int = N_DEFAULT, dims: Iterable[int] = DIMS,
               families: Iterable[str] = REPORT_FAMILIES, quick: bool = False) -> list[dict[str, Any]]:
    """The cells to run, each a dict with key, family, dim, level (nominal MI, nats), seed, n, k.

    The default grid excludes ``DEV_CELLS``. ``quick`` gives 6 cells with the first seed.
    """
    seeds = list(seeds)
    families = [f for f in families]
    if quick:
        seed = seeds[0]
        cells = [
            _cell("gaussian", 5, 2.0, seed, n), _cell("cubic", 5, 4.0, seed, n),
            _cell("student_t", 5, 2.0, seed, n), _cell("half_cube", 5, 6.0, seed, n),
            _cell("digits", 64, math.log(10.0), seed, n, k=1), _cell("independent_gaussian", 5, 0.0, seed, n),
        ]
        return [c for c in cells if c["family"] in families]
    cells = []
    for seed in seeds:
        for family in families:
            if family == "digits":
                cells += [_cell("digits", 64 * k, k * math.log(10.0), seed, n, k=k) for k in DIGITS_K]
                continue
            levels = (0.0,) if family in NULL_FAMILIES else LEVELS
            for dim in dims:
                for level in levels:
                    if (family, dim, level) not in DEV_CELLS:
                        cells.append(_cell(family, dim, level, seed, n))
    return cells


def make_data(cell: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Sample the cell's (x, y); returns x, y, the exact MI (nats) and a description of the task."""
    from anchormi import tasks

    family, dim, level, n = cell["family"], cell["dim"], cell["level"], cell["n"]
    entropy = [cell["seed"], zlib.crc32(family.encode()), dim, int(round(level * 1000))]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    if family == "independent_gaussian":
        return rng.standard_normal((n, dim)), rng.standard_normal((n, dim)), 0.0, f"independent N(0,1), d={dim}"
    if family == "independent_t":
        x = rng.standard_t(INDEPENDENT_T_DOF, size=(n, dim))
        y = rng.standard_t(INDEPENDENT_T_DOF, size=(n, dim))
        return x, y, 0.0, f"independent t{INDEPENDENT_T_DOF:g} columns, d={dim}"
    if family == "independent_mixed":
        x = rng.lognormal(0.0, 1.0, size=(n, dim))
        y = rng.poisson(2.0, size=(n, dim)).astype(float)
        return x, y, 0.0, f"independent lognormal x and Poisson(2) y, d={dim}"
    if family == "gaussian":
        task = tasks.gaussian(dim=dim, mi=level)
    elif family == "cubic":
        task = tasks.cubic(dim=dim, mi=level)
    elif family == "half_cube":
        task = tasks.half_cube(tasks.gaussian(dim=dim, mi=level))
    elif family == "student_t":
        rho = tasks.paired_rho_for_mi(level, dim, STUDENT_T_DOF)
        task = tasks.student_t(dim_x=dim, dim_y=dim, dof=STUDENT_T_DOF, rho=rho)
    elif family == "digits":
        task = tasks.digits(k=cell["k"])
    else:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    x, y = task.sample(n, seed=rng)
    return x, y, float(task.mi), task.name


# ---- one cell (runs in a worker process) ------------------------------------------------------


def _init_worker() -> None:
    """One torch thread per worker; Ctrl-C is the parent's to handle (it terminates the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def run_cell(cell: dict[str, Any], params: dict[str, Any], cells_dir: str) -> dict[str, Any]:
    """Run one cell, write ``cells_dir/<key>.json`` atomically and return the record.

    On an exception the record has ``error`` (the traceback) and no file is written, so a rerun
    tries the cell again.
    """
    try:
        import anchormi
        from anchormi.bench.provenance import code_version
        from anchormi.files import atomic_write_text

        code = code_version()  # read as the code is imported (cached per worker), not after a long fit
        x, y, truth, task_name = make_data(cell)
        kwargs = dict(params)
        method = kwargs.pop("method", "anchor")
        kwargs.setdefault("seed", cell["seed"])
        if method not in CLASSICAL_METHODS:
            kwargs.setdefault("progress", False)
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = anchormi.estimate(x, y, method=method, **kwargs)
        seconds = time.perf_counter() - started
        lo, hi = result.ci
        estimate = _finite(result.mi)
        lo, hi = _finite(lo), _finite(hi)
        covered = lo is not None and hi is not None and lo <= truth <= hi
        python_warnings = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}" for w in caught})
        record = {
            "key": cell["key"], "family": cell["family"], "task": task_name, "dim": cell["dim"], "k": cell["k"],
            "level": cell["level"], "truth": truth, "seed": cell["seed"], "n": cell["n"],
            "estimate": estimate, "stderr": _finite(result.stderr), "ci_lo": lo, "ci_hi": hi,
            "covered": bool(covered), "width": None if lo is None or hi is None else hi - lo,
            "p_value": _finite(result.p_value), "seconds": seconds,
            "warnings": [name for name, check in result.diagnostics.items() if check.status == "warn"],
            "python_warnings": python_warnings,
            "ci_method": result.ci_method, "objective": result.objective, "readout": result.readout,
            "n_train": int(result.n_train), "n_test": int(result.n_test),
            "best_step": result.info.get("best_step"), "method": method,
            # Signed: the refitted-offset reading is estimate + offset_disagreement.
            "offset_disagreement": _finite(result.info.get("offset_disagreement")),
            # D's own sampling error (the refits' sandwich): how much of D is noise of the refit.
            "offset_disagreement_stderr": _finite(result.info.get("offset_disagreement_stderr")),
            "estimate_trained_offset": _finite(result.info.get("estimate_trained_offset", result.mi)),
            # How far the upper end was raised to the Gaussian-copula bound's upper limit (0: not raised).
            "ci_above": _finite(result.ci_above),
            "check_values": {name: _finite(check.value) for name, check in result.diagnostics.items()},
            "check_status": {name: check.status for name, check in result.diagnostics.items()},
            "params": {name: repr(value) for name, value in sorted(params.items())},
            "code": code,
        }
        atomic_write_text(Path(cells_dir) / f"{cell['key']}.json", json.dumps(record, indent=1) + "\n")
        return record
    except Exception:  # noqa: BLE001 - reported by the parent; the cell stays unfinished
        return {"key": cell["key"], "error": traceback.format_exc()}


# ---- summary ----------------------------------------------------------------------------------


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n) if n > 0 else float("nan")


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _with_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Cell records as floats, with ``error`` (estimate - truth) and ``rel_error`` (|error| / truth;
    NaN at truth 0)."""
    frame = frame.astype({"estimate": float, "truth": float, "level": float, "width": float})
    frame["error"] = frame["estimate"] - frame["truth"]
    positive = frame["truth"] > 0
    frame["rel_error"] = np.where(positive, frame["error"].abs() / frame["truth"].where(positive, 1.0), np.nan)
    return frame


def summarize(records: Iterable[dict[str, Any]]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per (family, level) table and overall numbers from cell records.

    Each record needs family, level, truth, estimate, covered, width and p_value (None allowed).

    Table columns: family, level, truth (mean over the cells), count, bias (mean estimate -
    truth), rmse, mean_rel_error (mean |estimate - truth| / truth; NaN at truth 0), coverage
    (fraction of cells whose 95 % interval holds the truth), mean_width, reject_rate (fraction of
    cells with p_value < 0.05 among those with a p-value: the type-I error at truth 0, the power
    above), n_p_values.

    Overall: n_cells, coverage and coverage_se (binomial), mean_rel_error_2_8 and n_cells_2_8
    (truth in [2, 8]), type_i_error and type_i_se (truth 0 cells with a p-value; p < 0.05),
    n_null, n_null_rejected.
    """
    frame = pd.DataFrame(list(records))
    columns = ["family", "level", "truth", "count", "bias", "rmse", "mean_rel_error", "coverage", "mean_width",
               "reject_rate", "n_p_values"]
    if frame.empty:
        return pd.DataFrame(columns=columns), {"n_cells": 0}
    frame = _with_errors(frame)
    frame["p_value"] = pd.to_numeric(frame["p_value"], errors="coerce")
    frame["covered"] = frame["covered"].astype(bool)

    rows = []
    order = {family: i for i, family in enumerate(FAMILIES)}
    for (family, level), group in frame.groupby(["family", "level"], sort=False):
        p_values = group["p_value"].dropna()
        rows.append({
            "family": family, "level": level, "truth": _mean(group["truth"]), "count": len(group),
            "bias": _mean(group["error"]), "rmse": math.sqrt(_mean(group["error"] ** 2)),
            "mean_rel_error": _mean(group["rel_error"].dropna()) if (group["truth"] > 0).any() else float("nan"),
            "coverage": _mean(group["covered"].astype(float)), "mean_width": _mean(group["width"]),
            "reject_rate": _mean((p_values < ALPHA).astype(float)), "n_p_values": len(p_values),
        })
    table = pd.DataFrame(rows, columns=columns)
    table = table.assign(_order=table["family"].map(lambda f: order.get(f, len(order)))).sort_values(
        ["_order", "family", "level"]).drop(columns="_order").reset_index(drop=True)

    coverage = _mean(frame["covered"].astype(float))
    middle = frame[(frame["truth"] >= 2.0) & (frame["truth"] <= 8.0)]
    null_p = frame.loc[frame["truth"] == 0.0, "p_value"].dropna()
    rejected = int((null_p < ALPHA).sum())
    type_i = rejected / len(null_p) if len(null_p) else float("nan")
    overall = {
        "n_cells": int(len(frame)),
        "coverage": coverage, "coverage_se": _binomial_se(coverage, len(frame)),
        "mean_rel_error_2_8": _mean(middle["rel_error"]), "n_cells_2_8": int(len(middle)),
        "type_i_error": type_i, "type_i_se": _binomial_se(type_i, len(null_p)) if len(null_p) else float("nan"),
        "n_null": int(len(null_p)), "n_null_rejected": rejected,
    }
    return table, overall


def level_table(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Every family pooled per true MI level: cells, coverage, bias, mean |relative error| and mean
    interval width. A digits cell (truth k log 10) joins the nearest level, so k = 1, 2, 3, 4 count
    at 2, 4, 6 and 10 nats; the null cells form level 0."""
    frame = pd.DataFrame(list(records))
    if frame.empty:
        return pd.DataFrame(columns=["level", "cells", "coverage", "bias", "mean_rel_error", "mean_width"])
    frame = _with_errors(frame)
    levels = np.array((0.0, *LEVELS))
    frame["row"] = [levels[np.abs(levels - truth).argmin()] if family == "digits" else level
                    for family, truth, level in zip(frame["family"], frame["truth"], frame["level"])]
    frame["covered"] = frame["covered"].astype(float)
    return frame.groupby("row").agg(cells=("error", "size"), coverage=("covered", "mean"), bias=("error", "mean"),
                                    mean_rel_error=("rel_error", "mean"), mean_width=("width", "mean")
                                    ).rename_axis("level").reset_index()


READINGS = {
    "the estimate": lambda f: f["estimate"],
    "trained offset": lambda f: f["trained"],
    "refitted offset": lambda f: f["trained"] + f["offset_disagreement"],
    "max of the two": lambda f: np.maximum(f["trained"], f["trained"] + f["offset_disagreement"]),
    "Donsker-Varadhan": lambda f: f["trained"] - f["check_calibration"],
}


def readings_table(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Other readings of the same trained critics, from fields the cells store (no rerun).

    - trained offset: ``estimate_trained_offset`` (cells from before that field: the estimate,
      which was then the trained reading);
    - refitted offset: trained + offset_disagreement (the offset refitted on validation pairs);
    - Donsker-Varadhan: trained - calibration, i.e. mean_p l - log mean_q exp(l) on the held-out
      pairs with y shuffled, which for any fixed critic is at most the MI in expectation over
      infinite data.

    One row per family and one for all cells with truth in [2, 10] nats: RMS and mean relative
    error of each reading. Empty when no cell has the fields (cells from before they were stored).
    """
    frame = pd.DataFrame(list(records))
    needed = {"offset_disagreement", "check_values"}
    if frame.empty or not needed <= set(frame.columns):
        return pd.DataFrame()
    frame = frame[frame["offset_disagreement"].notna() & (frame["truth"].astype(float) >= 2)].copy()
    frame["check_calibration"] = [v.get("calibration") if isinstance(v, dict) else None for v in frame["check_values"]]
    frame = frame[frame["check_calibration"].notna()]
    if frame.empty:
        return pd.DataFrame()
    trained = frame["estimate_trained_offset"] if "estimate_trained_offset" in frame else frame["estimate"]
    frame["trained"] = pd.to_numeric(trained.where(trained.notna(), frame["estimate"]))
    frame = frame.astype({"estimate": float, "truth": float, "offset_disagreement": float, "check_calibration": float})
    rows = []
    for name, group in [*frame.groupby("family", sort=False), ("all, truth 2-10 nats", frame)]:
        row: dict[str, Any] = {"cells": name, "count": len(group)}
        for reading, read in READINGS.items():
            rel = (read(group) - group["truth"]) / group["truth"]
            row[f"{reading}: rms rel"] = math.sqrt(_mean(rel**2))
            row[f"{reading}: mean |rel|"] = _mean(rel.abs())
        rows.append(row)
    return pd.DataFrame(rows)


def diagnostics_table(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """How often each diagnostic said ok, warn or skip, by family (cells that stored
    ``check_status``; empty otherwise). One row per family and check, with the cells that warned."""
    rows = []
    for record in records:
        for name, status in (record.get("check_status") or {}).items():
            rows.append({"family": record["family"], "check": name, "status": status, "key": record["key"]})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(index=["check", "family"], columns="status", values="key", aggfunc="count", fill_value=0)
    return table.reset_index().rename_axis(columns=None)


def overall_lines(overall: dict[str, Any]) -> list[str]:
    if not overall.get("n_cells"):
        return ["- no finished cells"]
    return [
        f"- coverage of the 95 % interval, all {overall['n_cells']} cells: {overall['coverage']:.3f} "
        f"± {overall['coverage_se']:.3f} (binomial se; nominal {NOMINAL})",
        f"- mean relative error |estimate - truth| / truth, {overall['n_cells_2_8']} cells with truth in [2, 8] nats: "
        f"{overall['mean_rel_error_2_8']:.3f}",
        f"- type-I error at MI = 0 (p < {ALPHA}): {overall['n_null_rejected']}/{overall['n_null']} = "
        f"{overall['type_i_error']:.3f} ± {overall['type_i_se']:.3f} (binomial se; nominal {ALPHA})",
    ]


def compare(folders: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown comparison of configurations on the cells that all of them finished.

    ``folders`` maps a name to its cell records. Rows: the shared cells, coverage (covered
    count), type-I rejections at MI = 0, the RMS relative error over cells with MI > 0 (overall
    and per family), the mean absolute relative error at 2-8 nats, coverage, bias and width per
    true MI level (``level_table``); then the cells whose errors differ most between the first two
    configurations. One folder alone gives its own figures.
    """
    frames = {name: pd.DataFrame(records).set_index("key") for name, records in folders.items()}
    shared = sorted(set.intersection(*(set(frame.index) for frame in frames.values())))
    if not shared:
        return "no cell is finished in every folder: nothing to compare."
    names = list(frames)
    rows: dict[str, list[str]] = {}
    relative = {}
    for name, frame in frames.items():
        frame = frame.loc[shared]
        _, overall = summarize(frame.reset_index().to_dict("records"))
        positive = frame[frame["truth"].astype(float) > 0]
        rel = (positive["estimate"].astype(float) - positive["truth"].astype(float)) / positive["truth"].astype(float)
        relative[name] = rel
        rows.setdefault("cells", []).append(str(overall["n_cells"]))
        rows.setdefault("coverage of the 95 % interval", []).append(
            f"{overall['coverage']:.3f} ({int(frame['covered'].astype(bool).sum())} of {overall['n_cells']})")
        for level in level_table(frame.reset_index().to_dict("records")).itertuples():
            rows.setdefault(f"  at {level.level:g} nats ({level.cells} cells): coverage, bias, mean width", []).append(
                f"{level.coverage:.2f}, {level.bias:+.3f}, {level.mean_width:.3f}")
        rows.setdefault("type-I rejections at MI = 0", []).append(f"{overall['n_null_rejected']} of {overall['n_null']}")
        rows.setdefault(f"RMS relative error, {len(rel)} cells with MI > 0", []).append(f"{math.sqrt(float((rel ** 2).mean())):.3f}")
        for family, group in rel.groupby(positive["family"], sort=False):
            rows.setdefault(f"  {family} ({len(group)} cells)", []).append(f"{math.sqrt(float((group ** 2).mean())):.3f}")
        rows.setdefault(f"mean absolute relative error, {overall['n_cells_2_8']} cells at 2-8 nats", []).append(
            f"{overall['mean_rel_error_2_8']:.3f}")
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {row} | " + " | ".join(values) + " |" for row, values in rows.items()]
    if len(names) >= 2:
        first, second = names[:2]
        gap = (relative[second].abs() - relative[first].abs()).sort_values()
        moved = pd.concat([gap.head(5), gap.tail(5)])
        moved = moved[~moved.index.duplicated()]
        lines += ["", f"Cells whose absolute relative error moved most from {first} to {second}:", "",
                  f"| cell | {first} | {second} |", "|---|---|---|"]
        lines += [f"| {key} | {relative[first][key]:+.1%} | {relative[second][key]:+.1%} |" for key in moved.index]
    return "\n".join(lines)


# ---- figures ----------------------------------------------------------------------------------


def make_figures(frame: pd.DataFrame, table: pd.DataFrame, folder: Path, title: str) -> list[Path]:
    """estimate_vs_truth.png and coverage_by_level.png in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    families = [f for f in FAMILIES if f in set(frame["family"])] + sorted(set(frame["family"]) - set(FAMILIES))
    top = float(np.nanmax(np.concatenate([frame["truth"].to_numpy(float), frame["estimate"].to_numpy(float)])))
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.plot([0, top * 1.05], [0, top * 1.05], color="k", lw=1, ls="--", label="estimate = truth")
    for i, family in enumerate(families):
        group = frame[frame["family"] == family]
        offset = (i - (len(families) - 1) / 2) * 0.06  # small shift so families at one level stay apart
        # Drawn as lines from lo to hi: a clipped interval ([0, hi] at MI = 0) need not contain the estimate.
        ax.vlines(group["truth"] + offset, group["ci_lo"], group["ci_hi"], color=f"C{i}", lw=1, alpha=0.85)
        ax.plot(group["truth"] + offset, group["estimate"], "o", ms=4, color=f"C{i}", label=family, alpha=0.85)
    ax.set_xlabel("true MI (nats)")
    ax.set_ylabel("estimate with 95 % interval (nats)")
    ax.set_title(f"{title}: estimate against truth")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(folder / "estimate_vs_truth.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    pooled = frame.groupby("level").agg(coverage=("covered", "mean"), count=("covered", "size")).reset_index()
    pooled = pooled.sort_values("level")
    levels = pooled["level"].to_numpy(float)
    se = np.sqrt(NOMINAL * (1 - NOMINAL) / pooled["count"].to_numpy(float))
    band_low, band_high = NOMINAL - 2 * se, np.minimum(1.0, NOMINAL + 2 * se)
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    # The band depends on how many cells share a level, so it is drawn per level.
    ax.bar(levels, band_high - band_low, bottom=band_low, width=0.3, color="grey", alpha=0.3,
           label="nominal ± 2 binomial sd (cells at that level)")
    ax.axhline(NOMINAL, color="k", lw=1, ls="--", label=f"nominal {NOMINAL}")
    for i, family in enumerate(families):
        group = table[table["family"] == family]
        offset = (i - (len(families) - 1) / 2) * 0.04
        ax.plot(group["level"] + offset, group["coverage"], "o", ms=4, color=f"C{i}", alpha=0.6, label=family)
    ax.plot(levels, pooled["coverage"], "s", color="k", ms=7, mfc="none", mew=1.5, label="all families at the level")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("MI level (nats)")
    ax.set_ylabel("coverage of the 95 % interval")
    ax.set_title(f"{title}: coverage by MI level")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    paths.append(folder / "coverage_by_level.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


# ---- driver -----------------------------------------------------------------------------------


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings -> dict; values through ``ast.literal_eval``, else kept as str."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise SystemExit(f"error: --param {item!r} is not NAME=VALUE, e.g. --param folds=5")
        try:
            params[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            params[name] = text.strip()
    return params


def parse_seeds(text: str) -> list[int]:
    """"100,101" or "200-209" (inclusive) or a mix -> list of ints; ValueError names a bad part."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, sep, last = part.partition("-")
        try:
            seeds += list(range(int(first), int(last) + 1)) if sep else [int(part)]
        except ValueError:
            raise ValueError(f"--seeds part {part!r} is not an integer or a range A-B, e.g. 100,101 or 200-209") from None
    if not seeds:
        raise ValueError("--seeds names no seed; pass e.g. 100 or 200-209")
    return seeds


def default_label(params: dict[str, Any]) -> str:
    if not params:
        return "default"
    parts = []
    for name, value in sorted(params.items()):
        text = re.sub(r"[()\[\]{}'\" ]", "", repr(value)).strip(",").replace(",", "x")  # (128, 128) -> 128x128
        parts.append(f"{name}={text}")
    return re.sub(r"[^A-Za-z0-9_.,=+-]+", "-", ",".join(parts)) or "custom"


def load_records(cells_dir: Path, keys: Iterable[str]) -> list[dict[str, Any]]:
    records = []
    for key in keys:
        path = cells_dir / f"{key}.json"
        if path.exists():
            records.append(json.loads(path.read_text()))
    return records


def folder_records(folder: Path) -> list[dict[str, Any]]:
    """A result folder's finished cells: its ``cells/*.json``, else its ``cells.csv`` (the stored
    results keep only the table)."""
    if (folder / "cells").is_dir():
        return load_records(folder / "cells", sorted(path.stem for path in (folder / "cells").glob("*.json")))
    return pd.read_csv(folder / "cells.csv").to_dict("records")


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop_now(executor: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the worker processes (no orphans)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def run_cells(todo: list[dict[str, Any]], params: dict[str, Any], cells_dir: Path, workers: int,
              counts: dict[str, int]) -> None:
    """Run ``todo`` in a spawn process pool, counting into ``counts["computed"]`` and
    ``counts["failed"]``. KeyboardInterrupt (Ctrl-C, or SIGTERM while this runs) propagates after
    the queued cells are cancelled and the worker processes ended."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    context = multiprocessing.get_context("spawn")
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    try:
        futures = [executor.submit(run_cell, cell, params, str(cells_dir)) for cell in todo]
        for done, future in enumerate(as_completed(futures), start=1):
            record = future.result()
            if "error" in record:
                counts["failed"] += 1
                print(f"[{done}/{len(todo)}] {record['key']}: FAILED\n{record['error']}", flush=True)
                continue
            counts["computed"] += 1
            print(f"[{done}/{len(todo)}] {record['key']}: {record['estimate']:.3f} "
                  f"[{record['ci_lo']:.3f}, {record['ci_hi']:.3f}] truth {record['truth']:.3f} "
                  f"{'covered' if record['covered'] else 'MISSED '} {record['seconds']:.1f}s"
                  + (f" warn: {','.join(record['warnings'])}" if record["warnings"] else ""), flush=True)
    except BaseException:
        _stop_now(executor)
        raise
    else:
        executor.shutdown(wait=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_report(records: list[dict[str, Any]], folder: Path, command: str, params: dict[str, Any],
                 n_total: int) -> str:
    from anchormi.bench.provenance import describe_code_versions
    from anchormi.files import atomic_write_table, atomic_write_text, markdown_table

    table, overall = summarize(records)
    lines = [
        f"# Coverage benchmark: {folder.name}", "",
        "```", command, "```", "",
        f"`anchormi.estimate` params: {params or '(defaults)'}; {len(records)} of {n_total} cells finished.", "",
        describe_code_versions(record.get("code") for record in records), "",
        "## Per family and MI level", "",
        markdown_table(table), "",
        "bias = mean(estimate - truth); mean_rel_error = mean |estimate - truth| / truth; coverage = fraction of "
        "cells whose 95 % interval contains the truth; reject_rate = fraction with p < 0.05 (type-I error at "
        "truth 0, power above).", "",
        "## Overall", "",
        *overall_lines(overall), "",
        "By true MI level, every family pooled (digits k = 1..4 at the nearest level: 2, 4, 6, 10):", "",
        markdown_table(level_table(records)), "",
    ]
    readings = readings_table(records)
    if not readings.empty:
        lines += ["## Other readings of the same critics (truth 2-10 nats)", "",
                  "Relative errors of the estimate and of readings computed from the stored offset "
                  "disagreement and calibration value (`readings_table`); nothing was rerun.", "",
                  markdown_table(readings.round(3)), ""]
    checks = diagnostics_table(records)
    if not checks.empty:
        lines += ["## Diagnostics", "", "Cells per check and status (`result.diagnostics`).", "", markdown_table(checks), ""]
    if records:
        frame = pd.DataFrame(records).astype({"estimate": float, "truth": float, "level": float})
        frame["covered"] = frame["covered"].astype(bool)
        for column in ("ci_lo", "ci_hi"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        paths = make_figures(frame, table, folder, folder.name)
        lines += ["## Figures", "", *[f"![{p.stem}]({p.name})" for p in paths], ""]
        cells = frame.drop(columns=["params"], errors="ignore").copy()
        for column in ("warnings", "python_warnings"):
            if column in cells:
                cells[column] = cells[column].map(lambda v: ";".join(v) if isinstance(v, list) else v)
        # One column per diagnostic value and status, e.g. check_calibration and status_calibration.
        for field, prefix in (("check_values", "check_"), ("check_status", "status_")):
            if field in cells:
                spread = pd.DataFrame([v if isinstance(v, dict) else {} for v in cells.pop(field)], index=cells.index)
                cells = cells.join(spread.add_prefix(prefix))
        atomic_write_table(folder / "cells.csv", cells)
    text = "\n".join(lines)
    atomic_write_text(folder / "summary.md", text)
    atomic_write_table(folder / "summary.csv", table)
    atomic_write_text(folder / "overall.json", json.dumps(overall, indent=1) + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="coverage_output", help="output folder (default coverage_output)")
    parser.add_argument("--label", default=None,
                        help="name of this configuration; results go to OUT/LABEL (default: 'default', or the params)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="passed to anchormi.estimate, repeatable (e.g. folds=5, marginals=normal_scores, "
                             "method=ksg); values via ast.literal_eval, else str")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, one torch thread each (default 2)")
    parser.add_argument("--n", type=int, default=None, help=f"samples per cell (default {N_DEFAULT:,}; --quick {N_QUICK:,})")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)),
                        help="comma-separated, ranges as A-B (default 100,101)")
    parser.add_argument("--dims", default=",".join(map(str, DIMS)), help="comma-separated dimensions (default 5,10; not digits)")
    parser.add_argument("--families", default=",".join(REPORT_FAMILIES),
                        help=f"comma-separated subset of {','.join(FAMILIES)} (default: all but independent_mixed)")
    parser.add_argument("--quick", action="store_true", help=f"6 cells, first seed, N = {N_QUICK:,}: a smoke test")
    parser.add_argument("--summary-only", action="store_true", help="rebuild the summary from finished cells; run nothing")
    parser.add_argument("--compare", nargs="+", metavar="FOLDER",
                        help="compare finished result folders (OUT/LABEL) on the cells they share; run nothing")
    args = parser.parse_args(argv)
    if args.compare:
        missing = [folder for folder in args.compare
                   if not ((Path(folder) / "cells").is_dir() or (Path(folder) / "cells.csv").is_file())]
        if missing:
            parser.error(f"no cells/ or cells.csv in {', '.join(missing)}; pass result folders such as "
                         "coverage_output/default or benchmarks/results/coverage-v05-calibration")
        print(compare({Path(folder).name: folder_records(Path(folder)) for folder in args.compare}), flush=True)
        return 0

    params = parse_params(args.param)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {','.join(FAMILIES)}")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    n = args.n or (N_QUICK if args.quick else N_DEFAULT)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as error:
        parser.error(str(error))
    dims = [int(d) for d in args.dims.split(",") if d.strip()]
    label = args.label or default_label(params)
    folder = Path(args.out) / label
    cells_dir = folder / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)

    from anchormi.files import atomic_write_text

    config = {"params": {name: repr(value) for name, value in sorted(params.items())}}
    config_path = folder / "config.json"
    if config_path.exists():
        stored = json.loads(config_path.read_text())
        if stored.get("params") != config["params"]:
            print(f"error: {folder} holds cells run with params {stored.get('params')}, not {config['params']}; "
                  "pass another --label (or --out) for a new configuration.", file=sys.stderr)
            return 2
    else:
        atomic_write_text(config_path, json.dumps(config, indent=1) + "\n")

    cells = build_grid(seeds=seeds, n=n, dims=dims, families=families, quick=args.quick)
    todo = [cell for cell in cells if not (cells_dir / f"{cell['key']}.json").exists()]
    print(f"{folder}: {len(cells)} cells, {len(cells) - len(todo)} already finished, {len(todo)} to run "
          f"with {args.workers} worker(s); params {params or '(defaults)'}", flush=True)
    counts = {"computed": 0, "failed": 0}
    status = 0
    if todo and not args.summary_only:
        try:
            run_cells(todo, params, cells_dir, min(args.workers, len(todo)), counts)
        except KeyboardInterrupt:
            print("interrupted: workers stopped; finished cells are kept, rerun the same command to resume.",
                  file=sys.stderr, flush=True)
            status = 130
        except BrokenProcessPool as error:  # a worker died (e.g. out of memory): keep what finished
            print(f"error: a worker process died ({error}); finished cells are kept, rerun to resume.",
                  file=sys.stderr, flush=True)
            status = 1
    print(f"cells: total={len(cells)} skipped={len(cells) - len(todo)} computed={counts['computed']} "
          f"failed={counts['failed']}", flush=True)

    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])) if argv is None else \
        shlex.join(["python", "benchmarks/coverage.py", *argv])
    records = load_records(cells_dir, [cell["key"] for cell in cells])
    text = write_report(records, folder, command, params, len(cells))
    print(text, flush=True)
    if counts["failed"] and not status:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
