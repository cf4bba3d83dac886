"""Confidence intervals for held-out and cross-fitted estimates.

With F folds, fold f's critic is trained without fold f and scores only fold f, so every pair
contributes one held-out value psi_i (a log ratio for the plug-in, a batch value for bounds) and
the estimate is the mean over all of them. Its error has two sources (the cross-fitting variance
of double/debiased machine learning, Chernozhukov et al. 2018, "Double/debiased machine learning
for treatment and structural parameters", Econometrics Journal 21(1), Thm 3.2 and Sec. 3.4):

- **sampling error within folds**: the pooled within-fold variance s_w^2 of psi over N values,
  giving s_w^2 / N;
- **training variability between folds**: each fold has its own critic, so the fold means m_f
  scatter by more than sampling alone explains. The excess between-fold variance
  max(0, var_f(m_f) - mean_f(s_f^2 / n_f)) estimates the variance one critic adds to its fold
  mean; averaged over F critics it adds excess / F.

stderr^2 = s_w^2 / N + excess / F. With one fold only the first term exists: the interval then
covers the held-out sampling error of one trained critic, not the critic's own error.

**Degrees of freedom.** The sampling term rests on N values, the between-fold term on only F fold
means. When the folds disagree (excess > 0), stderr^2 equals var_f(m_f) / F plus a small
correction known from N values, so its uncertainty is that of a variance of F means: F - 1
degrees of freedom. The interval uses Student's t with the Welch-Satterthwaite degrees of freedom
of the two parts (Satterthwaite 1946, "An approximate distribution of estimates of variance
components", Biometrics Bulletin 2(6)): about F - 1 when the between-fold spread dominates, and
N - F (the normal interval, in effect) when it is absent. With five folds a dominant spread widens
the interval from 1.96 to 2.78 stderrs, which the classical interval over F fold means would also
give.

**MI is never negative, and zero has an exact test.** The reported interval is a confidence set
for MI in [0, inf) built by inverting two tests (Casella & Berger, Statistical Inference, 2nd ed.,
Sec. 9.2.1): the t interval above for each positive value, and for the value 0 also the permutation
test of independence (``result.p_value``), which is exact with the critics held fixed. 0 belongs
to the set when the t interval reaches it or the test does not reject at 1 - level; the interval
is the set's hull, [max(lo, 0), max(hi, 0)] with the lower end 0 in that case. Adding accepted
values only raises coverage at each true value, so the t interval's coverage above zero is
unchanged, and at MI = 0 coverage is at least 1 - (the test's type-I error) = level. Without the
test, an overfitted critic's held-out plug-in at MI = 0 sits slightly below zero (Jensen: the mean
log ratio is at most the log mean ratio, 0), and a narrow t interval then excludes the truth.

**Two offset readings** (plug-in ratio fits of I(X;Y)). Each fold critic's additive offset is
pinned twice: by training (the anchor class) and by a balanced logistic refit on the fold's
validation pairs (``anchormi.recalibration``). Both are exact for the true log ratio. For an
imperfect critic they differ by D (refitted minus trained reading, pooled over folds), which the
stderr takes in as one more component: stderr^2 = (sampling and folds)^2 + D^2.
:func:`offset_reading` then reads the higher of the two: the estimate is the trained reading plus
max(D, 0), and when that is the refitted one the interval also reaches down to the trained
reading's lower end (``below`` = D in :func:`t_interval`), so it is the union of the t intervals
around both readings. Chosen on development cells (benchmarks/README.md, "Reading the higher
offset"): a critic that overfits its training pairs scores held-out joint pairs lower, which the
trained offset cannot see and the refit on held-out validation pairs corrects (the refitted
reading was the closer one on digits, Student-t and warped tasks); a refitted reading *below* the
trained one came from tightly coupled pairs, where the logistic refit rests on the rare pairs that
score near 0 and the critic is off there, and it was the farther one there.

A fold value may also carry a constant estimated on other data, such as a recalibrated critic
offset (``anchormi.recalibration``). Its variance v_f adds to that fold mean's variance: to the
sampling term as sum_f (n_f / N)^2 v_f, and to the sampling part subtracted from the between-fold
spread, so it is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

CI_SINGLE = "held-out sampling error of one trained critic (sd of the held-out values / sqrt(n))"
CI_CROSSFIT = (
    "cross-fitted: within-fold sampling error plus the excess between-fold spread of {folds} "
    "independently trained critics (DML cross-fitting variance, Chernozhukov et al. 2018), with "
    "Student's t on the Welch-Satterthwaite degrees of freedom (result.ci_df; about {folds} - 1 when the "
    "folds disagree)"
)
CI_CLIPPED = "clipped to MI >= 0 (result.ci_t holds the plain t interval)"
CI_ZERO_TEST = "it reaches 0 whenever the permutation test of independence does not reject at 5 % (test inversion)"
CI_OFFSET = (
    "as one more error component it adds the shift between the critics' trained offsets and the offsets "
    "refitted on validation pairs (info['offset_disagreement']; 0 for an exact log ratio)"
)
CI_HIGHER_READING = (
    "the estimate reads the refitted offsets, the higher of the two readings, and the interval reaches "
    "down to the trained reading's lower end (result.ci_below; info['estimate_trained_offset'])"
)


CI_BOUND = (
    "its upper end is raised to the upper limit of the Gaussian-copula lower bound, which applies to these data "
    "and lies above the interval (diagnostics['gaussian_bound']; result.ci_above)"
)
CI_RISING = (
    "training ended while the estimate was still rising (diagnostics['convergence']), so its upper end reaches "
    "as far again above as the last quarter of the steps raised it (result.ci_above)"
)


def describe_interval(n_folds: int, extra_parts: tuple[str, ...] = (), offset_refitted: bool = False,
                      tested_zero: bool = False, higher_reading: bool = False, reaches_bound: bool = False,
                      rising: bool = False) -> str:
    """``result.ci_method``: what the interval of ``n_folds`` pooled folds covers, then
    ``extra_parts`` (further error components), and what it does not cover; with
    ``offset_refitted`` the offset disagreement joins it and that caveat narrows to what the
    offset part cannot see; ``higher_reading`` says the estimate reads the refitted offsets
    (:func:`offset_reading`); ``tested_zero`` says that a permutation p-value decides whether 0 is in;
    ``reaches_bound`` that the upper end was raised to a lower bound (:func:`reach_to_bound`);
    ``rising`` that it was raised by the late rise of a fit still improving (:func:`reach_of_rise`)."""
    bound = ([CI_BOUND] if reaches_bound else []) + ([CI_RISING] if rising else [])
    zero = [CI_CLIPPED, CI_ZERO_TEST] if tested_zero else [CI_CLIPPED]
    if not offset_refitted:
        caveat = ("it does not include training variability or the critic's bias" if n_folds == 1
                  else "it does not include a bias shared by all critics")
        return "; ".join([CI_SINGLE if n_folds == 1 else CI_CROSSFIT.format(folds=n_folds), *extra_parts, *bound, *zero, caveat])
    base = [CI_SINGLE, "it does not include training variability"] if n_folds == 1 else [CI_CROSSFIT.format(folds=n_folds)]
    offset = [CI_OFFSET, CI_HIGHER_READING] if higher_reading else [CI_OFFSET]
    parts = [*base, *extra_parts, *offset, *bound, *zero, "it does not include a bias that leaves the two offsets in agreement"]
    return "; ".join(parts)


@dataclass
class PooledEstimate:
    """A pooled estimate (nats), its standard error, and the parts it was built from."""

    estimate: float
    stderr: float
    sampling_stderr: float
    between_fold_sd: float
    fold_means: np.ndarray
    fold_stderrs: np.ndarray
    ci_method: str
    # Degrees of freedom of the interval's Student-t critical value (see the module docstring).
    df: float = float("inf")


def pool_folds(values_per_fold: list[np.ndarray], constant_variances: np.ndarray | None = None) -> PooledEstimate:
    """Pool held-out values of F folds (F >= 1) into one estimate with a cross-fitting stderr.

    Shape:
        values_per_fold: F arrays of shape (n_f,), n_f >= 2 each; units nats.
        constant_variances: (F,) variance (nats^2) of a constant estimated on other data that each
        fold's values include (0 when absent).
    """
    values_per_fold = [np.asarray(values, dtype=float) for values in values_per_fold]
    if not values_per_fold or any(values.size < 2 for values in values_per_fold):
        raise ValueError("every fold needs at least 2 held-out values for an interval; use fewer folds or more data.")
    all_values = np.concatenate(values_per_fold)
    n_total, n_folds = all_values.size, len(values_per_fold)
    fold_means = np.array([values.mean() for values in values_per_fold])
    fold_vars = np.array([values.var(ddof=1) for values in values_per_fold])
    fold_sizes = np.array([values.size for values in values_per_fold])
    constants = np.zeros(n_folds) if constant_variances is None else np.asarray(constant_variances, dtype=float)
    if constants.shape != (n_folds,) or not np.all(np.isfinite(constants)) or np.any(constants < 0):
        raise ValueError(f"constant_variances must hold {n_folds} finite non-negative variances, one per fold.")
    within_var = float(np.sum((fold_sizes - 1) * fold_vars) / (n_total - n_folds))
    sampling_var = within_var / n_total + float(np.sum((fold_sizes / n_total) ** 2 * constants))
    excess = 0.0
    df = float(n_total - n_folds)
    if n_folds > 1:
        spread = float(fold_means.var(ddof=1))
        fold_sampling = float(np.mean(fold_vars / fold_sizes + constants))
        excess = max(0.0, spread - fold_sampling)
        if excess > 0:
            # stderr^2 = (sampling_var - fold_sampling / F) + spread / F: the first part is known
            # from N values, the second from F fold means (Welch-Satterthwaite).
            known, from_folds = sampling_var - fold_sampling / n_folds, spread / n_folds
            df = satterthwaite_df([known, from_folds], [n_total - n_folds, n_folds - 1])
    # The estimate weights every pair equally, so folds of unequal size weigh by their size.
    estimate = float(all_values.mean())
    stderr = float(np.sqrt(sampling_var + excess / n_folds))
    return PooledEstimate(
        estimate=estimate,
        stderr=stderr,
        sampling_stderr=float(np.sqrt(sampling_var)),
        between_fold_sd=float(np.sqrt(excess)),
        fold_means=fold_means,
        fold_stderrs=np.sqrt(fold_vars / fold_sizes + constants),
        ci_method=describe_interval(n_folds),
        df=df,
    )


def critical_value(df: float, level: float = 0.95) -> float:
    """Two-sided critical value of a ``level`` interval: Student's t on ``df`` degrees of freedom,
    the normal quantile (1.96 at 95 %) when ``df`` is infinite."""
    upper = 0.5 + level / 2
    return float(scipy.stats.norm.ppf(upper) if not np.isfinite(df) else scipy.stats.t.ppf(upper, df))


def t_interval(estimate: float, stderr: float, df: float, level: float = 0.95,
               below: float = 0.0, above: float = 0.0) -> tuple[float, float]:
    """``estimate +/- t * stderr``, Student's t on ``df`` degrees of freedom (the normal quantile
    when infinite), its lower end moved ``below`` nats further down (the distance to a second,
    lower reading; :func:`offset_reading`) and its upper end ``above`` nats further up (the
    distance to a lower bound's upper limit; :func:`reach_to_bound`); it may reach below 0."""
    half = critical_value(df, level) * stderr
    return (estimate - half - below, estimate + half + above)


def reach_to_bound(estimate: float, stderr: float, df: float, bound: float, bound_stderr: float,
                   level: float = 0.95) -> float:
    """How far (nats) the interval's upper end must move up to reach ``bound + z * bound_stderr``,
    the upper limit of a lower bound L on I(X;Y) (0 when it reaches that far already).

    The truth lies at L or above, so an interval ending below L's own ``level`` interval leaves
    out values the bound makes likely (all of them when the bound is tight, as for a Gaussian
    copula), and the critic that produced it read low. The upper end is moved up to hold L's
    interval; nothing else moves: the estimate stays the critic's reading.
    """
    upper = bound + critical_value(float("inf"), level) * bound_stderr
    return max(0.0, float(upper - t_interval(estimate, stderr, df, level)[1]))


def reach_of_rise(rise: float, warned: bool) -> float:
    """How far (nats) the interval's upper end moves up for a fit whose ``convergence`` check
    ``warned`` with a late rise of ``rise`` nats (what the last quarter of the steps added to the
    held-out estimate, ``diagnostics.late_rise``): by the rise itself when it is positive, else 0.

    A budget that ends while the estimate still climbs leaves it below where training was taking
    it. If each further quarter of training added at most half of the one before, the rest would
    add at most as much again as the last quarter did; the upper end reaches that far. An
    estimate still falling only warns (nothing says where it would settle)."""
    return float(rise) if warned and np.isfinite(rise) and rise > 0 else 0.0


def offset_reading(trained: float, disagreement: float | None) -> tuple[float, float]:
    """(estimate, below) from the trained-offset reading and ``disagreement`` D (refitted minus
    trained, nats; None when no offset was refitted): the higher reading, trained + max(D, 0), and
    the distance max(D, 0) by which its interval reaches below (module docstring)."""
    if disagreement is None or not np.isfinite(disagreement):
        return float(trained), 0.0
    shift = max(float(disagreement), 0.0)
    return float(trained) + shift, shift


def confidence_interval(estimate: float, stderr: float, df: float, p_value: float | None = None,
                        level: float = 0.95, below: float = 0.0, above: float = 0.0) -> tuple[float, float]:
    """The ``level`` interval for MI (nats): :func:`t_interval` (with ``below``) restricted to
    MI >= 0, with the lower end at 0 when the independence test's ``p_value`` is at least
    1 - ``level`` (test inversion; see the module docstring). A negative upper end becomes 0. NaN
    inputs give NaN ends."""
    lo, hi = t_interval(estimate, stderr, df, level, below, above)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return (float(lo), float(hi))
    zero_accepted = p_value is not None and p_value >= 1.0 - level
    return (0.0 if zero_accepted else max(float(lo), 0.0), max(float(hi), 0.0))


def satterthwaite_df(variances: list[float], dfs: list[float]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates.

    nu = (sum v_i)^2 / sum(v_i^2 / nu_i); a part with infinite df (a constant) adds no uncertainty.
    A part may be slightly negative (a correction to another); the result is kept at or above the
    smallest nu_i of the parts that carry weight.
    """
    total = float(sum(variances))
    weighted = [(v, d) for v, d in zip(variances, dfs) if np.isfinite(d) and v != 0.0]
    denominator = sum(v * v / d for v, d in weighted)
    if total <= 0.0 or denominator <= 0.0:
        return float("inf")
    return float(max(total * total / denominator, min(d for _, d in weighted)))
