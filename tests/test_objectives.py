"""The objective family against independent references, in float64.

Every library value here is compared with something the library does not compute itself: an
explicit loop over the formula in docs/method.md sections 3 and 5, a closed form, an independent
implementation of prior art (NRE-C), or an exact value at the true log ratio of a Gaussian pair.
Monte Carlo checks use fixed seeds and tolerances of a few of their own standard errors.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from anchormi import objectives
from anchormi.objectives import (
    anchor_loss, dv_bound, fdiv_loss, get_rule, infonce_bound, infonce_loss, mine_loss, nce_loss,
    nwj_bound, off_diagonal, smile_bound,
)
from anchormi.objectives.bounds import MovingAverage

ATOL = 1e-10
# Two-sided exact-value checks: |MC mean - exact| <= 4 stderr fails by chance with p < 1e-4.
Z_EXACT = 4.0
# One-sided checks that a mean rise is real: paired mean > 3 paired stderr.
Z_RISE = 3.0

RULES = [("log", None), ("brier", None), ("spherical", None), ("pseudo_spherical", 3.0)]


def scores(batch=9, seed=0, scale=2.0):
    generator = torch.Generator().manual_seed(seed)
    matrix = scale * torch.randn(batch, batch, generator=generator, dtype=torch.float64)
    return matrix + 3.0 * torch.eye(batch, dtype=torch.float64)  # joint pairs score higher, as after training


# ---- independent references ----------------------------------------------------------------------


def lse(values):
    """log sum exp of a list of floats (-inf allowed), in plain Python."""
    finite = [v for v in values if v != -math.inf]
    top = max(finite)
    return top + math.log(sum(math.exp(v - top) for v in finite))


def column_tuples(matrix, j, k):
    """docs/method.md section 3, column j of S: the negatives in cyclic order S[(j+m) mod B, j], m = 1..B-1;
    the positive tuple is S[j, j] and the first K-1 negatives; the anchor tuples are the disjoint
    consecutive K-blocks of the negatives that fit."""
    batch = len(matrix)
    negatives = [float(matrix[(j + m) % batch][j]) for m in range(1, batch)]
    positive_tuple = [float(matrix[j][j])] + negatives[: k - 1]
    anchor_tuples = [negatives[start : start + k] for start in range(0, batch - 1 - k + 1, k)]
    return positive_tuple, anchor_tuples


def posterior(logits):
    """eta = softmax(logits) in plain Python (logits may hold -inf)."""
    norm = lse(logits)
    return [math.exp(v - norm) if v != -math.inf else 0.0 for v in logits]


def rule_score(eta, target, rule, gamma):
    """docs/method.md section 5's table, typed in from the formulas."""
    if rule == "log":
        return -math.log(eta[target])
    if rule == "brier":
        return sum((p - (1.0 if index == target else 0.0)) ** 2 for index, p in enumerate(eta))
    order = 2.0 if rule == "spherical" else gamma
    norm = sum(p**order for p in eta) ** (1.0 / order)
    return -((eta[target] / norm) ** (order - 1.0))


def reference_anchor_loss(matrix, nu, k, rule="log", gamma=None):
    """Explicit loops over docs/method.md sections 3 and 5: per column, K/(K+nu) score(eta, positive) plus
    nu/(K+nu) times the mean over anchor tuples of score(eta, 0), eta = softmax(log nu, c_1..c_K)."""
    rows = matrix.tolist()
    batch = len(rows)
    log_nu = math.log(nu) if nu > 0 else -math.inf
    total = 0.0
    for j in range(batch):
        positive_tuple, anchor_tuples = column_tuples(rows, j, k)
        positive = rule_score(posterior([log_nu] + positive_tuple), 1, rule, gamma)
        column = k / (k + nu) * positive
        if nu > 0:
            anchors = [rule_score(posterior([log_nu] + t), 0, rule, gamma) for t in anchor_tuples]
            column += nu / (k + nu) * sum(anchors) / len(anchors)
        total += column
    return total / batch


