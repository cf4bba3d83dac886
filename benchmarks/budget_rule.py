"""What twice the step budget did to stored sweep rows, by how tightly each pair is coupled.

The default budget gives pairs coupled by ``TIGHT_COUPLING_NATS`` or more nats per coordinate
(the Gaussian-copula reading over the smaller side, ``estimator.coupling_per_coordinate``)
twice the passes, up to ``TIGHT_STEPS_CAP``. This prints the evidence the threshold was chosen
on: sweep rows from ``defaults_sweep.py`` run with the default config and with ``steps13125``
(twice the budget at N = 10,000) on the same cells and seeds, each row's coupling recomputed on
the same seeded draw the sweep used, and the mean absolute relative error of both configs on
either side of the threshold (``--threshold``). Rows without both configs are left out.

    python benchmarks/budget_rule.py benchmarks/results/dev_budget.csv \\
        benchmarks/results/probe_t_highmi.csv benchmarks/results/probe_coupling.csv \\
        benchmarks/results/probe_tight_lowdim.csv
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)

from anchormi.diagnostics import gaussian_reference  # noqa: E402
from anchormi.estimator import TIGHT_COUPLING_NATS, coupling_per_coordinate  # noqa: E402
from defaults_sweep import task_for  # noqa: E402

CONFIGS = ("default", "steps13125")
CELL = ["family", "dim", "mi", "n", "seed"]


def paired_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cell and seed that both configs ran: the two estimates and their relative errors."""
    table = table[table["config"].isin(CONFIGS)]
    wide = table.pivot_table(index=CELL, columns="config", values="estimate", aggfunc="first").dropna()
    wide = wide.reset_index().rename(columns={"steps13125": "doubled"})
    wide.columns.name = None
    for column in ("default", "doubled"):
        wide[f"error_{column}"] = wide[column] / wide["mi"] - 1
    return wide


def with_coupling(rows: pd.DataFrame, coupling=None) -> pd.DataFrame:
    """Each row's coupling per coordinate; ``coupling(family, dim, mi, n, seed)`` recomputes it
    by default on the sweep's own seeded draw (None where there is no reading, e.g. digits)."""
    if coupling is None:
        def coupling(family, dim, mi, n, seed):
            x, y = task_for(family, int(dim), float(mi)).sample(int(n), seed=int(seed))
            return coupling_per_coordinate(gaussian_reference(x, y), x.shape[1], y.shape[1])
    values = [coupling(*(row[c] for c in CELL)) for _, row in rows.iterrows()]
    return rows.assign(coupling=[float("nan") if v is None else v for v in values])


def summary(rows: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Mean absolute relative error of both configs below and at or above the threshold."""
    side = rows["coupling"].ge(threshold).map({True: f">= {threshold}", False: f"< {threshold}"})
    grouped = rows.assign(side=side).groupby("side")
    return pd.DataFrame({
        "rows": grouped.size(),
        "default mean |error|": grouped["error_default"].apply(lambda e: e.abs().mean()),
        "doubled mean |error|": grouped["error_doubled"].apply(lambda e: e.abs().mean()),
        "doubled closer": grouped.apply(lambda g: int((g["error_doubled"].abs() < g["error_default"].abs()).sum()),
                                        include_groups=False),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", help="defaults_sweep.py CSVs with default and steps13125 rows")
    parser.add_argument("--threshold", type=float, default=TIGHT_COUPLING_NATS,
                        help=f"nats per coordinate (default TIGHT_COUPLING_NATS = {TIGHT_COUPLING_NATS})")
    args = parser.parse_args()
    rows = paired_rows(pd.concat([pd.read_csv(path) for path in args.sweeps], ignore_index=True))
    rows = with_coupling(rows).dropna(subset=["coupling"]).sort_values("coupling")
    pd.set_option("display.width", 200)
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    print(summary(rows, args.threshold).to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
