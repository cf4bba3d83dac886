"""benchmarks/coverage.py: the summary on hand-made cell records, and a tiny resumable run."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "coverage.py"


@pytest.fixture(scope="module")
def coverage_script():
    spec = importlib.util.spec_from_file_location("anchormi_coverage_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def record(family, level, truth, estimate, lo, hi, p_value):
    return {"family": family, "level": level, "truth": truth, "estimate": estimate, "ci_lo": lo, "ci_hi": hi,
            "covered": lo <= truth <= hi, "width": hi - lo, "p_value": p_value}


RECORDS = [
    record("gaussian", 2.0, 2.0, 2.1, 1.9, 2.3, 0.001),     # covered, error +0.1
    record("gaussian", 2.0, 2.0, 1.7, 1.6, 1.8, 0.01),      # missed, error -0.3
    record("gaussian", 8.0, 8.0, 7.2, 7.0, 7.4, 0.001),     # missed, error -0.8
    record("cubic", 10.0, 10.0, 9.0, 8.5, 10.5, 0.001),     # covered, outside [2, 8]
    record("student_t", 0.5, 0.5, 0.45, 0.40, 0.50, 0.02),  # covered (on the edge)
    record("student_t", 0.5, 0.52, 0.60, 0.55, 0.65, 0.03),  # missed; truth differs from the level
    record("independent_gaussian", 0.0, 0.0, 0.05, -0.05, 0.15, 0.01),  # rejected at 0.05
    record("independent_gaussian", 0.0, 0.0, -0.02, -0.10, 0.06, 0.2),
    record("independent_gaussian", 0.0, 0.0, 0.30, 0.10, 0.50, 0.5),   # missed
    record("independent_gaussian", 0.0, 0.0, 0.00, -0.10, 0.10, None),  # no p-value: not in the type-I count
]


def test_summary_matches_hand_computed_values(coverage_script):
    table, overall = coverage_script.summarize(RECORDS)
    rows = {(r.family, r.level): r for r in table.itertuples()}
    assert len(rows) == 5

    g2 = rows[("gaussian", 2.0)]
    assert g2.count == 2
    assert g2.bias == pytest.approx(-0.1)
    assert g2.rmse == pytest.approx(math.sqrt((0.1**2 + 0.3**2) / 2))
    assert g2.mean_rel_error == pytest.approx((0.05 + 0.15) / 2)
    assert g2.coverage == pytest.approx(0.5)
    assert g2.mean_width == pytest.approx(0.3)
    assert g2.reject_rate == pytest.approx(1.0)

    g8 = rows[("gaussian", 8.0)]
    assert (g8.bias, g8.rmse, g8.mean_rel_error, g8.coverage) == pytest.approx((-0.8, 0.8, 0.1, 0.0))

    t = rows[("student_t", 0.5)]
    assert t.count == 2 and t.truth == pytest.approx(0.51)
    assert t.bias == pytest.approx(((0.45 - 0.5) + (0.60 - 0.52)) / 2)
    assert t.rmse == pytest.approx(math.sqrt((0.05**2 + 0.08**2) / 2))
    assert t.coverage == pytest.approx(0.5)

    null = rows[("independent_gaussian", 0.0)]
    assert null.count == 4
    assert math.isnan(null.mean_rel_error)
    assert null.bias == pytest.approx((0.05 - 0.02 + 0.30 + 0.0) / 4)
    assert null.coverage == pytest.approx(0.75)
    assert null.reject_rate == pytest.approx(1 / 3) and null.n_p_values == 3

    # Rows follow the family order of the script, then the level.
    assert list(table.family) == ["gaussian", "gaussian", "cubic", "student_t", "independent_gaussian"]

    assert overall["n_cells"] == 10
    assert overall["coverage"] == pytest.approx(0.6)  # 1 + 0 + 1 + 1 + 3 of 10
    assert overall["coverage_se"] == pytest.approx(math.sqrt(0.6 * 0.4 / 10))
    assert overall["n_cells_2_8"] == 3
    assert overall["mean_rel_error_2_8"] == pytest.approx((0.05 + 0.15 + 0.1) / 3)
    assert overall["n_null"] == 3 and overall["n_null_rejected"] == 1
    assert overall["type_i_error"] == pytest.approx(1 / 3)
    assert overall["type_i_se"] == pytest.approx(math.sqrt((1 / 3) * (2 / 3) / 3))


def test_level_table_pools_families_and_puts_digits_at_the_nearest_level(coverage_script):
    digits = [record("digits", 9.21, 9.21, 9.5, 9.0, 10.0, 0.001),   # k = 4: joins 10 nats, covered
              record("digits", 6.91, 6.91, 6.0, 5.5, 6.5, 0.001)]    # k = 3: joins 6 nats, missed
    table = coverage_script.level_table(RECORDS + digits).set_index("level")
    assert list(table.index) == [0.0, 0.5, 2.0, 6.0, 8.0, 10.0]
    assert table.loc[2.0, "cells"] == 2 and table.loc[2.0, "coverage"] == pytest.approx(0.5)
    assert table.loc[2.0, "mean_width"] == pytest.approx(0.3)
    assert table.loc[10.0, "cells"] == 2  # cubic at 10 nats and digits k = 4
    assert table.loc[10.0, "bias"] == pytest.approx((-1.0 + (9.5 - 9.21)) / 2)
    assert table.loc[10.0, "mean_rel_error"] == pytest.approx((0.1 + 0.29 / 9.21) / 2)
    assert table.loc[6.0, "cells"] == 1 and table.loc[6.0, "coverage"] == 0.0
    assert table.loc[0.0, "cells"] == 4 and table.loc[0.0, "coverage"] == pytest.approx(0.75)
    assert math.isnan(table.loc[0.0, "mean_rel_error"])


def test_compare_uses_the_cells_every_folder_finished(coverage_script):
    keyed = [dict(r, key=f"cell{i}") for i, r in enumerate(RECORDS)]
    # The second configuration: gaussian at 8 nats now covered and exact, one cell not finished.
    other = [dict(r, estimate=8.0, ci_lo=7.8, ci_hi=8.2, covered=True) if r["key"] == "cell2" else r for r in keyed]
    text = coverage_script.compare({"a": keyed, "b": other[:-1]})
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in text.splitlines() if line.startswith("| ")}
    assert rows["cells"] == ["9", "9 |"]  # cell9 is unfinished in b, so left out of both
    assert rows["coverage of the 95 % interval"][0] == "0.556 (5 of 9)"
    assert rows["coverage of the 95 % interval"][1] == "0.667 (6 of 9) |"
    rel_a = np.array([0.05, 0.15, 0.1, 0.1, 0.1, 0.08 / 0.52])  # |error| / truth of the six cells with MI > 0
    rel_b = rel_a.copy()
    rel_b[2] = 0.0
    label = "RMS relative error, 6 cells with MI > 0"
    assert float(rows[label][0]) == pytest.approx(np.sqrt(np.mean(rel_a ** 2)), abs=5e-4)
    assert float(rows[label][1].rstrip(" |")) == pytest.approx(np.sqrt(np.mean(rel_b ** 2)), abs=5e-4)
    assert "| cell2 | -10.0% | +0.0% |" in text
    assert coverage_script.compare({"a": keyed[:2], "b": keyed[2:]}).startswith("no cell is finished")


def test_default_grid_is_the_report_set(coverage_script):
    cells = coverage_script.build_grid()
    assert len(cells) >= 40
    assert len({c["key"] for c in cells}) == len(cells)
    for family, dim, mi in coverage_script.DEV_CELLS:
        assert not [c for c in cells if (c["family"], c["dim"], c["level"]) == (family, dim, mi)]
    assert {c["seed"] for c in cells} == {100, 101}
    assert {c["family"] for c in cells} == set(coverage_script.REPORT_FAMILIES)
    assert {c["level"] for c in cells if c["family"] == "digits"} == {k * math.log(10) for k in (1, 2, 3, 4)}
    assert len(coverage_script.build_grid(quick=True, n=2000)) == 6


def test_seed_ranges_and_the_null_study_grid(coverage_script):
    assert coverage_script.parse_seeds("200-202,7") == [200, 201, 202, 7]
    with pytest.raises(ValueError, match="not an integer or a range"):
        coverage_script.parse_seeds("200-x")
    cells = coverage_script.build_grid(seeds=[200, 201], families=coverage_script.NULL_FAMILIES)
    assert len(cells) == 2 * 3 * 2 and {c["level"] for c in cells} == {0.0}
    x, y, truth, _ = coverage_script.make_data(next(c for c in cells if c["family"] == "independent_mixed"))
    # Skewed x, few-valued y, drawn independently.
    assert truth == 0.0 and (x > 0).all() and len(np.unique(y)) < 20 and x.shape == y.shape


def test_param_parsing(coverage_script):
    params = coverage_script.parse_params(["folds=5", "marginals=normal_scores", "hidden=(8,)", "lr=1e-3"])
    assert params == {"folds": 5, "marginals": "normal_scores", "hidden": (8,), "lr": 1e-3}


def run_quick(out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), "--quick", "--n", "400", "--param", "max_steps=30",
               "--param", "hidden=(8,)", "--workers", "1", "--out", str(out), "--label", "tiny"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_quick_run_writes_cells_and_a_rerun_skips_them(tmp_path):
    first = run_quick(tmp_path)
    folder = tmp_path / "tiny"
    cells = sorted((folder / "cells").glob("*.json"))
    assert len(cells) == 6
    assert "cells: total=6 skipped=0 computed=6 failed=0" in first.stdout
    cell = json.loads(cells[0].read_text())
    for field in ("family", "dim", "truth", "seed", "n", "estimate", "stderr", "ci_lo", "ci_hi", "covered",
                  "width", "p_value", "seconds", "warnings", "ci_method"):
        assert field in cell
    assert cell["n"] == 400 and cell["params"] == {"hidden": "(8,)", "max_steps": "30"}
    import anchormi
    from anchormi.bench.provenance import code_version

    # Each cell says which code produced it, and keeps what the reading rules need.
    assert cell["code"] == code_version() and cell["code"].startswith(anchormi.__version__)
    assert "offset_disagreement" in cell and "offset_disagreement_stderr" in cell and "calibration" in cell["check_values"] and "ci_above" in cell
    for name in ("summary.md", "summary.csv", "estimate_vs_truth.png", "coverage_by_level.png"):
        assert (folder / name).exists()
    summary = (folder / "summary.md").read_text()
    assert "benchmarks/coverage.py --quick --n 400" in summary.split("## ")[0]
    assert f"Code: {code_version()} (6 cells)." in summary  # cells record the code that ran them
    header = (folder / "cells.csv").read_text().splitlines()[0]
    assert "check_calibration" in header and "status_calibration" in header
    # The summary counts each check's statuses over the cells.
    assert cell["check_status"]["calibration"] in ("ok", "warn", "skip")
    counted = summary.split("## Diagnostics")[1].split("##")[0]
    assert "| calibration |" in counted and "| divergence |" in counted
    modified = {path.name: path.stat().st_mtime_ns for path in cells}

    second = run_quick(tmp_path)
    assert "cells: total=6 skipped=6 computed=0 failed=0" in second.stdout
    assert {path.name: path.stat().st_mtime_ns for path in (folder / "cells").glob("*.json")} == modified