def reference_infonce(matrix, k=None):
    """Cross-entropy of the column softmax, mean_j(LSE_i S[i, j] - S[j, j]); with k < B the same over
    the explicit K-tuple (S[j, j], S[j+1, j], ..., S[j+K-1, j]) (cyclic rows)."""
    rows = matrix.tolist()
    batch = len(rows)
    size = batch if k is None else k
    return sum(lse([rows[(j + m) % batch][j] for m in range(size)]) - rows[j][j] for j in range(batch)) / batch


def nre_c_loss(matrix, gamma, k):
    """Contrastive Neural Ratio Estimation (NRE-C) loss, written from its own definition.

    Miller, Weniger & Forre, "Contrastive Neural Ratio Estimation", NeurIPS 2022 (sbi's NRE_C):
    K+1 classes; class 0 ("all marginal") has prior p0 = 1/(1+gamma), each joint position k >= 1
    has prior (1-p0)/K. The Bayes classifier is q(z=k | x_1..K) proportional to (gamma/K) r(x_k) for
    k >= 1 and to 1 for k = 0. The loss is the cross-entropy with weights 1-p0 on tuples holding a
    joint pair and p0 on all-marginal tuples.

    Ryu, Yeddanapudi, Xu & Wornell, "Contrastive Predictive Coding Done Right for Mutual Information
    Estimation", ICLR 2026 (InfoNCE-anchor) is this loss with nu = K/gamma; the test below checks it.

    Tuples come from the score matrix as in docs/method.md section 3. The joint pair sits at a position
    drawn at random, because the NRE-C classifier does not care where it is.
    """
    rows = matrix.tolist()
    batch = len(rows)
    p0 = 1.0 / (1.0 + gamma)
    rng = np.random.default_rng(0)

    def class_probabilities(log_ratios):
        weights_log = [0.0] + [math.log(gamma / k) + c for c in log_ratios]
        top = max(weights_log)
        weights = [math.exp(w - top) for w in weights_log]
        return [w / sum(weights) for w in weights]

    total = 0.0
    for j in range(batch):
        positive_tuple, anchor_tuples = column_tuples(rows, j, k)
        position = int(rng.integers(k))
        shuffled = positive_tuple[1:position + 1] + [positive_tuple[0]] + positive_tuple[position + 1 :]
        joint_term = -math.log(class_probabilities(shuffled)[position + 1])
        marginal_term = sum(-math.log(class_probabilities(t)[0]) for t in anchor_tuples) / len(anchor_tuples)
        total += (1.0 - p0) * joint_term + p0 * marginal_term
    return total / batch


# ---- exact log ratio of a Gaussian pair ---------------------------------------------------------


def gaussian_rho(dim, mi):
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def gaussian_log_ratio(x, y, rho):
    """log r(x, y) = sum_i [-0.5 log(1-rho^2) - (rho^2 (x_i^2 + y_i^2) - 2 rho x_i y_i) / (2 (1-rho^2))].

    Broadcasts over leading axes: x (..., d) and y (..., d) give (...).
    """
    a = 1.0 - rho**2
    return (-0.5 * math.log(a) - (rho**2 * (x**2 + y**2) - 2.0 * rho * x * y) / (2.0 * a)).sum(-1)


def gaussian_score_batches(n_batches, batch, dim, mi, seed):
    """Score matrices S[b, i, j] = log r(x_bi, y_bj) at the exact log ratio. Shape (n_batches, B, B)."""
    rho = gaussian_rho(dim, mi)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_batches, batch, dim, generator=generator, dtype=torch.float64)
    y = rho * x + math.sqrt(1.0 - rho**2) * torch.randn(n_batches, batch, dim, generator=generator, dtype=torch.float64)
    return pairwise_gaussian_log_ratio(x, y, rho)


