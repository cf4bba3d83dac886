"""MIResult: one MI estimate with its uncertainty and training record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NATS_PER_BIT = math.log(2.0)
_Z95 = 1.959963984540054


@dataclass
class MIResult:
    """A mutual-information estimate.

    Attributes:
        mi: the estimate in nats.
        stderr: its standard error in nats.
        n_train: pairs the critic was trained on (0 for classical estimators).
        n_test: held-out pairs the readout used.
        objective: the method (objective name, or "ksg" / "gaussian").
        readout: how the number was read out ("plugin", "infonce", "nwj", "dv", "smile", or the
            classical method's name).
        history: per-evaluation table with columns step, train_loss, val_loss, val_estimate
            (empty for classical estimators).
        info: extra facts (best_step, diverged, seconds, device, parameters ...), JSON-safe.

    What the interval covers: ``ci`` is mi +/- 1.96 stderr. For the plug-in readout, stderr is
    sd(log r) / sqrt(n_test), the held-out sampling error of the mean log ratio of *this* critic.
    For bound readouts it is the spread over held-out batches. Neither covers training
    variability (another seed, split or step count gives another critic) nor the bias of a
    critic that has not learned the true ratio; repeat with several seeds to see those.
    """

    mi: float
    stderr: float
    n_train: int
    n_test: int
    objective: str
    readout: str
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["step", "train_loss", "val_loss", "val_estimate"]))
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def bits(self) -> float:
        """The estimate in bits."""
        return self.mi / NATS_PER_BIT

    @property
    def stderr_bits(self) -> float:
        return self.stderr / NATS_PER_BIT

    @property
    def ci(self) -> tuple[float, float]:
        """95 % normal interval (lo, hi) in nats; see the class docstring for what it covers."""
        return (self.mi - _Z95 * self.stderr, self.mi + _Z95 * self.stderr)

    def __str__(self) -> str:
        lo, hi = self.ci
        return (
            f"I(X;Y) = {self.mi:.4f} nats ({self.bits:.4f} bits), 95% CI [{lo:.4f}, {hi:.4f}], "
            f"stderr {self.stderr:.4f}; {self.objective} / {self.readout}, n_train={self.n_train}, n_test={self.n_test}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite floats become None)."""

        def clean(value: Any) -> Any:
            if isinstance(value, (float, np.floating)):
                return float(value) if np.isfinite(value) else None
            if isinstance(value, (np.integer,)):
                return int(value)
            if isinstance(value, dict):
                return {str(k): clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            return value

        lo, hi = self.ci
        return clean(
            {
                "mi": self.mi, "bits": self.bits, "stderr": self.stderr, "ci": [lo, hi],
                "n_train": self.n_train, "n_test": self.n_test,
                "objective": self.objective, "readout": self.readout,
                "info": self.info,
                "history": self.history.to_dict(orient="list"),
            }
        )

    def plot(self, ax: Any = None, truth: float | None = None, path: str | None = None) -> Any:
        """Plot the training curves (held-out estimate and losses) on matplotlib axes.

        Returns the axes; saves PNG/SVG to ``path`` when given. ``truth`` draws a dashed line.
        """
        import matplotlib

        if ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        history = self.history
        if len(history):
            ax.plot(history["step"], history["val_estimate"], label=f"held-out estimate ({self.readout})")
            ax.plot(history["step"], -history["val_loss"], alpha=0.5, label="-held-out loss")
            if "best_step" in self.info:
                ax.axvline(self.info["best_step"], color="grey", lw=0.8, ls=":", label="kept checkpoint")
        ax.axhline(self.mi, color="C2", lw=1, label=f"final {self.mi:.3f} nats")
        if truth is not None:
            ax.axhline(truth, color="k", ls="--", lw=1, label=f"truth {truth:.3f}")
        ax.set_xlabel("step")
        ax.set_ylabel("nats")
        ax.set_title(self.objective)
        ax.legend(fontsize=7)
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=120)
        return ax
