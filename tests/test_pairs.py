"""Tests for anchormi.pairs: candidates, scores, fit-and-score and ``anchormi reproduce pmi``.

The latent-pair task itself (exact MI and PMI) is tested in test_tasks.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from anchormi.pairs.scoring import (
    auroc_stderr, fit_and_score, log_partition, make_candidates, score_candidates, within_y_auroc,
)
from anchormi.ssl.cli import register
from anchormi.tasks import LatentPairTask


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_candidates_are_true_pairs_and_shuffled_non_pairs():
    task = LatentPairTask(dim_x=6, dim_y=6, latent_dim=6, mi=4.0, warp="none")
    candidates = make_candidates(task, 4000, seed=0)
    label = candidates.label
    assert label.sum() == 2000 and set(np.unique(label)) == {0, 1}
    np.testing.assert_array_equal(candidates.x[label == 1], candidates.partner_x[label == 1])
    np.testing.assert_array_equal(candidates.x[label == 0], candidates.decoy_x[label == 0])
    assert np.unique(candidates.y, axis=0).shape[0] == 4000  # every candidate has its own y
    np.testing.assert_allclose(candidates.true_pmi, task.true_pmi(candidates.x, candidates.y))

    def coordinate_correlation(rows):
        u, v = candidates.x[rows] @ task.rotation_x, candidates.y[rows] @ task.rotation_y
        return np.mean([np.corrcoef(u[:, k], v[:, k])[0, 1] for k in range(6)])

    n = 2000
    assert abs(coordinate_correlation(label == 1) - task.rho) < 4 * (1 - task.rho**2) / math.sqrt(n * 6)
    assert abs(coordinate_correlation(label == 0)) < 4 / math.sqrt(n * 6)  # non-pairs are independent


def test_scores_of_the_truth_and_of_a_y_offset():
    task = LatentPairTask(mi=2.0, warp="none")
    candidates = make_candidates(task, 2000, seed=0)
    oracle = score_candidates(task.true_pmi, candidates)
    assert oracle["pmi_rmse"] == 0 and oracle["pmi_corr"] == pytest.approx(1.0)
    # A y-dependent offset (InfoNCE's C(y)) leaves within-y ranking exactly unchanged but hurts across y.
    offset = lambda y: 3.0 * np.tanh(y[:, 0])  # noqa: E731
    shifted = score_candidates(lambda x, y: task.true_pmi(x, y) + offset(y), candidates)
    assert shifted["auroc_within_y"] == oracle["auroc_within_y"]
    assert shifted["auroc"] < oracle["auroc"] - 4 * auroc_stderr(oracle["auroc"], 1000, 1000)
    log_z = log_partition(task.true_pmi, task, candidates.y[:50], n_x=4000)
    assert abs(log_z.mean()) < 0.2
    assert within_y_auroc([2, 1, 0], [1, 1, 1]) == pytest.approx(0.5)


def test_auroc_stderr_at_chance_matches_the_mann_whitney_variance():
    n1 = n2 = 500
    assert auroc_stderr(0.5, n1, n2) == pytest.approx(math.sqrt((n1 + n2 + 1) / (12 * n1 * n2)), rel=0.01)


def test_anchor_pmi_beats_chance_on_an_easy_task():
    task = LatentPairTask(dim_x=4, dim_y=4, latent_dim=2, mi=3.0, warp="none")
    n_candidates = 400
    outcome = fit_and_score(task, "anchor", n_train=1000, n_candidates=n_candidates, seed=0,
                            estimator_params={"max_steps": 150, "hidden": (32, 32), "batch_size": 64, "device": "cpu"})
    chance_se = auroc_stderr(0.5, n_candidates // 2, n_candidates // 2)
    assert outcome["auroc"] > 0.5 + 4 * chance_se
    assert outcome["auroc_within_y"] > 0.5 + 4 * math.sqrt(0.25 / n_candidates)
    assert outcome["pmi_warning"] == ""


def test_infonce_pmi_carries_the_estimator_warning():
    task = LatentPairTask(dim_x=2, dim_y=2, latent_dim=1, mi=1.0)
    outcome = fit_and_score(task, "infonce", n_train=300, n_candidates=40, seed=0, n_offset_y=5,
                            estimator_params={"max_steps": 5, "hidden": (8,), "batch_size": 16, "device": "cpu"})
    assert "C(y)" in outcome["pmi_warning"]


def test_candidates_reject_bad_arguments():
    with pytest.raises(ValueError, match="n_candidates"):
        make_candidates(LatentPairTask(), 2)


def test_reproduce_pmi_quick_via_cli_and_resume(tmp_path):
    app, reproduce = typer.Typer(), typer.Typer()
    app.add_typer(reproduce, name="reproduce")
    register(reproduce)
    arguments = ["reproduce", "pmi", "--quick", "--runs", "1", "--max-steps", "20",
                 "--out", str(tmp_path), "--device", "cpu"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) == 1 * 7  # 1 run x (oracle + 6 objectives)
    assert set(results["objective"]) == {"oracle", "anchor", "anchor:nu=1", "nce", "chi2", "spherical", "infonce"}
    assert "| anchor:nu=1 | nu=1, rule=log" in (tmp_path / "summary.md").read_text()
    assert results["auroc"].between(0, 1).all()
    assert results.loc[results["objective"] == "infonce", "pmi_warning"].str.contains("C\\(y\\)").all()
    for name in ("summary.md", "auroc.png", "pmi_scatter.png", "scores_run0.npz"):
        assert (tmp_path / name).stat().st_size > 0
    assert "AUROC across y" in (tmp_path / "summary.md").read_text()
    rerun = CliRunner().invoke(app, arguments)
    assert rerun.exit_code == 0 and " run " not in rerun.output  # every (run, objective) row was kept
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results.csv"), results)