def pairwise_gaussian_log_ratio(x, y, rho):
    """The same sum expanded so that the cross term is one matrix product: (..., B, d) x 2 -> (..., B, B)."""
    a = 1.0 - rho**2
    squares = (x**2).sum(-1)[..., :, None] + (y**2).sum(-1)[..., None, :]
    return -0.5 * x.shape[-1] * math.log(a) - rho**2 / (2.0 * a) * squares + rho / a * x @ y.transpose(-1, -2)


def mean_and_stderr(values):
    values = torch.as_tensor(values, dtype=torch.float64)
    return float(values.mean()), float(values.std() / math.sqrt(values.numel()))


def test_gaussian_log_ratio_matches_scipy_densities():
    dim, rho = 3, gaussian_rho(3, 2.0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, dim)), rng.standard_normal((50, dim))
    covariance = np.block([[np.eye(dim), rho * np.eye(dim)], [rho * np.eye(dim), np.eye(dim)]])
    log_joint = stats.multivariate_normal(np.zeros(2 * dim), covariance).logpdf(np.hstack([x, y]))
    expected = log_joint - stats.norm.logpdf(x).sum(1) - stats.norm.logpdf(y).sum(1)
    np.testing.assert_allclose(gaussian_log_ratio(torch.from_numpy(x), torch.from_numpy(y), rho).numpy(), expected, atol=1e-10)
    # the pairwise form: entry (i, j) is the pointwise ratio of x_i and y_j
    pairwise = pairwise_gaussian_log_ratio(torch.from_numpy(x), torch.from_numpy(y), rho)
    pointwise = gaussian_log_ratio(torch.from_numpy(x)[:, None, :], torch.from_numpy(y)[None, :, :], rho)
    assert torch.allclose(pairwise, pointwise, atol=1e-10, rtol=0)
    np.testing.assert_allclose(pairwise.diagonal().numpy(), expected, atol=1e-10)


# ---- registry ----------------------------------------------------------------------------------------


def test_registry_lists_every_objective_with_description():
    listing = objectives.available()
    assert set(listing) == {"anchor", "infonce", "nce", "js", "nwj", "dv", "mine", "smile", "chi2", "fdiv"}
    assert all(isinstance(text, str) and len(text) > 20 for text in listing.values())
    with pytest.raises(ValueError, match="unknown"):
        objectives.get("nope")


def test_objective_loss_rejects_unknown_parameters_and_applies_overrides():
    matrix = scores()
    with pytest.raises(ValueError, match="takes no parameter"):
        objectives.objective_loss("nwj", matrix, nu=1.0)
    assert abs(float(objectives.objective_loss("anchor", matrix, nu=0.0)) - reference_infonce(matrix)) < ATOL
    # The registry's anchor default (nu = 16, K = B - 1) is what the loss evaluates to.
    assert abs(float(objectives.objective_loss("anchor", matrix)) - reference_anchor_loss(matrix, 16.0, 8)) < ATOL
    assert abs(float(objectives.objective_loss("anchor", matrix, nu=2.0, k=3)) - reference_anchor_loss(matrix, 2.0, 3)) < ATOL


# ---- InfoNCE, ranking and binary NCE: closed forms ---------------------------------------------------


@pytest.mark.parametrize("k", [None, 1, 2, 5, 8, 9])
def test_infonce_is_cross_entropy_of_the_column_softmax(k):
    """nu = 0 is InfoNCE: both entry points equal the independent column cross-entropy."""
    matrix = scores()
    expected = reference_infonce(matrix, k)
    assert abs(float(infonce_loss(matrix, k=k)) - expected) < ATOL
    assert abs(float(anchor_loss(matrix, nu=0.0, k=k)) - expected) < ATOL
    assert abs(float(objectives.objective_loss("infonce", matrix, k=k)) - expected) < ATOL


def test_infonce_full_column_matches_torch_cross_entropy_and_its_bound():
    matrix = scores()
    batch = matrix.shape[0]
    cross_entropy = F.cross_entropy(matrix.t(), torch.arange(batch))  # column j: classify x_j among all x_i
    assert abs(reference_infonce(matrix) - float(cross_entropy)) < ATOL  # the reference itself is right
    assert abs(float(infonce_bound(matrix)) - (math.log(batch) - reference_infonce(matrix))) < ATOL


