"""Identities of the objective family, exact to float tolerance (float64 throughout)."""

import math

import pytest
import torch
import torch.nn.functional as F

from anchormi import objectives
from anchormi.objectives import (
    anchor_loss, dv_bound, fdiv_loss, get_rule, infonce_bound, infonce_loss, mine_loss, nce_loss,
    nwj_bound, off_diagonal, smile_bound,
)
from anchormi.objectives.bounds import MovingAverage

ATOL = 1e-10


def scores(batch=9, seed=0, scale=2.0):
    generator = torch.Generator().manual_seed(seed)
    matrix = scale * torch.randn(batch, batch, generator=generator, dtype=torch.float64)
    return matrix + 3.0 * torch.eye(batch, dtype=torch.float64)  # joint pairs score higher, as after training


def test_registry_lists_every_objective_with_description():
    listing = objectives.available()
    assert set(listing) == {"anchor", "infonce", "nce", "js", "nwj", "dv", "mine", "smile", "chi2", "fdiv"}
    assert all(isinstance(text, str) and len(text) > 20 for text in listing.values())
    with pytest.raises(ValueError, match="unknown"):
        objectives.get("nope")


@pytest.mark.parametrize("k", [None, 1, 2, 5, 8])
def test_anchor_with_nu_zero_equals_infonce(k):
    matrix = scores()
    assert torch.allclose(anchor_loss(matrix, nu=0.0, k=k), infonce_loss(matrix, k=k), atol=ATOL, rtol=0)


def test_infonce_full_column_is_cross_entropy_and_matches_its_bound():
    matrix = scores()
    batch = matrix.shape[0]
    reference = F.cross_entropy(matrix.t(), torch.arange(batch))  # column j: classify x_j among all x_i
    assert torch.allclose(infonce_loss(matrix), reference, atol=ATOL, rtol=0)
    assert torch.allclose(infonce_bound(matrix), math.log(batch) - reference, atol=ATOL, rtol=0)
    assert infonce_bound(100.0 * scores()) <= math.log(batch) + ATOL


def test_binary_nce_is_balanced_logistic_loss_over_all_negatives():
    matrix = scores()
    diagonal, negatives = matrix.diagonal(), off_diagonal(matrix)
    logistic = 0.5 * F.binary_cross_entropy_with_logits(diagonal, torch.ones_like(diagonal)) + 0.5 * (
        F.binary_cross_entropy_with_logits(negatives, torch.zeros_like(negatives))
    )
    assert torch.allclose(anchor_loss(matrix, nu=1.0, k=1), logistic, atol=ATOL, rtol=0)
    assert torch.allclose(nce_loss(matrix), logistic, atol=ATOL, rtol=0)


@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0, 4.0])
@pytest.mark.parametrize("k", [None, 1, 3, 8])
@pytest.mark.parametrize("symmetric", [False, True])
def test_generic_log_rule_equals_fused_path(nu, k, symmetric):
    matrix = scores()
    fused = anchor_loss(matrix, nu=nu, k=k, symmetric=symmetric, reduction="none")
    generic = anchor_loss(matrix, nu=nu, k=k, symmetric=symmetric, reduction="none", fused=False)
    assert torch.allclose(fused, generic, atol=ATOL, rtol=0)


def test_anchor_loss_matches_hand_written_formula():
    matrix = scores(batch=4)
    nu, k = 2.0, 3
    total = 0.0
    for j in range(4):
        negatives = [matrix[(j + m) % 4, j] for m in (1, 2, 3)]
        positive_tuple = torch.stack([matrix[j, j], negatives[0], negatives[1]])
        anchor_tuple = torch.stack(negatives)
        log_nu = torch.tensor(math.log(nu), dtype=torch.float64)
        positive = torch.logsumexp(torch.cat([log_nu[None], positive_tuple]), 0) - matrix[j, j]
        anchor = torch.logsumexp(torch.cat([log_nu[None], anchor_tuple]), 0) - log_nu
        total += k / (k + nu) * positive + nu / (k + nu) * anchor
    assert torch.allclose(anchor_loss(matrix, nu=nu, k=k), total / 4, atol=ATOL, rtol=0)


def test_fdiv_js_is_binary_nce_up_to_scale_and_constant():
    matrix = scores()
    assert torch.allclose(fdiv_loss(matrix, f="js"), 2 * nce_loss(matrix) - 2 * math.log(2), atol=ATOL, rtol=0)


