"""Checks a trained ratio critic can run on its own held-out pairs, with no retraining.

- **Calibration.** For the true log ratio, E_{p(x)p(y)}[exp(log r)] = 1, so
  log mean exp(l(x_i, y_pi(i))) over held-out pairs with y shuffled is about 0. Large values mean
  the critic's offset or tails are off. Only a ratio estimator has this identity; bounds do not.
  Only pairs with y_pi(i) != y_i count: a random permutation has about one fixed point, a joint
  pair, and at high MI the few fixed points of 200 permutations would carry the whole mean (the
  exact Gaussian ratio at d = 20 and 8 nats reads +4.5 to +6.6 nats with them and -0.2 to +0.24
  without; ``benchmarks/calibration_tails.py``). The mean is an importance-sampling estimate
  with weights exp(l), and under p(x)p(y) the ratio has a heavy tail once the coupling is
  tight, so even then a few pairs can carry it. The Pareto shape k of the weights' tail says
  when: above 0.7 the mean has no reliable sampling error (Vehtari, Simpson, Gelman, Yao &
  Gabry, "Pareto smoothed importance sampling", JMLR 2024), in either direction: for exact
  ratios the delta-method stderr was ±1.7 to ±4.9 nats at 8-10 nats where the values lay within
  ±0.6, and on 4,000 product pairs at 8 nats it was small enough to flag 7 of 40 exact ratios.
  So above 0.7 the delta-method test is not used. One test needs no variance at all: the mean
  of nonnegative weights whose expectation is 1 exceeds t with probability at most 1/t
  (Markov's inequality, which holds for the dependent pairs of a permutation too), so a value
  above log(1 / MARKOV_LEVEL) = 4.6 nats warns whatever the tails. A heavy tail with a smaller
  value is reported and not judged ("skip").
- **Offset agreement.** The anchor's trained offset and the offset refitted on validation pairs
  by balanced logistic regression (``anchormi.recalibration``) are both exact for the true log
  ratio; when they differ by more than their sampling error, the critic is not that ratio.
- **Determined columns.** A column of y that is a monotone function of a column of x
  (the same column twice, age and birth year, y = x^3) makes I(X;Y) infinite for continuous
  values; every finite estimate then reflects only the sample size and the step budget. Found by
  sorting (:func:`monotone_column_pairs`), before any training.
- **Constant variables.** An x or a y that takes one value in every row carries no information:
  I(X;Y) = 0 exactly, whatever the fit reports about its own training (:func:`constant_check`).
- **Gaussian lower bound.** When the normal scores of x are multivariate normal, and those of y
  too (Mardia's kurtosis test), the Gaussian-copula MI of the data is a lower bound on I(X;Y)
  (``anchormi.classical.gaussian_copula``): an estimate below it by more than both sampling
  errors comes from a critic that missed dependence. Needs no critic; computed on at most
  ``GAUSSIAN_BOUND_ROWS`` evenly spaced rows.
- **Convergence.** A budget that ends while a fold's held-out loss still improves warns only
  when the training was still moving the estimate: when the last quarter of the steps moved the
  held-out estimate of the kept checkpoints (:func:`late_rise`, pooled over folds), up or down,
  by more than the estimate's standard error, so that more steps would likely move it by more
  than its interval allows for. A best checkpoint at the last evaluation alone is common in fits that
  read right (the held-out loss keeps falling by noise-sized steps).
- **Independence test.** Under H0: X independent of Y, held-out pairs (x_i, y_i) are
  exchangeable with (x_i, y_pi(i)), and a critic fitted on other data is independent of them.
  So the permutation distribution of the held-out plug-in mean, with the critic fixed, gives an
  exact test: p = (1 + #{T_b >= T_obs}) / (1 + B). With cross-fitting, y is permuted within each
  fold, the pairs its own critic scores.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from .classical import NORMALITY_Z, gaussian_copula
from .critics import SeparableCritic
from .intervals import reach_to_bound
from .result import Check

_CHUNK_ROWS = 65_536
# Rows the Gaussian lower bound is computed on (evenly spaced): its stderr at 50,000 rows is a few
# hundredths of a nat, and the rank map and covariance then take well under a second at d = 40.
# Its solves cost rows x (dim_x + dim_y)^2 multiply-adds; rows are cut to keep that within
# GAUSSIAN_BOUND_WORK (a second or two on one core: 2.2 s for 10,000 rows of 256 + 256 columns
# beside another job), and below 10 rows per column within it the bound is skipped.
GAUSSIAN_BOUND_ROWS = 50_000
GAUSSIAN_BOUND_WORK = 2e9


@torch.no_grad()
def permuted_log_ratios(critic: Any, x: torch.Tensor, y: torch.Tensor, offset: float, permutations: torch.Tensor) -> np.ndarray:
    """l(x_i, y_{pi_b(i)}) for every permutation b. Shape: (B, n) float64 on the CPU.

    Separable critics embed x and y once; others score the permuted pairs in chunks.
    """
    if isinstance(critic, SeparableCritic):
        embedded_x, embedded_y = critic.embed_x(x), critic.embed_y(y)
        values = torch.stack([(embedded_x * embedded_y[perm]).sum(-1) for perm in permutations])
    else:
        per_chunk = max(1, _CHUNK_ROWS // max(1, x.shape[0]))
        rows = []
        for start in range(0, permutations.shape[0], per_chunk):
            block = permutations[start : start + per_chunk]
            x_rep = x.repeat(block.shape[0], 1)
            y_perm = y[block.reshape(-1)]
            rows.append(critic.pointwise(x_rep, y_perm).reshape(block.shape[0], -1))
        values = torch.cat(rows)
    # Move before widening: some devices (Apple MPS) have no float64.
    return (values - offset).cpu().double().numpy()


def product_pairs(permuted: np.ndarray, permutations: torch.Tensor | np.ndarray) -> np.ndarray:
    """The entries of ``permuted`` (B, n), values of pairs (x_i, y_pi_b(i)), whose y was moved
    (pi_b(i) != i): pairs of p(x)p(y). A fixed point is a joint pair. Shape: (number moved,)."""
    permutations = permutations.cpu().numpy() if isinstance(permutations, torch.Tensor) else np.asarray(permutations)
    return permuted[permutations != np.arange(permutations.shape[1])]


# Above this Pareto shape a mean of importance weights has no usable sampling error (PSIS's
# threshold for large samples; Vehtari et al. 2024, section 3).
PARETO_K_LIMIT = 0.7
# A calibrated ratio's shuffled-pair mean exceeds 1 / MARKOV_LEVEL with at most this probability.
MARKOV_LEVEL = 0.01


def pareto_tail_shape(log_weights: np.ndarray | Sequence[np.ndarray]) -> float:
    """Shape k of a generalised Pareto fitted to the largest weights exp(log_weights).

    ``log_weights``: one array or a list of blocks (any shapes; read one at a time). The tail is
    the largest M = min(S / 5, 3 sqrt(S)) of the S weights (PSIS's choice), as exceedances over
    the next one, scaled by the largest weight so that no exp overflows; the fit is scipy's
    maximum likelihood with the location at 0. k < 0.5: finite variance; 0.5-0.7: a mean that
    converges slowly; above 0.7: a mean carried by a few draws. NaN when S < 25 or the fit fails.
    """
    blocks = [np.asarray(log_weights).ravel()] if isinstance(log_weights, np.ndarray) else [np.asarray(b).ravel() for b in log_weights]
    blocks = [block for block in blocks if block.size]
    size = sum(block.size for block in blocks)
    m = int(min(0.2 * size, 3 * math.sqrt(size)))
    if size < 25 or m < 5:
        return math.nan
    # The m + 1 largest of all blocks, from each block's own m + 1 largest.
    top = np.concatenate([np.partition(block, block.size - min(m + 1, block.size))[-(m + 1):] for block in blocks])
    top = np.sort(top)[-(m + 1):]
    peak = top[-1]
    exceedances = np.exp(top[1:] - peak) - np.exp(top[0] - peak)
    if not np.isfinite(exceedances).all() or exceedances.max() <= 0:
        return math.nan
    try:
        shape, _, _ = stats.genpareto.fit(exceedances, floc=0)
    except (ValueError, RuntimeError, FloatingPointError):
        return math.nan
    return float(shape)


def log_mean_exp(log_weights: np.ndarray | Sequence[np.ndarray], n_pairs: int) -> tuple[float, float]:
    """(log mean exp(log_weights), its delta-method stderr sd(w) / (mean(w) sqrt(n_pairs))), w the
    weights. ``log_weights``: one array or a list of blocks (any shapes; read one at a time, so
    large data need no concatenated copy); ``n_pairs``: the number of distinct pairs behind them,
    which sets the stderr when permutations reuse the same x and y."""
    blocks = [log_weights] if isinstance(log_weights, np.ndarray) else list(log_weights)
    peak = max(float(block.max()) for block in blocks)
    count, total, total_squared = 0, 0.0, 0.0
    for block in blocks:
        weights = np.exp(block - peak)
        count += weights.size
        total += float(weights.sum())
        total_squared += float(np.square(weights, out=weights).sum())
    mean = total / count
    variance = max(total_squared - count * mean * mean, 0.0) / (count - 1)
    return float(peak + np.log(mean)), float(math.sqrt(variance) / (mean * math.sqrt(n_pairs)))


def calibration_check(shuffled: np.ndarray | Sequence[np.ndarray], n_pairs: int, applicable: bool) -> Check:
    """log mean exp of shuffled-pair log ratios (0 for a true log ratio) with its delta-method
    stderr. It warns above log(1 / MARKOV_LEVEL) nats whatever the tails, or beyond 3 stderrs
    when the weights' Pareto tail shape is at most PARETO_K_LIMIT; otherwise a heavy tail gives
    "skip" and the message says why (module docstring).

    Shape: shuffled (B, n) nats, or a list of such blocks of any shape (one per fold, read one at
    a time so that large data need no concatenated copy), holding pairs of p(x)p(y) only (no
    permutation's fixed points); ``n_pairs`` is the number of distinct pairs (n), which sets the
    stderr, since the B permutations reuse the same x and y.
    """
    if not applicable:
        return Check("calibration", "skip", "this objective identifies log r only up to C(y) or a constant; no calibration identity.")
    blocks = [shuffled] if isinstance(shuffled, np.ndarray) else list(shuffled)
    value, stderr = log_mean_exp(blocks, n_pairs)
    shape = pareto_tail_shape(blocks)
    message = f"log E_p(x)p(y)[r] = {value:+.3f} ± {stderr:.3f} nats (0 for a calibrated ratio; Pareto k {shape:.2f})"
    consequence = "; the critic's offset or tails are off, so the estimate may be biased."
    limit = math.log(1 / MARKOV_LEVEL)
    if value > limit:
        return Check("calibration", "warn", message + f": a calibrated ratio exceeds {limit:.1f} nats with probability below "
                     f"{MARKOV_LEVEL:.0%} whatever its tails (Markov). The critic over-scores some pairs of independent x "
                     "and y, so its pointwise values there are unreliable and the estimate may be biased.", value)
    if shape > PARETO_K_LIMIT:
        return Check("calibration", "skip", message + f": a few shuffled pairs carry the mean (k > {PARETO_K_LIMIT}), as they do "
                     f"for an exact ratio at high MI, so below {limit:.1f} nats it is not judged.", value)
    if abs(value) > 0.1 and abs(value) > 3 * stderr:
        return Check("calibration", "warn", message + consequence, value)
    return Check("calibration", "ok", message, value)


def permutation_pvalue(observed_sum: float, shuffled_sums: np.ndarray) -> float:
    """p = (1 + #{T_b >= T_obs}) / (1 + B), with T the held-out sum of log ratios."""
    # A tiny tolerance: ties in float arithmetic must count against H0's rejection.
    exceed = np.sum(shuffled_sums >= observed_sum - 1e-12 * max(1.0, abs(observed_sum)))
    return float((1 + exceed) / (1 + shuffled_sums.size))


# How large a disagreement between critics must be to warn, as a share of the estimate: 5 %, the
# accuracy the estimator is held to. Critics trained on different folds differ by a few per cent
# in ordinary fits, which the interval includes; at 2 % the folds' check warned on 32 of 54
# development and probe fits, at 5 % on 8 (`python benchmarks/check_rates.py --sweep ...`,
# benchmarks/README "When the checks warn"). The offsets' check uses the same share.
CRITIC_SPREAD_SHARE = 0.05
# The absolute part of "material": near MI = 0 tiny sampling errors make immaterial differences
# "significant", so a disagreement must also exceed this many nats.
MATERIAL_NATS = 0.02


def _material(size: float, estimate: float, share: float = 0.02) -> bool:
    """A disagreement of ``size`` nats matters: beyond ``MATERIAL_NATS`` and ``share`` of the estimate."""
    return abs(size) > max(MATERIAL_NATS, share * abs(estimate))


def fold_agreement_check(fold_means: np.ndarray, fold_stderrs: np.ndarray, estimate: float) -> Check:
    """Chi-square test that the fold means agree within their sampling errors.

    It warns only when the disagreement is also material: the fold means' standard deviation (one
    critic's dependence on its training pairs, the check's value in nats) beyond ``MATERIAL_NATS`` and
    ``CRITIC_SPREAD_SHARE`` of the estimate. Smaller spreads are the ordinary variation between
    independently trained critics, which the interval includes (near MI = 0 sampling errors are
    tiny and immaterial offsets between critics are "significant").
    """
    if fold_means.size < 2:
        return Check("fold_agreement", "skip", "one fold: nothing to compare.")
    statistic = float(np.sum(((fold_means - estimate) / np.maximum(fold_stderrs, 1e-12)) ** 2))
    p_value = float(stats.chi2.sf(statistic, df=fold_means.size - 1))
    spread_sd = float(np.std(fold_means, ddof=1))
    relative = CRITIC_SPREAD_SHARE * abs(estimate) > MATERIAL_NATS  # else the floor decides, and a share of ~0 says nothing
    share = f", {spread_sd / abs(estimate):.1%} of the estimate" if relative else ""
    spread = f"fold estimates {', '.join(f'{m:.3f}' for m in fold_means)} (sd {spread_sd:.3f} nats{share}; chi2 p = {p_value:.3g})"
    if p_value < 0.01 and _material(spread_sd, estimate, CRITIC_SPREAD_SHARE):
        limit = f"{CRITIC_SPREAD_SHARE:.0%} of the estimate" if relative else f"{MATERIAL_NATS:g} nats"
        return Check("fold_agreement", "warn", spread + f": critics trained on different folds disagree by more than "
                     f"{limit}, beyond their sampling error, so the reading depends on which pairs trained the critic; "
                     "the interval includes that spread.", spread_sd)
    return Check("fold_agreement", "ok", spread + ("; beyond sampling error, within the ordinary spread between "
                                                    "critics, which the interval includes." if p_value < 0.01 else "."),
                 spread_sd)


def offset_check(disagreement: float | None, stderr: float, estimate: float, applied: bool = False) -> Check:
    """Whether the trained and the refitted offsets agree (``disagreement``: refitted minus
    trained reading, nats, pooled over folds; None when no offset was refitted). ``stderr``: the
    estimate's sampling-and-folds error; ``applied``: the estimate uses the refitted offsets
    (conditional MI, or I(X;Y) when they read higher), else the trained ones. Warns as for the folds: beyond 2 stderr and
    beyond ``MATERIAL_NATS`` and ``CRITIC_SPREAD_SHARE`` of the estimate.
    """
    if disagreement is None:
        return Check("offset", "skip", "no offset refitted (not a plug-in ratio fit in one process).")
    other = (f"the trained ones read {estimate - disagreement:.4f}" if applied
             else f"the refitted ones read {estimate + disagreement:.4f}")
    text = f"trained and refitted offsets differ by {disagreement:+.3f} nats ({other})"
    if abs(disagreement) > 2 * stderr and _material(disagreement, estimate, CRITIC_SPREAD_SHARE):
        return Check("offset", "warn", text + ": the critic is not an exact log ratio, so the estimate may be off by about "
                     "that much; the interval includes it.", disagreement)
    return Check("offset", "ok", text + " (the interval includes it).", disagreement)


def gaussian_reference(x: np.ndarray, y: np.ndarray, max_rows: int = GAUSSIAN_BOUND_ROWS, conditional: bool = False) -> Any:
    """:func:`anchormi.classical.gaussian_copula` on at most ``max_rows`` evenly spaced rows (fewer
    for wide data: ``GAUSSIAN_BOUND_WORK``), or a string saying why it is not computed (a
    conditional estimate, too many columns for its budget, too few rows for the dimension,
    collinear columns)."""
    if conditional:
        return "conditional MI: the Gaussian-copula reading bounds I(X;Y) only."
    n, columns = x.shape[0], x.shape[1] + y.shape[1]
    budget = min(max_rows, int(GAUSSIAN_BOUND_WORK // columns**2))
    if budget < min(n, 10 * columns):
        return (f"no Gaussian-copula reading: {columns} columns would need {min(n, 10 * columns):,} rows, more than "
                f"its budget of {GAUSSIAN_BOUND_WORK:.0e} multiply-adds allows ({budget:,}).")
    rows = _evenly_spaced_rows(n, budget)
    try:
        return gaussian_copula(np.asarray(x[rows], dtype=np.float64), np.asarray(y[rows], dtype=np.float64))
    except ValueError as error:
        return f"no Gaussian-copula reading on these data ({str(error).split('. ')[0]})."


def bound_applies(reference: Any) -> bool:
    """Whether ``reference`` (from :func:`gaussian_reference`) is a Gaussian-copula reading that
    bounds I(X;Y) from below on these data."""
    return not isinstance(reference, str) and bool(reference.info["lower_bound"])


def held_to_bound(reference: Any, estimate: float, stderr: float, df: float, readout: str) -> tuple[Check, float]:
    """The ``gaussian_bound`` check of an estimate (its ``stderr``, its interval's ``df``) and how
    far its interval's upper end rises to the bound's upper limit (``MIResult.ci_above``; 0 where
    no bound applies or the interval reaches that far)."""
    above = reach_to_bound(estimate, stderr, df, reference.mi, reference.stderr) if bound_applies(reference) else 0.0
    return gaussian_bound_check(reference, estimate, stderr, readout), above


def gaussian_bound_check(reference: Any, estimate: float, stderr: float, readout: str = "plugin") -> Check:
    """The estimate against the Gaussian-copula lower bound.

    ``reference``: :func:`anchormi.classical.gaussian_copula`'s result on the data, or a string
    saying why there is none. ``stderr``: the estimate's; ``readout``: how it was read (a bound
    readout such as "infonce" is below the truth by design, and the message says so). Warns when the bound applies and exceeds
    the estimate by more than twice their combined standard error and by a material amount
    (0.02 nats and 2 % of the estimate: below a lower bound any material shortfall counts, unlike the
    spread between critics, which warns beyond ``CRITIC_SPREAD_SHARE``).
    """
    if isinstance(reference, str):
        return Check("gaussian_bound", "skip", reference)
    bound, bound_stderr = reference.mi, reference.stderr
    reading = f"the Gaussian-copula reading {bound:.3f} ± {bound_stderr:.3f} nats"
    if not reference.info["lower_bound"]:
        info = reference.info
        reasons = [f"{side} has {info[f'few_valued_{side}']} few-valued column{'s' if info[f'few_valued_{side}'] > 1 else ''}"
                   for side in ("x", "y") if info.get(f"few_valued_{side}", 0)]
        reasons += [f"{side} is not multivariate normal after the normal-scores map (Mardia kurtosis z = {info[f'kurtosis_z_{side}']:.1f})"
                    for side in ("x", "y") if abs(info[f"kurtosis_z_{side}"]) > NORMALITY_Z]
        return Check("gaussian_bound", "skip", f"{reading} is no bound here: {'; '.join(reasons)}.", bound)
    gap = bound - estimate
    if gap > 2.0 * math.hypot(bound_stderr, stderr) and _material(gap, estimate):
        why = ("the critic missed dependence (typical of many weakly dependent coordinates with few samples per "
               "dimension, or of very high MI; use more data or a larger max_steps, and report the bound)"
               if readout == "plugin" else
               f"the {readout} readout is a lower bound itself, and a looser one here (for an estimate of I(X;Y) use "
               "method='anchor')")
        return Check(
            "gaussian_bound", "warn",
            f"{reading}, a lower bound on these data (both sides are multivariate normal after the normal-scores map), "
            f"is {gap:.3f} nats above the estimate, beyond both sampling errors, so I(X;Y) is likely at least "
            f"{bound - 1.96 * bound_stderr:.3f}: {why}.",
            bound,
        )
    return Check("gaussian_bound", "ok", f"{reading}, a lower bound on these data, is not above the estimate beyond "
                 "their sampling errors.", bound)


# The share of the steps run whose gain the convergence check reads: the last quarter.
LATE_SHARE = 0.25


def late_rise(history: pd.DataFrame, steps_run: int) -> float:
    """What the last quarter of one fold's training added to its held-out estimate: the validation
    estimate of the checkpoint kept at the end (the lowest validation loss of the run) minus that
    of the checkpoint that was kept when three quarters of ``steps_run`` were done.

    ``history`` is one fold's evaluations (columns step, val_loss, val_estimate; the trainer's
    schema). NaN when no evaluation lies in the first three quarters after the initial one, or the
    history has no validation values (a streaming fit)."""
    rows = history.dropna(subset=["val_loss", "val_estimate"])
    if rows.empty:
        return math.nan
    steps, losses, estimates = (rows[column].to_numpy(float) for column in ("step", "val_loss", "val_estimate"))
    early = (steps <= (1.0 - LATE_SHARE) * steps_run) & (steps > 0)
    if not early.any():
        return math.nan
    # The first lowest loss, as the trainer keeps it (it replaces a checkpoint only on a strict fall).
    kept_early = int(np.argmin(np.where(early, losses, np.inf)))
    return float(estimates[int(np.argmin(losses))] - estimates[kept_early])


def training_checks(still_improving: Sequence[bool], diverged: Sequence[bool], stop_reasons: Sequence[str],
                    rise: float = math.nan, stderr: float = math.nan) -> list[Check]:
    """The divergence and convergence checks of one fit.

    ``rise``: :func:`late_rise` pooled over the folds (nan when unknown); ``stderr``: the
    estimate's. A budget that ended with a fold still improving warns unless the last quarter's
    rise is known and at most the stderr in size (module docstring, "Convergence")."""
    checks = []
    if any(diverged):
        reasons = "; ".join(reason for reason, bad in zip(stop_reasons, diverged) if bad)
        checks.append(Check("divergence", "warn", f"training diverged ({reasons}); finite weights were kept but the estimate is suspect."))
    else:
        checks.append(Check("divergence", "ok", "every loss stayed finite."))
    if not any(still_improving):
        checks.append(Check("convergence", "ok", "the held-out loss stopped improving before the budget ended."))
    elif math.isnan(rise) or math.isnan(stderr):
        checks.append(Check("convergence", "warn", "the held-out loss was still improving when the step budget ended; raise max_steps."))
    elif abs(rise) > stderr:
        checks.append(Check("convergence", "warn", f"the held-out loss was still improving when the step budget ended, and the last "
                            f"quarter of the steps moved the held-out estimate by {rise:+.3f} nats, more than its stderr "
                            f"({stderr:.3f}): the estimate was still changing; raise max_steps.", rise))
    else:
        checks.append(Check("convergence", "ok", f"the held-out loss was still falling when the step budget ended, but the last "
                            f"quarter of the steps moved the held-out estimate by {rise:+.3f} nats, within its stderr "
                            f"({stderr:.3f}).", rise))
    return checks


# Rows the determined-columns check looks at (evenly spaced), and the rows of its first-pass key.
DETERMINED_ROWS = 10_000
_KEY_ROWS = 32
_DETERMINED_VALUES = 20_000_000


def _evenly_spaced_rows(n: int, max_rows: int) -> np.ndarray:
    """Up to ``max_rows`` row indices spread evenly over range(n), first and last included."""
    return np.unique(np.linspace(0, n - 1, min(n, max_rows)).round().astype(np.int64))


def _column_name(names: tuple[Sequence | None, Sequence | None], side: str, index: int) -> str:
    """Column ``index`` of ``side`` ("x" or "y") by its name in ``names`` (a text name quoted, any
    other as printed: a DataFrame's integer labels read as numbers), else by number."""
    side_names = names[side == "y"]
    if side_names is None:
        return str(index)
    name = side_names[index]
    return repr(name) if isinstance(name, str) else str(name)


def monotone_column_pairs(x: np.ndarray, y: np.ndarray, max_rows: int = DETERMINED_ROWS) -> list[tuple[int, int]]:
    """Pairs (i, j) where column j of ``y`` is a monotone function of column i of ``x``
    on up to ``max_rows`` evenly spaced rows (fewer for very wide data: about 20 million values in
    all, at least 1,000 rows), among columns with more distinct values than half of those rows
    (continuous-looking; equal discrete columns have a finite MI).

    A first pass keys every column by the order of its first 32 sampled values (y's also
    reversed), so only columns that order those rows alike are compared in full: O(d log d) keys,
    not d_x * d_y sorts. Shape: x (n, d_x), y (n, d_y).
    """
    n = x.shape[0]
    # Wide data get fewer rows (at least 1,000), so the float64 copies stay near 160 MB.
    max_rows = int(np.clip(_DETERMINED_VALUES // (x.shape[1] + y.shape[1]), min(1_000, max_rows), max_rows))
    rows = _evenly_spaced_rows(n, max_rows)
    xs, ys = np.asarray(x[rows], dtype=np.float64), np.asarray(y[rows], dtype=np.float64)

    def continuous(values: np.ndarray) -> np.ndarray:
        distinct = 1 + np.count_nonzero(np.diff(np.sort(values, axis=0), axis=0), axis=0)
        return np.flatnonzero(distinct > rows.size / 2)

    def key(column: np.ndarray) -> bytes:
        return np.argsort(column[:_KEY_ROWS], kind="stable").tobytes()

    candidates: dict[bytes, list[int]] = {}
    for j in continuous(ys):
        for signed in (ys[:, j], -ys[:, j]):
            candidates.setdefault(key(signed), []).append(int(j))
    pairs = []
    for i in continuous(xs):
        matches = candidates.get(key(xs[:, i]), [])
        if matches:
            order = np.argsort(xs[:, i], kind="stable")
            for j in dict.fromkeys(matches):
                # Non-strict: rounding can tie two images of distinct values (x**3 in float32).
                steps = np.diff(ys[order, j])
                if (steps >= 0).all() or (steps <= 0).all():
                    pairs.append((int(i), j))
    return pairs


def determined_check(pairs: Sequence[tuple[int, int]], names: tuple[Sequence[str] | None, Sequence[str] | None] = (None, None)) -> Check:
    """Warns when :func:`monotone_column_pairs` found any pair; ``names`` (x's, y's; None for
    unnamed columns) label the columns."""
    if not pairs:
        return Check("determined", "ok", "no column of y is a monotone function of a column of x.", 0)

    def label(side: str, index: int) -> str:
        return f"{side} column {_column_name(names, side, index)}"

    listed = ", ".join(f"{label('x', i)} and {label('y', j)}" for i, j in pairs[:3]) + (f" (and {len(pairs) - 3} more pairs)" if len(pairs) > 3 else "")
    return Check(
        "determined", "warn",
        f"{listed} determine each other (one is a monotone function of the other): for continuous values "
        "I(X;Y) is then infinite, and this finite estimate reflects only the sample size and the step budget. Give "
        "such a column to one side only; for discrete values pass discrete_x/discrete_y=True or method='discrete'.",
        len(pairs),
    )


def constant_columns(values: np.ndarray, max_rows: int = DETERMINED_ROWS, chunk_values: int = 2**24) -> list[int]:
    """Columns of ``values`` (n, d) that hold one value in every row: screened on up to
    ``max_rows`` evenly spaced rows, and the survivors confirmed together on all rows in one pass,
    about ``chunk_values`` values at a time (a memory-mapped array is read only when some column is
    constant on the sample, and the pass stops once none is left)."""
    n = values.shape[0]
    sample = np.asarray(values[_evenly_spaced_rows(n, max_rows)])
    candidates = np.flatnonzero((sample == sample[:1]).all(axis=0))
    if candidates.size == 0:
        return []
    first, still = sample[0, candidates], np.ones(candidates.size, dtype=bool)
    chunk = max(1, chunk_values // candidates.size)
    for start in range(0, n, chunk):
        still &= (np.asarray(values[start:start + chunk])[:, candidates] == first).all(axis=0)
        if not still.any():
            break
    return candidates[still].tolist()


def constant_check(x: np.ndarray, y: np.ndarray, names: tuple[Sequence[str] | None, Sequence[str] | None] = (None, None)) -> Check:
    """Warns when every column of x, or of y, is constant: I(X;Y) is then 0 exactly, and the fit's
    other checks describe a critic that had nothing to learn. Constant columns beside varying ones
    are named in an ok check (they add nothing). ``names`` as in :func:`determined_check`."""
    found = {"x": constant_columns(x), "y": constant_columns(y)}
    widths = {"x": x.shape[1], "y": y.shape[1]}
    whole = [side for side in ("x", "y") if found[side] and len(found[side]) == widths[side]]
    if whole:
        side = whole[0]
        return Check(
            "constant", "warn",
            f"{side} takes one value in every row ({'its only column' if widths[side] == 1 else f'all {widths[side]} columns'}): "
            "it carries no information, so I(X;Y) = 0 exactly, and the other checks describe a critic that had "
            "nothing to learn. Check that the right columns were passed.",
            float(widths[side]),
        )
    if not found["x"] and not found["y"]:
        return Check("constant", "ok", "no column of x or y is constant.", 0.0)

    listed = "; ".join(
        f"{side} column{'s' if len(found[side]) > 1 else ''} " + ", ".join(_column_name(names, side, j) for j in found[side][:5])
        + (f" (and {len(found[side]) - 5} more)" if len(found[side]) > 5 else "")
        for side in ("x", "y") if found[side]
    )
    return Check("constant", "ok", f"constant, so they add nothing: {listed}.", float(len(found["x"]) + len(found["y"])))


def data_checks(n_samples: int, n_test: int, dim_total: int, estimate: float, readout: str, tuple_size: int,
                before: Sequence[Check] = ()) -> list[Check]:
    """Checks of the data and the estimate's regime; ``before`` (checks run on the data before
    training, such as :func:`determined_check` and :func:`constant_check`) come first."""
    checks = list(before)
    if n_test < 200:
        checks.append(Check("test_pairs", "warn", f"only {n_test} held-out pairs: the interval's normal approximation is rough; use more data or folds.", n_test))
    else:
        checks.append(Check("test_pairs", "ok", f"{n_test} held-out pairs.", n_test))
    if n_samples < 20 * dim_total:
        checks.append(Check(
            "sample_size", "warn",
            f"{n_samples} samples for {dim_total} dimensions: a neural critic needs far more pairs than dimensions "
            "(aim for >= 20 per dimension); expect a large downward bias.", n_samples,
        ))
    else:
        checks.append(Check("sample_size", "ok", f"{n_samples} samples for {dim_total} dimensions.", n_samples))
    if readout == "infonce":
        ceiling = math.log(tuple_size)
        status = "warn" if estimate > ceiling - 0.1 else "ok"
        checks.append(Check("bound_ceiling", status, f"InfoNCE cannot exceed log K = {ceiling:.3f} nats; estimate {estimate:.3f}.", ceiling))
    elif readout == "plugin" and estimate > math.log(max(n_test, 2)) - 1.0:
        checks.append(Check(
            "high_mi", "warn",
            f"the estimate {estimate:.2f} nats is near log(n_test) = {math.log(n_test):.2f}: the critic must represent "
            "ratios seen in very few pairs, so the plug-in can be off by 10 % or more either way (low when the critic "
            "cannot resolve the peak, high when the refitted offset or the critic's tails overshoot), and the interval "
            "(sampling, folds and offsets) may not cover that; use more data.", estimate,
        ))
    return checks