def test_ranking_nce_is_softplus_of_the_score_gap():
    """K = 2, nu = 0: log(1 + exp(c_neg - c_pos)) with the next row's entry as the negative."""
    matrix = scores()
    batch = matrix.shape[0]
    gaps = torch.stack([matrix[(j + 1) % batch, j] - matrix[j, j] for j in range(batch)])
    assert abs(float(anchor_loss(matrix, nu=0.0, k=2)) - float(F.softplus(gaps).mean())) < ATOL


def test_binary_nce_is_balanced_logistic_loss_over_all_negatives():
    matrix = scores()
    diagonal, negatives = matrix.diagonal(), off_diagonal(matrix)
    logistic = 0.5 * F.binary_cross_entropy_with_logits(diagonal, torch.ones_like(diagonal)) + 0.5 * (
        F.binary_cross_entropy_with_logits(negatives, torch.zeros_like(negatives))
    )
    assert torch.allclose(anchor_loss(matrix, nu=1.0, k=1), logistic, atol=ATOL, rtol=0)
    assert torch.allclose(nce_loss(matrix), logistic, atol=ATOL, rtol=0)


# ---- the anchor loss against explicit loops ----------------------------------------------------------


@pytest.mark.parametrize("rule,gamma", RULES)
@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0, 16.0])
@pytest.mark.parametrize("batch,k", [(4, 3), (12, 1), (12, 4), (12, 5), (12, 11), (7, 3)])
def test_anchor_loss_matches_explicit_loops(rule, gamma, nu, batch, k):
    """Includes 1 < K < B - 1, where the positive tuple is the diagonal plus K - 1 negatives and the
    anchors are the disjoint K-tuples of the column's negatives (B = 12, K = 4 or 5 leaves unused ones)."""
    matrix = scores(batch=batch, seed=batch + k)
    expected = reference_anchor_loss(matrix, nu, k, rule, gamma)
    assert abs(float(anchor_loss(matrix, nu=nu, k=k, rule=rule, gamma=gamma)) - expected) < ATOL
    # symmetric: the same loss on S and on S^T (conditioning on x), averaged
    symmetric = 0.5 * (expected + reference_anchor_loss(matrix.t(), nu, k, rule, gamma))
    assert abs(float(anchor_loss(matrix, nu=nu, k=k, rule=rule, gamma=gamma, symmetric=True)) - symmetric) < ATOL


def test_anchor_loss_default_tuple_size_and_reductions():
    matrix = scores()
    per_column = anchor_loss(matrix, nu=2.0, reduction="none")
    assert per_column.shape == (9,)
    assert abs(float(per_column.mean()) - reference_anchor_loss(matrix, 2.0, 8)) < ATOL  # K = B - 1 by default
    assert abs(float(anchor_loss(matrix, nu=2.0, reduction="sum")) - 9 * reference_anchor_loss(matrix, 2.0, 8)) < 1e-9
    # A K beyond the batch is capped at B - 1 (B for InfoNCE), the documented behaviour.
    assert abs(float(anchor_loss(matrix, nu=2.0, k=50)) - reference_anchor_loss(matrix, 2.0, 8)) < ATOL
    assert abs(float(anchor_loss(matrix, nu=0.0, k=50)) - reference_infonce(matrix)) < ATOL


@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0, 4.0])
@pytest.mark.parametrize("k", [None, 1, 3, 8])
@pytest.mark.parametrize("symmetric", [False, True])
def test_generic_log_rule_equals_fused_path(nu, k, symmetric):
    """Two code paths of the log rule: the fused log-sum-exp and the generic (K+1)-logit one."""
    matrix = scores()
    fused = anchor_loss(matrix, nu=nu, k=k, symmetric=symmetric, reduction="none")
    generic = anchor_loss(matrix, nu=nu, k=k, symmetric=symmetric, reduction="none", fused=False)
    assert torch.allclose(fused, generic, atol=ATOL, rtol=0)


