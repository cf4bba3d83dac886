"""MIResult: one MI estimate with its uncertainty and training record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._validation import fraction, validate_params
from .intervals import CI_CLIPPED, confidence_interval, reach_of_rise, reach_to_bound, t_interval

NATS_PER_BIT = math.log(2.0)


@dataclass(frozen=True)
class Check:
    """One named diagnostic: ``status`` is "ok", "warn" or "skip" (not applicable, or not
    checkable on these data), ``message`` one line saying why.

    ``value`` is the measured quantity (nats where it is an information quantity), or NaN.
    """

    name: str
    status: str
    message: str
    value: float = float("nan")

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class MIResult:
    """A mutual-information estimate.

    Attributes:
        mi: the estimate in nats.
        stderr: its standard error in nats.
        n_train: pairs the critic(s) were trained on (per fold for cross-fitting; 0 for classical
            estimators).
        n_test: held-out pairs the readout used (all N pairs with cross-fitting).
        objective: the method (objective name, or "ksg" / "gaussian").
        readout: how the number was read out ("plugin", "infonce", "nwj", "dv", "smile", or the
            classical method's name).
        history: per-evaluation table with columns step, train_loss, val_loss, val_estimate,
            batch_estimate (and fold, with cross-fitting); empty for classical estimators.
        info: extra facts (best_step, diverged, seconds, device, parameters ...), JSON-safe.
        ci_method: one sentence saying what ``ci`` covers and what it does not.
        diagnostics: named checks (:class:`Check`), each "ok" or "warn" with a one-line reason.
        p_value: permutation p-value of H0: X independent of Y (None where not computed).
        folds: per-fold table (fold, n_train, n_test, estimate, stderr, best_step, stop_reason)
            for cross-fitted estimates, else None.
        quantity: "I(X;Y)", or "I(X;Y|Z)" for a conditional estimate.
        ci_df: degrees of freedom of the interval's Student-t critical value; infinite (the
            normal 1.96) unless a part of the stderr rests on few values, as the between-fold
            spread of cross-fitting does (``anchormi.intervals``).
        ci_below: how far (nats) the interval reaches below mi - t * stderr: the distance down to
            the trained-offset reading when the estimate reads the higher, refitted offsets
            (``anchormi.intervals.offset_reading``); 0 otherwise.
        ci_above: how far (nats) the 95 % interval reaches above mi + t * stderr: the larger of the
            distance up to the upper limit of the Gaussian-copula lower bound, where that bound
            applies to the data and the t interval ends below it (``diagnostics["gaussian_bound"]``,
            ``anchormi.intervals.reach_to_bound``), and the late rise of a fit whose
            ``convergence`` check warned while the estimate still rose
            (``anchormi.intervals.reach_of_rise``); 0 otherwise. ``interval(level)`` rebuilds it
            at other levels.
    """

    mi: float
    stderr: float
    n_train: int
    n_test: int
    objective: str
    readout: str
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["step", "train_loss", "val_loss", "val_estimate", "batch_estimate"]))
    info: dict[str, Any] = field(default_factory=dict)
    ci_method: str = f"normal interval mi +/- 1.96 stderr from the sampling error, {CI_CLIPPED}"
    diagnostics: dict[str, Check] = field(default_factory=dict)
    p_value: float | None = None
    folds: pd.DataFrame | None = None
    quantity: str = "I(X;Y)"
    ci_df: float = math.inf
    ci_below: float = 0.0
    ci_above: float = 0.0

    @property
    def bits(self) -> float:
        """The estimate in bits."""
        return self.mi / NATS_PER_BIT

    @property
    def stderr_bits(self) -> float:
        return self.stderr / NATS_PER_BIT

    @property
    def ci(self) -> tuple[float, float]:
        """95 % interval (lo, hi) in nats: ``ci_t`` restricted to MI >= 0, reaching 0 whenever the
        independence test (``p_value``) does not reject at 5 % (``anchormi.intervals.confidence_interval``);
        ``ci_method`` says what it covers."""
        return confidence_interval(self.mi, self.stderr, self.ci_df, self.p_value, below=self.ci_below, above=self.ci_above)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The ``level`` interval (lo, hi) in nats, built as ``ci`` is at 95 %: the t interval on
        ``ci_df`` at that level, ``ci_below`` further down, the upper end raised to the
        Gaussian-copula bound's ``level`` upper limit where the bound applies and by a warned late
        rise, restricted to MI >= 0, and reaching 0 when the independence test's ``p_value`` is at
        least 1 - ``level``. ``interval(0.95)`` equals ``ci``.
        """
        validate_params({"level": level}, {"level": fraction})
        return confidence_interval(self.mi, self.stderr, self.ci_df, self.p_value, level, below=self.ci_below,
                                   above=self._reach_above(float(level)))

    def _reach_above(self, level: float) -> float:
        """``ci_above`` at ``level``, from its level-free parts: the bound's reading and stderr in
        ``info`` and the ``convergence`` check's late rise."""
        convergence = self.diagnostics.get("convergence")
        rising = reach_of_rise(convergence.value, convergence.status == "warn") if convergence is not None else 0.0
        bound = 0.0
        if self.info.get("gaussian_bound_applies"):
            bound = reach_to_bound(self.mi, self.stderr, self.ci_df, self.info["gaussian_bound"],
                                   self.info["gaussian_bound_stderr"], level)
        return max(rising, bound)

    @property
    def ci_t(self) -> tuple[float, float]:
        """The plain t interval mi +/- t * stderr in nats, Student's t on ``ci_df`` degrees of
        freedom (1.96 when infinite), its lower end ``ci_below`` further down and its upper end
        ``ci_above`` further up; it may reach below 0."""
        return t_interval(self.mi, self.stderr, self.ci_df, below=self.ci_below, above=self.ci_above)

    @property
    def warnings(self) -> list[str]:
        """The messages of every diagnostic that warns."""
        return [f"{check.name}: {check.message}" for check in self.diagnostics.values() if check.status == "warn"]

    def __str__(self) -> str:
        return self.summary()

    def summary(self, level: float = 0.95) -> str:
        """What ``str(result)`` prints, with the ``level`` interval (``interval(level)``): the
        estimate, the interval, the independence test and every warning, one per line."""
        lo, hi = self.interval(level)
        lines = [
            f"{self.quantity} = {self.mi:.4f} nats ({self.bits:.4f} bits), {100 * level:g}% CI [{lo:.4f}, {hi:.4f}], "
            f"stderr {self.stderr:.4f}; {self.objective} / {self.readout}, n_train={self.n_train}, n_test={self.n_test}"
        ]
        if self.p_value is not None:
            lines.append(f"independence test: p = {self.p_value:.4g}")
        if self.mi < lo:
            lines.append("the estimate is below 0, which no MI can be (held-out noise); the interval is the "
                         "confidence set within MI >= 0 (ci_t: the plain t interval)")
        lines += [f"warning: {message}" for message in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        lo, hi = self.ci
        return (f"MIResult(mi={self.mi:.4f}, ci=({lo:.4f}, {hi:.4f}), stderr={self.stderr:.4f}, "
                f"objective={self.objective!r}, readout={self.readout!r}, n_test={self.n_test}, "
                f"warnings={len(self.warnings)})")

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite floats become None); ``interval`` holds
        ``interval(level)`` with its level, ``ci`` the 95 % interval."""

        def clean(value: Any) -> Any:
            if isinstance(value, (float, np.floating)):
                return float(value) if np.isfinite(value) else None
            if isinstance(value, (np.integer,)):
                return int(value)
            if isinstance(value, (np.bool_,)):
                return bool(value)
            if isinstance(value, dict):
                return {str(k): clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            return value

        lo, hi = self.ci
        level_lo, level_hi = self.interval(level)
        return clean(
            {
                "mi": self.mi, "bits": self.bits, "stderr": self.stderr, "ci": [lo, hi], "ci_t": list(self.ci_t),
                "interval": {"level": level, "lo": level_lo, "hi": level_hi},
                "quantity": self.quantity, "ci_method": self.ci_method, "ci_df": self.ci_df, "ci_below": self.ci_below, "ci_above": self.ci_above,
                "p_value": self.p_value,
                "n_train": self.n_train, "n_test": self.n_test,
                "objective": self.objective, "readout": self.readout,
                "diagnostics": {name: {"status": c.status, "message": c.message, "value": c.value} for name, c in self.diagnostics.items()},
                "folds": None if self.folds is None else self.folds.to_dict(orient="list"),
                "info": self.info,
                "history": self.history.to_dict(orient="list"),
            }
        )

    def plot(self, ax: Any = None, truth: float | None = None, path: str | None = None) -> Any:
        """Plot the held-out estimate during training, the final estimate with its 95 % band and
        the truth, all in nats. Returns the axes; saves PNG/SVG to ``path`` when given.

        The backend is left as the caller set it (Jupyter, a GUI or Agg).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        history = self.history
        column = "val_estimate" if len(history) and history["val_estimate"].notna().any() else "batch_estimate"
        if len(history) and column in history and history[column].notna().any():
            label = "held-out estimate" if column == "val_estimate" else "training-batch estimate"
            groups = history.groupby("fold") if "fold" in history else [(None, history)]
            for fold, group in groups:
                suffix = f" (fold {fold})" if fold is not None else ""
                ax.plot(group["step"], group[column], lw=1, alpha=0.8, label=f"{label}{suffix}" if fold in (None, 0) else None)
            if "best_step" in self.info and "fold" not in history:
                ax.axvline(self.info["best_step"], color="grey", lw=0.8, ls=":", label="kept checkpoint")
        lo, hi = self.ci
        ax.axhspan(lo, hi, color="C2", alpha=0.25, label=f"final {self.mi:.3f} [{lo:.3f}, {hi:.3f}]")
        ax.axhline(self.mi, color="C2", lw=1.5)
        if truth is not None:
            ax.axhline(truth, color="k", ls="--", lw=1, zorder=0, label=f"truth {truth:.3f}")
        ax.set_xlabel("step")
        ax.set_ylabel("estimate (nats)")
        ax.set_title(f"{self.objective} / {self.readout}")
        ax.legend(fontsize=7)
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=120)
        return ax
