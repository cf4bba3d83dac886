"""The development studies in benchmarks/: offset_readings.py (its refits on known ratios, the
library's reading recomputed), tail_errors.py (its exact PMI), check_rates.py (its counts and
the folds' spread recovered from a stored stderr) and budget_rule.py (its pairing and sides)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str = "offset_readings"):
    spec = importlib.util.spec_from_file_location(f"anchormi_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_derangements_have_no_fixed_point_and_platt_undoes_an_affine_distortion():
    script = _script()
    generator = torch.Generator().manual_seed(0)
    for n in (2, 3, 50):
        cycle = script.derangement(n, generator)
        assert sorted(cycle.tolist()) == list(range(n)) and not (cycle == torch.arange(n)).any()
    # Joint t ~ N(mu, 1) against product t ~ N(0, 1): the exact log ratio is mu t - mu^2 / 2.
    rng, mu = np.random.default_rng(1), 2.0
    joint, others = mu * rng.normal(mu, 1, 20_000) - mu**2 / 2, mu * rng.normal(0, 1, 200_000) - mu**2 / 2
    # Tolerances: 5 standard deviations of (a, b) over 20 draws of this size (seeds 100-119):
    # 0.0095 and 0.011 here, 0.0047 and 0.023 for the distorted critic below.
    a, b = script.platt(joint, others)
    assert abs(a - 1) < 0.05 and abs(b) < 0.055
    # A critic twice as steep and 3 nats high is mapped back: a l' + b = l with a = 1/2, b = -3/2.
    a, b = script.platt(2 * joint + 3, 2 * others + 3)
    assert abs(a - 0.5) < 0.024 and abs(b + 1.5) < 0.115


def test_a_cell_recomputes_the_library_reading_and_keeps_the_rule():
    script = _script()
    fit = {"max_steps": 150, "hidden": (16,), "embed_dim": 8}
    row = script.run_cell("gaussian", 3, 2.0, 1_500, seed=3, fit_params=fit)
    # The library reads max(trained, trained + D) with its own refit: recomputed here from the
    # fitted critics, it must be the same number.
    assert abs(row["higher_perm"] - row["estimate"]) < 1e-9
    assert abs(row["perm"] - row["trained"] - row["offset_disagreement"]) < 1e-9
    for name in script.REFITS:
        assert row[f"higher_{name}"] == max(row["trained"], row[name]) and np.isfinite(row[name])


def test_the_exact_student_t_pmi_averages_to_the_tasks_mi():
    import anchormi as ami

    script = _script("tail_errors")
    for mi in (0.5, 4.0):
        x, y = ami.tasks.student_t(dim_x=3, dim_y=3, dof=script.DOF, rho=ami.tasks.paired_rho_for_mi(mi, 3, script.DOF)).sample(40_000, seed=5)
        pmi = script.exact_pmi(x, y, ami.tasks.paired_rho_for_mi(mi, 3, script.DOF))
        # Monte Carlo: within 4 standard errors of the closed form.
        assert abs(pmi.mean() - mi) < 4 * pmi.std() / np.sqrt(pmi.size)


def test_check_rates_counts_warnings_and_misses_and_recovers_the_folds_spread():
    import pandas as pd

    from anchormi.intervals import pool_folds

    rates = _script("check_rates")
    # Five folds of 2,000 held-out values whose means spread by 0.3 nats (sd), far beyond sampling.
    rng = np.random.default_rng(0)
    shifts = np.array([-0.45, -0.15, 0.0, 0.15, 0.45])
    pooled = pool_folds([6.0 + shift + 0.5 * rng.standard_normal(2000) for shift in shifts])
    sd = float(np.std(pooled.fold_means, ddof=1))
    assert pooled.stderr * np.sqrt(5) == pytest.approx(sd, rel=0.02)
    # Three sweep rows: the pooled fit above (warned by the 2 % rule, spread 5 % of 6 nats, a
    # miss), the same spread at twice the estimate (2.5 %, covering), and a quiet covering row.
    rows = pd.DataFrame({
        "config": "default", "family": "gaussian", "dim": 5, "n": 10_000, "seed": [1, 2, 3],
        "mi": [6.5, 12.0, 4.0], "estimate": [pooled.estimate, 2 * pooled.estimate, 4.0],
        "ci_lo": [5.5, 11.0, 3.9], "ci_hi": [6.4, 13.0, 4.1],
        "stderr_sampling_and_folds": [pooled.stderr, pooled.stderr, 0.01],
        "offset_disagreement": [0.5, 0.1, 0.0],
        "warnings": ["fold_agreement;offset", "fold_agreement", None],
    })
    table = rates.sweep_table(rates.sweep_rows_from(rows), share=0.04).set_index("check")
    assert table.loc["fold_agreement", ["warned", "missed | warned", "missed | not warned"]].tolist() == [2, 1, 0]
    assert table.loc["fold_agreement at 4%", ["warned", "missed | warned", "missed | not warned"]].tolist() == [1, 1, 0]
    assert table.loc["offset at 4%", ["warned", "missed | warned"]].tolist() == [1, 1]
    assert table.loc["convergence", "warned"] == 0 and (table["rows"] == 3).all()


def test_budget_rule_pairs_the_two_configs_and_splits_the_rows_at_the_threshold():
    import pandas as pd

    rule = _script("budget_rule")
    # Two cells, both configs, plus a row of another config and a cell run by one config only.
    rows = pd.DataFrame({
        "config": ["default", "steps13125", "default", "steps13125", "patience500", "default"],
        "family": "gaussian", "dim": [4, 4, 8, 8, 8, 2], "mi": [8.0, 8.0, 4.0, 4.0, 4.0, 2.0],
        "n": 10_000, "seed": 11, "estimate": [7.2, 7.8, 4.0, 4.2, 4.1, 2.0],
    })
    paired = rule.paired_rows(rows).set_index("dim")
    assert sorted(paired.index) == [4, 8]
    assert paired.loc[4, ["error_default", "error_doubled"]].tolist() == pytest.approx([-0.1, -0.025])
    assert paired.loc[8, ["error_default", "error_doubled"]].tolist() == pytest.approx([0.0, 0.05])
    # Coupling from the reading per coordinate (here given: 2 nats per coordinate at d = 4, 0.5 at d = 8).
    coupled = rule.with_coupling(paired.reset_index(), coupling=lambda family, dim, mi, n, seed: mi / dim)
    table = rule.summary(coupled, threshold=1.4)
    assert table.loc[">= 1.4", ["rows", "doubled closer"]].tolist() == [1, 1]
    assert table.loc["< 1.4", ["rows", "doubled closer"]].tolist() == [1, 0]
    assert table.loc["< 1.4", "doubled mean |error|"] == pytest.approx(0.05)