@pytest.mark.parametrize("batch,k", [(6, 1), (6, 5), (9, 3), (16, 4), (16, 15), (13, 6)])
@pytest.mark.parametrize("gamma", [0.25, 1.0, 3.0, 15.0])
def test_anchor_loss_is_the_nre_c_loss_with_gamma_k_over_nu(batch, k, gamma):
    """Prior art as an oracle: anchor_loss(nu = K / gamma) equals NRE-C with gamma (see nre_c_loss)."""
    matrix = scores(batch=batch, seed=100 + batch + k)
    assert abs(float(anchor_loss(matrix, nu=k / gamma, k=k)) - nre_c_loss(matrix, gamma, k)) < ATOL


# ---- scoring rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("rule,gamma", RULES + [("pseudo_spherical", 1.5)])
def test_each_rule_matches_its_table_formula(rule, gamma):
    generator = torch.Generator().manual_seed(3)
    log_eta = torch.log_softmax(2.0 * torch.randn(8, 5, generator=generator, dtype=torch.float64), -1)
    target = torch.tensor([0, 1, 2, 3, 4, 0, 2, 4])
    values = get_rule(rule, gamma)(log_eta, target)
    for row, t, value in zip(log_eta.exp().tolist(), target.tolist(), values.tolist()):
        assert abs(value - rule_score(row, t, rule, gamma)) < ATOL


@pytest.mark.parametrize("rule,gamma", RULES + [("pseudo_spherical", 1.5)])
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


@pytest.mark.parametrize("rule,gamma", RULES)
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


# ---- Fisher consistency at the exact log ratio -----------------------------------------------------

FISHER_BATCH = 32
# Power, from a pilot on this seed: with 8,000 batches the weakest rise (pseudo-spherical, nu = 1,
# K = 31, scale 1.1) stood at 6.5 paired stderr, every nu = 16 case at >= 7.7 with 2,000; half of
# each keeps every case near 4.5 stderr or more, so a failure means no rise, not bad luck.
FISHER_BATCHES = {1.0: 4000, 16.0: 1000}
PERTURBATIONS = {
    "offset +0.2": lambda c: c + 0.2,
    "offset -0.2": lambda c: c - 0.2,
    "scale 0.9": lambda c: 0.9 * c,
    "scale 1.1": lambda c: 1.1 * c,
}


@pytest.fixture(scope="module")
def fisher_scores():
    """Gaussian pairs, d = 1 at 0.5 nats, at the exact log ratio: (4000, 32, 32)."""
    return gaussian_score_batches(max(FISHER_BATCHES.values()), FISHER_BATCH, dim=1, mi=0.5, seed=11)


@pytest.mark.parametrize("k", [3, FISHER_BATCH - 1])
@pytest.mark.parametrize("nu", sorted(FISHER_BATCHES))
@pytest.mark.parametrize("rule,gamma", RULES)
def test_every_rule_is_fisher_consistent_at_the_exact_log_ratio(fisher_scores, rule, gamma, nu, k):
    """For nu > 0 the expected loss is minimised at c = log r*: it rises under offsets and scalings.

    Common random numbers: the perturbed and the exact critic score the same batches, and the rise
    must exceed 3 paired standard errors.
    """
    batches = fisher_scores[: FISHER_BATCHES[nu]]

    def losses(transform):  # one loss per batch, vectorised over the batches
        return torch.vmap(lambda s: anchor_loss(transform(s), nu=nu, k=k, rule=rule, gamma=gamma))(batches)

    at_truth = losses(lambda c: c)
    for name, transform in PERTURBATIONS.items():
        rise, stderr = mean_and_stderr(losses(transform) - at_truth)
        assert rise > Z_RISE * stderr, f"{name}: mean rise {rise:.3g} vs paired stderr {stderr:.3g}"


# ---- bounds: explicit formulas and exact values at the true ratio ------------------------------------