def test_fdiv_kl_is_nwj_on_shifted_critic_and_chi2_is_least_squares():
    matrix = scores()
    assert torch.allclose(fdiv_loss(matrix, f="kl"), -nwj_bound(matrix + 1.0), atol=ATOL, rtol=0)
    ratios = matrix.exp()
    least_squares = 0.5 * off_diagonal(ratios**2).mean() - ratios.diagonal().mean() + 0.5
    assert torch.allclose(fdiv_loss(matrix, f="chi2"), least_squares, atol=ATOL, rtol=0)


def test_bound_orderings():
    matrix = scores()
    assert nwj_bound(matrix) <= dv_bound(matrix) + ATOL  # DV is tighter for the same critic
    assert torch.allclose(smile_bound(matrix, tau=1e6), dv_bound(matrix), atol=ATOL, rtol=0)


def test_mine_value_is_dv_and_gradient_uses_moving_average():
    matrix = scores().requires_grad_(True)
    state = MovingAverage(alpha=0.5, log_value=5.0)  # stale average far from this batch
    loss = mine_loss(matrix, state=state, alpha=0.5)
    assert torch.allclose(loss, -dv_bound(matrix), atol=ATOL, rtol=0)
    (mine_gradient,) = torch.autograd.grad(loss, matrix)
    (dv_gradient,) = torch.autograd.grad(-dv_bound(matrix), matrix)
    assert not torch.allclose(mine_gradient, dv_gradient)
    # diagonal gradient is the same (-1/B each); only the partition term is re-weighted
    assert torch.allclose(mine_gradient.diagonal(), dv_gradient.diagonal(), atol=ATOL, rtol=0)


@pytest.mark.parametrize("rule,gamma", [("log", None), ("brier", None), ("spherical", None), ("pseudo_spherical", 1.5), ("pseudo_spherical", 3.0)])
def test_every_rule_is_strictly_proper(rule, gamma):
    """E_{t~p} S(q, t) is minimised only at q = p, for random class distributions p."""
    score = get_rule(rule, gamma)
    generator = torch.Generator().manual_seed(1)
    n_classes = 5
    for _ in range(20):
        truth = torch.distributions.Dirichlet(torch.ones(n_classes, dtype=torch.float64)).sample()
        classes = torch.arange(n_classes)

        def expected_score(probabilities):
            log_q = probabilities.log().expand(n_classes, n_classes)
            return (truth * score(log_q, classes)).sum()

        at_truth = expected_score(truth)
        for _ in range(50):
            other = torch.softmax(2.0 * torch.randn(n_classes, generator=generator, dtype=torch.float64), 0)
            assert expected_score(other) > at_truth
        # a small perturbation also scores worse (strictness near the optimum)
        nudged = torch.softmax(truth.log() + 1e-3 * torch.randn(n_classes, generator=generator, dtype=torch.float64), 0)
        assert expected_score(nudged) > at_truth


@pytest.mark.parametrize("rule,gamma", [("log", None), ("brier", None), ("spherical", None), ("pseudo_spherical", 3.0)])
def test_minimising_expected_score_recovers_the_distribution(rule, gamma):
    score = get_rule(rule, gamma)
    truth = torch.tensor([0.5, 0.2, 0.2, 0.1], dtype=torch.float64)
    logits = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([logits], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe")
    classes = torch.arange(4)

    def closure():
        optimizer.zero_grad()
        loss = (truth * score(torch.log_softmax(logits, 0).expand(4, 4), classes)).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert torch.allclose(torch.softmax(logits, 0), truth, atol=1e-5)


def test_spherical_is_pseudo_spherical_of_order_two():
    log_eta = torch.log_softmax(torch.randn(6, 4, dtype=torch.float64), -1)
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.allclose(get_rule("spherical")(log_eta, target), get_rule("pseudo_spherical", 2.0)(log_eta, target))


@pytest.mark.parametrize("kwargs,match", [
    ({"nu": -1.0}, "nu"), ({"k": 0}, "k="), ({"rule": "hinge"}, "rule"), ({"reduction": "max"}, "reduction"),
])
def test_bad_objective_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        anchor_loss(scores(), **kwargs)
    with pytest.raises(ValueError, match="square"):
        anchor_loss(torch.zeros(3, 4))


def test_objective_loss_rejects_unknown_parameters():
    with pytest.raises(ValueError, match="takes no parameter"):
        objectives.objective_loss("nwj", scores(), nu=1.0)
    value = objectives.objective_loss("anchor", scores(), nu=0.0)
    assert torch.allclose(value, infonce_loss(scores()))
