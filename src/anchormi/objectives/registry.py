"""The objective registry: plain data, name -> loss, default readout, defaults, description.

Adding an objective means writing one loss function and one row here; the trainer, the CLI and
the docs read everything from this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from .bounds import SMILE_TAU, MovingAverage, dv_loss, mine_loss, nwj_loss
from .contrastive import anchor_loss, infonce_loss, nce_loss
from .fdiv import chi2_loss, fdiv_loss


@dataclass(frozen=True)
class Objective:
    """One registered training objective.

    Attributes:
        name: registry key.
        loss: ``loss(scores, **params) -> scalar``; scores is the (B, B) matrix S[i, j] = c(x_i, y_j).
        readout: default held-out readout (see ``anchormi.readouts.READOUTS``).
        description: one line for listings.
        defaults: loss hyperparameters and their defaults; only these may be passed to ``loss``.
        readout_defaults: readout hyperparameters (e.g. SMILE's tau).
        log_ratio_offset: the trained critic equals log r + this offset (NWJ learns 1 + log r);
            None where the objective identifies the ratio only up to a constant or a factor C(y),
            so that its pointwise values are not log ratios.
        make_state: factory for per-run state passed as ``state=`` during training (MINE's average).
        trains_from_large_scores: the loss trains a critic whose scores start several nats from 0
            (see :func:`trains_from_large_scores`).
    """

    name: str
    loss: Callable[..., Any]
    readout: str
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    readout_defaults: dict[str, Any] = field(default_factory=dict)
    log_ratio_offset: float | None = 0.0
    make_state: Callable[[], Any] | None = None
    trains_from_large_scores: bool = False


def trains_from_large_scores(objective: Objective, loss_params: dict[str, Any]) -> bool:
    """Whether ``objective`` with ``loss_params`` trains a critic whose scores start several nats
    from 0, as a bounded critic's do at its initial scale e (``critics.INITIAL_LOG_SCALE``).

    The log score does: its gradient in a logit stays of order one however saturated the softmax.
    The other scoring rules (Brier, spherical, pseudo-spherical) score probabilities, whose
    gradient vanishes once the softmax saturates, and the losses in exp(c) (NWJ, chi^2, the
    f-divergences) start with enormous terms. On a d = 5 Gaussian at 2 nats (N = 5,000) the
    soft-bounded critic read 16.1 +- 16.0 with the Brier rule and 0.83 +- 30.7 with the spherical
    one from scale e, 2.003 for both from scale 1 (benchmarks/README.md, "Objectives with the
    bounded critic"). MIEstimator starts the scale at 1 where this is False.
    """
    return objective.trains_from_large_scores and loss_params.get("rule", "log") == "log"


_REGISTRY: dict[str, Objective] = {}
ANCHOR_NU = 16.0


def register(objective: Objective) -> Objective:
    if objective.name in _REGISTRY:
        raise ValueError(f"objective {objective.name!r} is already registered.")
    _REGISTRY[objective.name] = objective
    return objective


def get(name: str) -> Objective:
    """The registered objective called ``name``; ValueError lists the choices otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"objective {name!r} is unknown; choose one of {sorted(_REGISTRY)}.")
    return _REGISTRY[name]


def available() -> dict[str, str]:
    """Registered objective names -> one-line descriptions, in registration order."""
    return {name: objective.description for name, objective in _REGISTRY.items()}


def objective_loss(name: str, scores: Any, state: Any = None, **params: Any) -> Any:
    """Evaluate objective ``name`` on a score matrix with its defaults overridden by ``params``.

    Unknown parameters raise ValueError, so a typo never falls silently back to a default.
    """
    objective = get(name)
    unknown = set(params) - set(objective.defaults)
    if unknown:
        raise ValueError(
            f"objective {name!r} takes no parameter(s) {sorted(unknown)}; it takes {sorted(objective.defaults) or 'none'}."
        )
    merged = {**objective.defaults, **params}
    if objective.make_state is not None:
        merged["state"] = state
    return objective.loss(scores, **merged)


for _objective in (
    Objective(
        "anchor", anchor_loss, "plugin",
        "InfoNCE-anchor: (K+1)-way classification with a constant anchor logit log nu; learns log r exactly (rule: log|brier|spherical|pseudo_spherical).",
        # nu = 16 rather than the paper's 1: with K = B - 1 = 127 the anchor pins the critic's
        # offset with curvature nu K / (K + nu)^2 (0.008 at nu = 1, 0.1 at nu = 16), and at nu = 1
        # finite-sample training lets that offset drift (+45 % on a d=5 Gaussian at 2 nats).
        # See benchmarks/README.md for the sweep.
        defaults={"nu": ANCHOR_NU, "rule": "log", "gamma": None, "k": None, "symmetric": False},
        trains_from_large_scores=True,
    ),
    Objective(
        "infonce", infonce_loss, "infonce",
        "InfoNCE (CPC): K-way softmax, the anchor with nu=0; a lower bound capped at log K, ratio known only up to C(y).",
        defaults={"k": None}, log_ratio_offset=None, trains_from_large_scores=True,
    ),
    Objective(
        "nce", nce_loss, "plugin",
        "Binary NCE (K=1, nu=1): logistic regression of joint vs product pairs; reports the plug-in mean (JS plug-in).",
        trains_from_large_scores=True,
    ),
    Objective(
        "js", nce_loss, "nwj",
        "JS: train binary NCE, report the NWJ bound on c+1 (Poole et al. 2019).",
        trains_from_large_scores=True,
    ),
    Objective(
        "nwj", nwj_loss, "nwj",
        "NWJ (f-GAN KL) lower bound, trained and reported; high variance at large MI.",
        log_ratio_offset=1.0,
    ),
    Objective(
        "dv", dv_loss, "dv",
        "Donsker-Varadhan lower bound, trained and reported; biased gradients at small batch.",
        log_ratio_offset=None, trains_from_large_scores=True,
    ),
    Objective(
        "mine", mine_loss, "dv",
        "MINE: DV bound with the moving-average gradient correction (alpha); reports DV.",
        defaults={"alpha": 0.01}, log_ratio_offset=None, make_state=MovingAverage, trains_from_large_scores=True,
    ),
    Objective(
        "smile", nce_loss, "smile",
        "SMILE(tau): train binary NCE, report DV with exp(c) clipped to [e^-tau, e^tau].",
        readout_defaults={"tau": SMILE_TAU}, trains_from_large_scores=True,
    ),
    Objective(
        "chi2", chi2_loss, "plugin",
        "Chi-squared ratio fitting (D-RF, uLSIF): E_q0[r^2/2] - E_q1[r]; reports the plug-in mean.",
    ),
    Objective(
        "fdiv", fdiv_loss, "plugin",
        "Bregman/f-divergence ratio fitting, generator = kl|chi2|js|hellinger; reports the plug-in mean.",
        defaults={"generator": "kl"},
    ),
):
    register(_objective)


def member_losses(objective: Objective, params: Sequence[dict[str, Any]]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The loss of a stacked model of ``len(params)`` members: scores (F, B, B) -> (F,), member m
    evaluated with ``params[m]``.

    Several members of an objective without state share one parameter set (``params[0]``) and
    are evaluated in one vectorised call (``torch.vmap``); otherwise members are looped over, so
    each stateful member (MINE's moving average) advances only its own state.
    """
    n_members = len(params)
    if n_members > 1 and objective.make_state is None:
        return torch.vmap(lambda member_scores: objective.loss(member_scores, **params[0]))

    def loop(scores: torch.Tensor) -> torch.Tensor:
        return torch.stack([objective.loss(scores[m], **params[m]) for m in range(n_members)])

    return loop