def test_bounds_match_explicit_formulas():
    matrix = scores(batch=7, seed=5)
    rows = matrix.tolist()
    batch = len(rows)
    diagonal = [rows[i][i] for i in range(batch)]
    product = [rows[i][j] for i in range(batch) for j in range(batch) if i != j]
    mean_diagonal = sum(diagonal) / batch
    nwj = mean_diagonal - sum(math.exp(o - 1.0) for o in product) / len(product)
    dv = mean_diagonal - math.log(sum(math.exp(o) for o in product) / len(product))
    tau = 1.5  # several entries lie beyond +-1.5, so the clip acts
    assert any(abs(o) > tau for o in product)
    smile = mean_diagonal - math.log(sum(math.exp(min(max(o, -tau), tau)) for o in product) / len(product))
    infonce = math.log(batch) + sum(rows[j][j] - lse([rows[i][j] for i in range(batch)]) for j in range(batch)) / batch
    assert abs(float(nwj_bound(matrix)) - nwj) < ATOL
    assert abs(float(dv_bound(matrix)) - dv) < ATOL
    assert abs(float(smile_bound(matrix, tau=tau)) - smile) < ATOL
    assert abs(float(smile_bound(matrix, tau=1e6)) - dv) < ATOL
    assert abs(float(infonce_bound(matrix)) - infonce) < ATOL


def test_nwj_and_dv_at_the_true_log_ratio_equal_the_mi():
    """NWJ is tight at c = 1 + log r*, DV at c = log r*: both average to I (d = 3, I = 1 nat)."""
    mi = 1.0
    batches = gaussian_score_batches(400, 64, dim=3, mi=mi, seed=21)
    for name, values in {
        "nwj": [nwj_bound(s + 1.0) for s in batches],
        "dv": [dv_bound(s) for s in batches],
    }.items():
        mean, stderr = mean_and_stderr(values)
        assert abs(mean - mi) <= Z_EXACT * stderr, f"{name}: {mean:.4f} vs I = {mi} (stderr {stderr:.4f})"
    # Off the optimum by delta, NWJ is exactly I + 1 + delta - e^delta (0.149 nats low at delta = 0.5).
    delta = 0.5
    mean, stderr = mean_and_stderr([nwj_bound(s + 1.0 + delta) for s in batches])
    assert abs(mean - (mi + 1.0 + delta - math.exp(delta))) <= Z_EXACT * stderr


def test_infonce_at_the_true_log_ratio_approaches_the_mi_on_a_large_batch():
    """Below log B the InfoNCE bound at c = log r* reaches I up to O(e^(2I) / B): with I = 0.5 nats
    and B = 1024 that gap is ~1e-3 nats, below the Monte Carlo stderr."""
    mi = 0.5
    batches = gaussian_score_batches(48, 1024, dim=2, mi=mi, seed=31)
    mean, stderr = mean_and_stderr([infonce_bound(s) for s in batches])
    assert abs(mean - mi) <= Z_EXACT * stderr, f"{mean:.4f} vs I = {mi} (stderr {stderr:.4f})"


def test_infonce_at_the_true_log_ratio_saturates_at_log_b():
    """Far above log B the InfoNCE bound at c = log r* is log B, not I: at I = 12 nats (d = 2) and
    B = 8 a negative's ratio is below e^-20 of the positive's in practically every column, so each
    batch's bound is log B - log(1 + sum_k r_k / r_pos) = log B to within 1e-6."""
    batch = 8
    batches = gaussian_score_batches(500, batch, dim=2, mi=12.0, seed=41)
    values = torch.stack([infonce_bound(s) for s in batches])
    gaps = math.log(batch) - values
    assert float(gaps.min()) >= -ATOL and float(gaps.max()) < 1e-6, f"largest gap {float(gaps.max()):.3g}"


