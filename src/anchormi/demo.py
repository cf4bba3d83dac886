"""`anchormi demo` / `make demo`: five estimators on a Gaussian whose MI is known exactly."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

DEMO_METHODS = ("anchor", "infonce", "nwj", "smile", "ksg")


def plot_range(truth: float, ceiling: float | None = None) -> tuple[float, float]:
    """The figure's y-range in nats, [-0.5, 1.5 x truth + 1] (raised to show ``ceiling``, the
    InfoNCE bound log B): wide enough for every sane estimate, narrow enough that one blown-up
    curve (NWJ can reach -300 nats) does not flatten the rest."""
    high = 1.5 * truth + 1.0
    return -0.5, high if ceiling is None else max(high, ceiling + 0.5)


def off_scale(values: np.ndarray, low: float, high: float) -> bool:
    """True when any value is non-finite or outside [low, high]."""
    values = np.asarray(values, dtype=float)
    return bool((~np.isfinite(values)).any() or (values < low).any() or (values > high).any())


def run_demo(
    out_dir: Path = Path("demo_output"),
    n: int = 10_000,
    dim: int = 10,
    mi: float = 5.0,
    batch_size: int = 64,
    seed: int = 0,
    max_steps: int | None = None,
    echo: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Estimate MI with anchor, InfoNCE, NWJ, SMILE and KSG; print a table, save a figure.

    Returns the table (method, estimate, stderr, truth, error, seconds), also written to
    ``out_dir/demo_results.csv``; the held-out estimate curves go to ``out_dir/training_curves.png``.
    ``max_steps`` caps the neural methods' step budget (None: each estimator's own budget), for a
    quick look at the table and the figure.
    The figure shows only estimates in nats (never a loss) on ``plot_range(truth)``; a curve that
    leaves that range is marked "off scale" in the legend and gets a warning line in the output.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import anchormi
    from anchormi import tasks
    from anchormi.classical import CLASSICAL
    from anchormi.files import atomic_write_table

    task = tasks.gaussian(dim=dim, mi=mi)
    x, y = task.sample(n, seed=seed)
    echo(f"anchormi demo: {task.name}, n={n}, true MI = {task.mi:.3f} nats; neural methods use batch {batch_size} "
         f"(InfoNCE ceiling log B = {math.log(batch_size):.3f} nats)")
    rows, results = [], {}
    for method in DEMO_METHODS:
        started = time.perf_counter()
        kwargs = {"seed": seed} if method in CLASSICAL else {"seed": seed, "batch_size": batch_size, "max_steps": max_steps}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = anchormi.estimate(x, y, method=method, **kwargs)
        seconds = time.perf_counter() - started
        results[method] = result
        note = "; ".join(sorted({str(w.message).split(".")[0] for w in caught}))
        rows.append({
            "method": method, "readout": result.readout, "estimate": result.mi, "stderr": result.stderr,
            "truth": task.mi, "error": result.mi - task.mi, "seconds": seconds, "note": note,
        })
        echo(f"  {method:8s} done in {seconds:5.1f} s")
    table = pd.DataFrame(rows)
    atomic_write_table(out_dir / "demo_results.csv", table)

    echo("")
    echo(f"{'method':9s} {'readout':8s} {'estimate':>9s} {'stderr':>7s} {'truth':>7s} {'error':>7s} {'time':>7s}")
    for row in rows:
        echo(f"{row['method']:9s} {row['readout']:8s} {row['estimate']:9.3f} {row['stderr']:7.3f} {row['truth']:7.3f} "
             f"{row['error']:+7.3f} {row['seconds']:6.1f}s" + (f"  ({row['note']})" if row["note"] else ""))
    echo("")
    echo(f"InfoNCE cannot exceed log B = {math.log(batch_size):.3f} nats; the anchor's plug-in has no such ceiling.")

    low, high = plot_range(task.mi, ceiling=math.log(batch_size))
    curves, far_labels = {}, {}
    for method, result in results.items():
        # The held-out estimate only: a loss (or its negative) is not an MI value in nats.
        # With cross-fitting the history has one row per fold and step: plot the fold mean. Step 0
        # is the untrained critic, not a training result, so it is left out.
        curve = None
        if len(result.history):
            history = result.history[result.history["step"] > 0]
            curve = history.groupby("step", as_index=False)["val_estimate"].mean()
        values = curve["val_estimate"].to_numpy(dtype=float) if curve is not None else np.array([result.mi])
        if off_scale(values, low, high):
            finite = values[np.isfinite(values)]
            extreme = float(finite[np.argmax(np.abs(finite - task.mi))]) if finite.size else float("nan")
            far_labels[method] = f"off scale: reaches {extreme:.3g}"
            where = "during training" if curve is not None else "(final estimate)"
            kept = (f" The reported {result.mi:.3f} comes from the kept checkpoint." if curve is not None and low <= result.mi <= high
                    else "")
            echo(f"warning: {method}'s held-out estimate went far off {where}: {extreme:.4g} nats against the truth "
                 f"{task.mi:.3f}; its curve leaves the plotted range [{low:.3g}, {high:.3g}].{kept}")
        if curve is not None:
            curves[method] = curve

    figure, axes = plt.subplots(figsize=(7, 4))
    for method, result in results.items():
        note = f", {far_labels[method]}" if method in far_labels else ""
        if method in curves:
            values = curves[method]["val_estimate"].to_numpy(dtype=float)
            axes.plot(curves[method]["step"], np.where(np.isfinite(values), values, np.nan),
                      label=f"{method} (held-out estimate{note})")
        else:
            axes.axhline(result.mi, color="grey", ls=":", label=f"{method} = {result.mi:.2f}{note}")
    axes.axhline(task.mi, color="k", ls="--", label="true MI")
    axes.axhline(math.log(batch_size), color="C1", ls=":", lw=1, label="log B (InfoNCE ceiling)")
    axes.set_xlabel("training step")
    axes.set_ylabel("held-out MI estimate (nats)")
    axes.set_title(f"anchormi demo: {task.name}, n={n}")
    axes.set_ylim(low, high)
    axes.legend(fontsize=7)
    figure.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_dir / "training_curves.png", dpi=120)
    plt.close(figure)
    echo(f"saved {out_dir / 'training_curves.png'} and {out_dir / 'demo_results.csv'}")
    return table
