"""Tests for pair scoring by PMI: the latent-variable task, candidates, scores and ``reproduce pmi``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import typer
from scipy.stats import multivariate_normal
from typer.testing import CliRunner

from anchormi.ssl.cli import register
from anchormi.ssl.pair_scoring import (
    LatentPairTask, auroc_stderr, fit_and_score, log_partition, make_candidates, score_candidates, within_y_auroc,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_true_pmi_matches_the_gaussian_densities():
    task = LatentPairTask(dim_x=3, dim_y=2, latent_dim=2, signal=1.5, warp="none", seed=1)
    x, y = task.sample(50, seed=0)
    # Undo the rotations: (u, v) is jointly Gaussian with unit variances and corr rho on the shared coordinates.
    u, v = x @ task.rotation_x, y @ task.rotation_y
    covariance = np.eye(5)
    for k in range(2):
        covariance[k, 3 + k] = covariance[3 + k, k] = task.rho
    joint = multivariate_normal(np.zeros(5), covariance).logpdf(np.hstack([u, v]))
    product = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(u) + multivariate_normal(np.zeros(2), np.eye(2)).logpdf(v)
    np.testing.assert_allclose(task.true_pmi(x, y), joint - product, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("warp", ["none", "cubic"])
def test_true_pmi_averages_to_the_mutual_information(warp):
    task = LatentPairTask(signal=1.0, warp=warp)
    x, y = task.sample(20_000, seed=0)
    pmi = task.true_pmi(x, y)
    stderr = pmi.std(ddof=1) / math.sqrt(pmi.size)
    assert abs(pmi.mean() - task.mi) < 4 * stderr
    # Under p(x)p(y) the ratio averages to 1: E_q0[r*] = 1.
    ratio = np.exp(task.true_pmi(task.sample_x(20_000, seed=1), y))
    assert abs(ratio.mean() - 1.0) < 4 * ratio.std(ddof=1) / math.sqrt(ratio.size)


def test_candidates_are_true_pairs_and_shuffled_non_pairs():
    task = LatentPairTask(dim_x=6, dim_y=6, latent_dim=6, signal=4.0, warp="none")
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
    task = LatentPairTask(signal=2.0, warp="none")
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
    task = LatentPairTask(dim_x=4, dim_y=4, latent_dim=2, signal=3.0, warp="none")
    n_candidates = 400
    outcome = fit_and_score(task, "anchor", n_train=1000, n_candidates=n_candidates, seed=0,
                            estimator_params={"max_steps": 150, "hidden": (32, 32), "batch_size": 64, "device": "cpu"})
    chance_se = auroc_stderr(0.5, n_candidates // 2, n_candidates // 2)
    assert outcome["auroc"] > 0.5 + 4 * chance_se
    assert outcome["auroc_within_y"] > 0.5 + 4 * math.sqrt(0.25 / n_candidates)
    assert outcome["pmi_warning"] == ""


def test_infonce_pmi_carries_the_estimator_warning():
    task = LatentPairTask(dim_x=2, dim_y=2, latent_dim=1, signal=1.0)
    outcome = fit_and_score(task, "infonce", n_train=300, n_candidates=40, seed=0, n_offset_y=5,
                            estimator_params={"max_steps": 5, "hidden": (8,), "batch_size": 32, "device": "cpu"})
    assert "C(y)" in outcome["pmi_warning"]


def test_task_rejects_bad_arguments():
    with pytest.raises(ValueError, match="latent_dim"):
        LatentPairTask(dim_x=2, dim_y=2, latent_dim=3)
    with pytest.raises(ValueError, match="signal"):
        LatentPairTask(signal=0.0)
    with pytest.raises(ValueError, match="warp"):
        LatentPairTask(warp="square")
    with pytest.raises(ValueError, match="n_candidates"):
        make_candidates(LatentPairTask(), 2)


def test_reproduce_pmi_quick_via_cli_and_resume(tmp_path):
    app, reproduce = typer.Typer(), typer.Typer()
    app.add_typer(reproduce, name="reproduce")
    register(reproduce)
    arguments = ["reproduce", "pmi", "--quick", "--runs", "1", "--n-train", "400", "--max-steps", "20",
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