def test_mine_value_is_dv_and_gradient_uses_moving_average():
    matrix = scores().requires_grad_(True)
    state = MovingAverage(alpha=0.5, log_value=5.0)  # stale average far from this batch
    loss = mine_loss(matrix, state=state, alpha=0.5)
    assert torch.allclose(loss, -dv_bound(matrix), atol=ATOL, rtol=0)
    (mine_gradient,) = torch.autograd.grad(loss, matrix)
    # Closed form: d/dS[i,j] of -mean(d) + mean(exp(o) / m) with m the updated moving average.
    moving = math.exp(state.log_value)
    expected = matrix.detach().exp() / (moving * 72)
    expected.fill_diagonal_(-1.0 / 9)
    assert torch.allclose(mine_gradient, expected, atol=ATOL, rtol=0)
    # the moving average is the documented log-space update of the batch's log mean exp
    batch_log_mean = math.log(off_diagonal(matrix.detach()).exp().mean())
    assert abs(state.log_value - math.log(0.5 * math.exp(5.0) + 0.5 * math.exp(batch_log_mean))) < ATOL


# ---- f-divergence (Bregman) ratio fitting ------------------------------------------------------------

# (f, f') on t > 0, written from the generators, independent of the loss table in fdiv.py
F_GENERATORS = {
    "kl": (lambda t: t * math.log(t), lambda t: math.log(t) + 1.0),
    "chi2": (lambda t: 0.5 * (t - 1.0) ** 2, lambda t: t - 1.0),
    "js": (lambda t: t * math.log(t) - (1 + t) * math.log((1 + t) / 2), lambda t: math.log(2 * t / (1 + t))),
    "hellinger": (lambda t: (math.sqrt(t) - 1.0) ** 2, lambda t: 1.0 - 1.0 / math.sqrt(t)),
}


@pytest.mark.parametrize("f", sorted(F_GENERATORS))
def test_fdiv_loss_is_the_bregman_loss_of_its_generator(f):
    """L_f = E_q0[f'(r) r - f(r)] - E_q1[f'(r)] with r = exp(c), computed from f itself."""
    generator, derivative = F_GENERATORS[f]
    matrix = scores(scale=1.0)
    rows = matrix.tolist()
    batch = len(rows)
    ratios_product = [math.exp(rows[i][j]) for i in range(batch) for j in range(batch) if i != j]
    ratios_joint = [math.exp(rows[i][i]) for i in range(batch)]
    expected = sum(derivative(r) * r - generator(r) for r in ratios_product) / len(ratios_product)
    expected -= sum(derivative(r) for r in ratios_joint) / batch
    assert abs(float(fdiv_loss(matrix, generator=f)) - expected) < 1e-9


def test_fdiv_js_is_binary_nce_up_to_scale_and_constant():
    matrix = scores()
    assert torch.allclose(fdiv_loss(matrix, generator="js"), 2 * nce_loss(matrix) - 2 * math.log(2), atol=ATOL, rtol=0)


def test_fdiv_kl_is_nwj_on_shifted_critic_and_chi2_is_least_squares():
    matrix = scores()
    assert torch.allclose(fdiv_loss(matrix, generator="kl"), -nwj_bound(matrix + 1.0), atol=ATOL, rtol=0)
    ratios = matrix.exp()
    least_squares = 0.5 * off_diagonal(ratios**2).mean() - ratios.diagonal().mean() + 0.5
    assert torch.allclose(objectives.chi2_loss(matrix), least_squares, atol=ATOL, rtol=0)


# ---- argument checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    ({"nu": -1.0}, "nu"), ({"k": 0}, "k="), ({"rule": "hinge"}, "rule"), ({"reduction": "max"}, "reduction"),
    ({"rule": "pseudo_spherical", "gamma": 1.0}, "gamma"), ({"rule": "brier", "gamma": 2.0}, "gamma"),
])
def test_bad_objective_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        anchor_loss(scores(), **kwargs)


@pytest.mark.parametrize("matrix", [torch.zeros(3, 4), torch.zeros(1, 1), torch.zeros(3)])
def test_anchor_loss_rejects_matrices_without_negatives(matrix):
    with pytest.raises(ValueError, match="scores"):
        anchor_loss(matrix)
