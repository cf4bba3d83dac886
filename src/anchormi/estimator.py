"""MIEstimator: fit a critic with any registered objective, read MI out on held-out pairs.

The scikit-learn contract (it derives from ``sklearn.base.BaseEstimator``): hyperparameters are
stored unchanged in ``__init__`` and validated in ``fit`` against ``_param_constraints``; no
fitted attribute is set before the data are validated; ``fit`` returns self; fitted state ends
in "_"; use before ``fit`` raises ``sklearn.exceptions.NotFittedError``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from . import distributed, objectives
from ._validation import (
    Constraint, boolean, check_array, check_pair, check_paired, decay_rate, fraction, integer_at_least, nonnegative_int, nonnegative_real,
    numeric_rows, one_of, optional, positive_int, positive_real, validate_params,
)
from .critics import ACTIVATIONS, CRITICS, DEFAULT_CRITIC, INITIAL_LOG_SCALE, FiniteSupportCritic, StackedCritic, make_critic
from .encoding import fit_encoder
from .diagnostics import (
    calibration_check, constant_check, data_checks, determined_check, fold_agreement_check, gaussian_reference, held_to_bound,
    late_rise, monotone_column_pairs, offset_check, permutation_pvalue, permuted_log_ratios, product_pairs, training_checks,
)
from .intervals import CI_BOUND, CI_CLIPPED, describe_interval, offset_reading, pool_folds, reach_of_rise, satterthwaite_df
from .objectives.bounds import SMILE_TAU
from .preprocessing import MARGINALS, fit_on_sample, marginal_transform, not_finite_after_map, release_pages, transform_in_chunks
from .objectives.contrastive import resolve_k
from .readouts import (
    BOUND_READOUTS, READOUTS, batch_readout, check_readout, heldout_batches, heldout_readout, pointwise_log_ratios,
)
from .recalibration import critic_offset
from .result import Check, MIResult
from .runtime import ThreadGovernor, progress_default, resolve_device, thread_policy
from .trainer import SCHEDULES, TrainConfig, TrainOutcome, epoch_batches, train_streaming, train_with_validation

# Loss hyperparameters exposed as constructor arguments; each objective accepts the subset in
# its registry row's ``defaults``. None means "the objective's default".
LOSS_PARAMS = ("nu", "rule", "gamma", "k", "symmetric", "alpha", "generator")
MIN_SAMPLES = 20
MAX_VAL = 10_000
# A wholly categorical variable with at most this many distinct values renormalises the critic
# exactly over them (FiniteSupportCritic); more values and the critic is used as trained.
MAX_SUPPORT = 1_000
# Above this many bytes (256 MiB) of per-fold float32 copies, fit maps the data
# once into one shared float32 array (large-data mode, MIEstimator._is_large).
LARGE_DATA_BYTES = 1 << 28
# Held-out pairs per fold that the permutation test and the calibration check use (all of them
# below this); bounds their (n_permutations x pairs) work and memory on large data.
PERMUTATION_PAIRS = 20_000
# Held-out rows scored per call by the plug-in readout (bounds the readout's memory).
READOUT_CHUNK = 262_144
DEFAULT_BATCH = 128
DEFAULT_FOLDS = 5
# Pairs coupled by at least this many nats per coordinate of the smaller side (the Gaussian-copula
# reading, known before training) train for twice the passes, up to TIGHT_STEPS_CAP: the budget
# 120 passes give at N = 20,000 (5 folds), twice that of N = 10,000 (auto_max_steps).
TIGHT_COUPLING_NATS = 1.4
TIGHT_STEPS_CAP = 13_125
# Deprecated keyword -> its new name (kept for one release).
RENAMED = {"tau": "smile_tau", "f": "generator"}

_hidden_sizes = Constraint(lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and all(positive_int(w) for w in v),
                           "a non-empty list of positive layer widths, e.g. (128, 128)")
_critic_choice = Constraint(lambda v: (isinstance(v, str) and v in CRITICS) or isinstance(v, nn.Module),
                            f"one of {', '.join(map(repr, CRITICS))} or an nn.Module with pairwise/pointwise")
_objective_name = Constraint(lambda v: isinstance(v, str) and v in objectives.available(),
                             "a registered objective (see anchormi.objectives.available())")
_device = Constraint(lambda v: isinstance(v, (str, torch.device)), "'auto', 'cpu', 'cuda' or a torch.device")


def auto_max_steps(n_train: int, batch_size: int, coupling: float | None = None) -> int:
    """Step budget: about 120 passes over the training pairs, between 6,000 and 40,000 steps; a
    pair whose ``coupling`` (nats per coordinate, :func:`coupling_per_coordinate`) reaches
    ``TIGHT_COUPLING_NATS`` gets 240 passes up to ``TIGHT_STEPS_CAP`` (the budget 120 passes
    give at N = 20,000), so that budgets there and above stay as they are.

    Early stopping on the held-out loss ends easy runs well before the budget. 120 rather than
    release 0.1's 60: on the development grid, 8-nat runs were still improving at 60 passes
    (7.65, 7.45 -> 7.86, 7.75 for truth 8; benchmarks/README.md). The floor of 6,000 steps (it
    was 2,000) serves small data, where 120 passes are few steps: on the development tasks at
    N = 5,000 it moved Gaussian d=10 from 3.88, 4.03 to 4.01, 4.01 (truth 4) and from 7.57, 7.44
    to 7.80, 7.73 (truth 8).

    Tightly coupled pairs need steps more than passes: each coordinate's ratio is sharp, the
    critic's weights must grow large, and at N = 10,000 (6,562 steps) such fits end the budget on
    a slow climb, below the truth, with no lr halving yet. On the development probes twice that
    budget helped every pair at 1.5 nats per coordinate or more (Student-t d=6 at 10 nats 9.21,
    9.46 -> 10.10, 10.23; d=4 at 9 nats 7.83, 7.90 -> 8.38, 8.63; Gaussian d=6 at 9 nats 8.59,
    8.61 -> 8.94, 9.23) and overshot pairs at 1.24 or less (Student-t d=6 at 8 nats 8.10, 8.09 ->
    8.40, 8.46; benchmarks/README.md, "Twice the passes for tightly coupled pairs"). Below about N = 4,600 (5 folds)
    the doubled passes fall under the 6,000-step floor, which stays (no probe measured small data).
    """
    steps = int(np.clip(round(120 * n_train / batch_size), 6_000, 40_000))
    if coupling is not None and coupling >= TIGHT_COUPLING_NATS:
        steps = max(steps, int(np.clip(round(240 * n_train / batch_size), 6_000, TIGHT_STEPS_CAP)))
    return steps


def coupling_per_coordinate(reference: Any, dim_x: int, dim_y: int) -> float | None:
    """The Gaussian-copula reading (``diagnostics.gaussian_reference``) per coordinate of the
    smaller side: how tightly each coordinate is coupled, known before training; None where
    there is no reading (a conditional estimate, too wide or too few rows)."""
    if not isinstance(reference, MIResult) or not math.isfinite(reference.mi):
        return None
    return float(reference.mi) / min(dim_x, dim_y)


def auto_batch_size(n_train: int) -> int:
    """128 pairs per step, or a quarter of the training split when that is smaller (at least 2)."""
    return int(max(2, min(DEFAULT_BATCH, n_train // 4)))


@dataclass
class _Split:
    """Row indices of one fold's training, validation and test pairs."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass
class _FoldFit:
    critic: nn.Module
    scalers: tuple[TransformerMixin, TransformerMixin]
    outcome: TrainOutcome
    split: _Split
    # Recalibrated additive offset (nats) of the critic's log ratio, which then scores l + shift,
    # and the offset's sampling variance (nats^2; anchormi.recalibration); both 0 when not applied.
    shift: float = 0.0
    shift_variance: float = 0.0
    # The offset refitted on validation pairs whether or not it is applied (None when not
    # refitted): its distance from the trained offset is one error component of the interval.
    refit_shift: float | None = None
    # That refit's sampling variance (nats^2; the M-estimator's sandwich), 0 when not refitted.
    refit_variance: float = 0.0


def _bound_info(reference: Any) -> dict[str, Any]:
    """The Gaussian-copula reading for ``MIResult.info`` (``MIResult.interval`` rebuilds the
    bound's reach from it at any level); empty where there is no reading."""
    if not isinstance(reference, MIResult):
        return {}
    return {"gaussian_bound": reference.mi, "gaussian_bound_stderr": reference.stderr,
            "gaussian_bound_applies": reference.info["lower_bound"]}


class MIEstimator(BaseEstimator):
    """Mutual-information estimator trained by a contrastive objective of the family.

    Args:
        objective: registry name; "anchor" (InfoNCE-anchor) by default. See
            ``anchormi.objectives.available()``.
        critic: "soft_bounded" (the default, ``critics.DEFAULT_CRITIC``: the separable critic
            f(x)^T g(y) with embeddings s * e / sqrt(1 + e^2) and one learned scale s, so a score
            cannot grow without bound in heavy tails; benchmarks/README.md, "A softer bound"),
            "separable" (unbounded embeddings, the default of 0.1 and of 0.2's development),
            "bounded" (s * tanh(.): saturates exponentially and reads peaked ratios lower),
            "joint" (MLP on [x, y]), "bilinear", "cosine", or an ``nn.Module`` offering
            ``pairwise(x, y) -> (B, B)`` and ``pointwise(x, y) -> (B,)``.
        nu, rule, gamma, k, symmetric: anchor-family parameters (anchor weight, scoring rule,
            pseudo-spherical order, tuple size K, also average over rows).
        alpha: MINE's moving-average rate.
        generator: the convex generator of ``fdiv`` (kl | chi2 | js | hellinger).
        smile_tau: SMILE's clip (applies to the "smile" readout; 5 by default).
        readout: "plugin", "infonce", "nwj", "dv" or "smile"; None means the objective's default.
        hidden, embed_dim: critic MLP widths and separable embedding size (None: the smaller
            input dimension, between 32 and 128; ``critics.auto_embed_dim``).
        shortcut: the separable critic's encoders also add a linear map of their input to the
            embedding (``critics.SeparableCritic``); off by default.
        activation: hidden-layer nonlinearity of the MLP critics (softplus, relu, silu, gelu, tanh).
        temperature: the cosine critic's tau.
        batch_size: pairs per step B; in-batch negatives give K = B - 1. None picks 128, or
            fewer when the training split is small (``result.info["batch_size"]`` says which).
        max_steps: step budget; None chooses ``auto_max_steps`` from the data size: 120 passes,
            or for pairs coupled by 1.4 nats per coordinate or more (the Gaussian-copula reading)
            240 passes up to 13,125 steps (``result.info["max_steps"]`` and
            ``["coupling_per_coordinate"]`` say which).
        lr, weight_decay: AdamW settings. lr = 1e-3 (release 0.1: 5e-4): a tightly coupled pair
            needs large critic weights, and at 5e-4 high-MI runs ended the budget far below the
            truth (development Gaussian d=5 at 9 nats: 7.52, 7.79; at 1e-3 8.27, 8.41;
            benchmarks/README.md).
        weight_average: decay d of an exponential moving average of the critic's weights (0, the
            default, is off); with d > 0 (0.999 is a common choice) checkpoints are chosen on, and
            the fit keeps, the averaged weights. Development tasks (benchmarks/README.md, "Weight
            averaging"): a tightly coupled pair gains (Gaussian d=5 at 9 nats: 8.27, 8.41 -> 9.15,
            9.19) but digits, whose best checkpoints come early, lose (k=4: 9.52, 9.71 -> 8.09,
            8.35), so it is not the default. ``fit_stream`` rejects it.
        schedule: "plateau" (default: the lr changes only when a held-out plateau halves it),
            "cosine" (each step's lr falls along a half cosine from ``lr`` to near 0 at the step
            budget) or "anneal" (``lr`` until the last fifth of the budget, then a straight fall
            to near 0); with either, plateaus still return to the best weights and halve it.
        eval_every: steps between held-out evaluations; None picks about one epoch (at most 250).
        patience: early stopping after this many steps without held-out improvement; None picks
            max(1,000, 5 evaluations).
        test_size, val_size: fractions held out for the final readout and for checkpoint
            selection (the validation split holds at most 10,000 pairs); the rest trains. The
            three splits are disjoint.
        marginals: the per-column map fitted on each fold's training rows before the critic:
            "zscore" (centre and scale), "normal_scores" (Gaussian copula: empirical CDF, then
            the normal quantile; removes monotone warps of single coordinates; columns with at
            most 20 distinct values, under 5 % of the rows, are z-scored) or "none". MI is
            unchanged by such maps; see ``anchormi.preprocessing``.
        discrete_x, discrete_y, discrete_z: whether the variable is categorical. None (default)
            decides per column by dtype: pandas ``category``/``object``/string/``bool`` columns
            (and numpy text, object or bool arrays) are categorical; numbers are not, and an
            integer column with few distinct values warns, naming the argument. True one-hot
            encodes every column of that variable (integer labels, say); False keeps numbers as
            numbers. Categorical columns are one-hot encoded (``anchormi.encoding``), never read
            as floats; ``pmi`` and ``estimate`` encode new data the same way.
        folds: cross-fitting; None picks 5 (fewer below 200 samples, see ``result_.info["folds"]``).
            1 keeps one train/val/test split. F >= 2 splits the pairs into F
            folds; fold f's critic trains on the others (with its own validation carve-out) and
            scores only fold f, so all N pairs are held out once and the interval includes the
            spread between independently trained critics (``result.ci_method``).
        n_permutations: permutations of the held-out y for ``result.p_value`` (a test of
            X independent of Y with the trained critics fixed) and the calibration check; 0 skips both.
        n_threads: torch threads during ``fit``; None measures: training starts on one thread
            (never catastrophic on a shared machine) and moves to more, up to the caller's own
            count, only while its timed steps show them faster, back to one within a few steps
            when another process takes a core (``anchormi.runtime.ThreadGovernor``;
            ``result_.info["thread_steps"]`` counts the steps at each). The caller's setting is
            restored after.
        seed: the same seed on the same machine gives the same estimate.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        progress: show a progress bar; None shows one only at an interactive terminal.
        tau, f: deprecated names of ``smile_tau`` and ``generator`` (one release).
        standardize: deprecated; True is marginals="zscore", False is marginals="none".

    Fitted attributes: ``result_`` (the MIResult), ``critics_`` (one per fold), ``critic_``
    (the first), ``heldout_pmi_`` (one row per held-out pair: ``row``, ``fold``, ``pmi`` in
    nats; the conditional value with z), ``encoders_`` (one-hot encoders by variable name, for
    categorical input), ``history_``, ``n_features_x_``, ``n_features_y_``, ``loss_params_``, ...
    """

    _param_constraints = {
        "objective": _objective_name,
        "critic": _critic_choice,
        "nu": optional(nonnegative_real),
        "rule": optional(one_of(*objectives.RULES)),
        "gamma": optional(positive_real),
        "k": optional(positive_int),
        "symmetric": optional(boolean),
        "alpha": optional(fraction),
        "generator": optional(one_of(*objectives.GENERATORS)),
        "smile_tau": optional(positive_real),
        "readout": optional(one_of(*READOUTS)),
        "hidden": _hidden_sizes,
        "embed_dim": optional(positive_int),
        "shortcut": boolean,
        "activation": one_of(*ACTIVATIONS),
        "temperature": positive_real,
        "batch_size": optional(integer_at_least(2)),
        "max_steps": optional(positive_int),
        "lr": positive_real,
        "weight_decay": nonnegative_real,
        "weight_average": decay_rate,
        "schedule": one_of(*SCHEDULES),
        "eval_every": optional(positive_int),
        "patience": optional(positive_int),
        "test_size": fraction,
        "val_size": fraction,
        "marginals": one_of(*MARGINALS),
        "discrete_x": optional(boolean),
        "discrete_y": optional(boolean),
        "discrete_z": optional(boolean),
        "folds": optional(positive_int),
        "n_permutations": nonnegative_int,
        "seed": nonnegative_int,
        "device": _device,
        "n_threads": optional(positive_int),
        "progress": optional(boolean),
        "tau": optional(positive_real),
        "f": optional(one_of(*objectives.GENERATORS)),
        "standardize": optional(boolean),
    }

    def __init__(
        self,
        objective: str = "anchor",
        critic: str | nn.Module = DEFAULT_CRITIC,
        nu: float | None = None,
        rule: str | None = None,
        gamma: float | None = None,
        k: int | None = None,
        symmetric: bool | None = None,
        alpha: float | None = None,
        generator: str | None = None,
        smile_tau: float | None = None,
        readout: str | None = None,
        hidden: Sequence[int] = (128, 128),
        embed_dim: int | None = None,
        shortcut: bool = False,
        activation: str = "softplus",
        temperature: float = 0.1,
        batch_size: int | None = None,
        max_steps: int | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        weight_average: float = 0.0,
        schedule: str = "plateau",
        eval_every: int | None = None,
        patience: int | None = None,
        test_size: float = 0.2,
        val_size: float = 0.1,
        marginals: str = "normal_scores",
        discrete_x: bool | None = None,
        discrete_y: bool | None = None,
        discrete_z: bool | None = None,
        folds: int | None = None,
        n_permutations: int = 200,
        seed: int = 0,
        device: str | torch.device = "auto",
        n_threads: int | None = None,
        progress: bool | None = None,
        tau: float | None = None,
        f: str | None = None,
        standardize: bool | None = None,
    ):
        self.objective = objective
        self.critic = critic
        self.nu = nu
        self.rule = rule
        self.gamma = gamma
        self.k = k
        self.symmetric = symmetric
        self.alpha = alpha
        self.generator = generator
        self.smile_tau = smile_tau
        self.readout = readout
        self.hidden = hidden
        self.embed_dim = embed_dim
        self.shortcut = shortcut
        self.activation = activation
        self.temperature = temperature
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.weight_average = weight_average
        self.schedule = schedule
        self.eval_every = eval_every
        self.patience = patience
        self.test_size = test_size
        self.val_size = val_size
        self.marginals = marginals
        self.discrete_x = discrete_x
        self.discrete_y = discrete_y
        self.discrete_z = discrete_z
        self.folds = folds
        self.n_permutations = n_permutations
        self.seed = seed
        self.device = device
        self.n_threads = n_threads
        self.progress = progress
        self.tau = tau
        self.f = f
        self.standardize = standardize

    # ---- parameters ---------------------------------------------------------------------------
    def _resolve(self) -> dict[str, Any]:
        """Validate the hyperparameters and return everything training and readouts use.

        Sets no attribute: fitted state is written only after the data are validated too.
        """
        validate_params(self.get_params(deep=False), self._param_constraints)
        values = {name: getattr(self, name) for name in (*LOSS_PARAMS, "smile_tau")}
        for old, new in RENAMED.items():
            if getattr(self, old) is not None:
                warnings.warn(f"MIEstimator({old}=...) is deprecated; pass {new}=... instead.", DeprecationWarning, stacklevel=3)
                if values[new] is not None and values[new] != getattr(self, old):
                    raise ValueError(f"{old}={getattr(self, old)!r} and {new}={values[new]!r} disagree; pass only {new}.")
                values[new] = getattr(self, old)
        objective = objectives.get(self.objective)
        loss_params = dict(objective.defaults)
        for name in LOSS_PARAMS:
            value = values[name]
            if value is None:
                continue
            if name not in objective.defaults:
                raise ValueError(
                    f"{name}={value!r} does not apply to objective {self.objective!r}; it takes "
                    f"{sorted(objective.defaults) or 'no parameters'}. Drop {name} or pick another objective."
                )
            loss_params[name] = value
        if loss_params.get("rule") != "pseudo_spherical" and loss_params.get("gamma") is not None:
            raise ValueError("gamma applies to rule='pseudo_spherical' only; drop gamma or set that rule.")
        if loss_params.get("rule") == "pseudo_spherical" and not (loss_params.get("gamma") or 0) > 1:
            raise ValueError("rule='pseudo_spherical' needs gamma > 1; pass e.g. gamma=3.")
        readout = self.readout or objective.readout
        check_readout(readout)
        readout_params = dict(objective.readout_defaults) if readout == objective.readout else {}
        if readout == "smile":
            readout_params.setdefault("tau", SMILE_TAU)
        if values["smile_tau"] is not None:
            if readout != "smile":
                raise ValueError(f"smile_tau applies to the 'smile' readout, not {readout!r}; drop it or set readout='smile'.")
            readout_params["tau"] = float(values["smile_tau"])
        if readout == "plugin" and objective.log_ratio_offset is None:
            warnings.warn(
                f"objective {self.objective!r} identifies the log ratio only up to a constant or a factor "
                "C(y), so its plug-in readout is not an MI estimate. Use objective='anchor' for a plug-in.",
                UserWarning,
                stacklevel=3,
            )
        offset = objective.log_ratio_offset if objective.log_ratio_offset is not None else 0.0
        marginals = self.marginals
        if self.standardize is not None:
            warnings.warn("MIEstimator(standardize=...) is deprecated; pass marginals='zscore' or 'none'.", DeprecationWarning, stacklevel=3)
            marginals = "zscore" if self.standardize else "none"
        # A bounded critic starts its learned scale at e for the log score, at 1 (scores near 0)
        # for losses that do not train from saturated scores (objectives.trains_from_large_scores).
        initial_log_scale = INITIAL_LOG_SCALE if objectives.trains_from_large_scores(objective, loss_params) else 0.0
        return {"objective": objective, "loss_params": loss_params, "readout": readout,
                "readout_params": readout_params, "offset": offset, "marginals": marginals,
                "initial_log_scale": initial_log_scale}

    def _check_tuple_size(self, loss_params: dict[str, Any], batch_size: int) -> None:
        k = loss_params.get("k")
        if k is None:
            return
        nu = loss_params.get("nu", 0.0)
        largest = batch_size if nu == 0 else batch_size - 1
        if k > largest:
            raise ValueError(
                f"k={k} needs batches of at least {k + (nu != 0)} pairs but batch_size is {batch_size}; "
                f"pass k <= {largest} or a larger batch_size."
            )

    # ---- fitting ------------------------------------------------------------------------------
    def fit(self, x: Any, y: Any, z: Any = None) -> "MIEstimator":
        """Train on (x, y) and store the held-out (or cross-fitted) estimate in ``result_``.

        With ``z``, estimate the conditional MI I(X;Y|Z) by the chain rule
        I(X;(Y,Z)) - I(X;Z): two calibrated critics, trained on the same folds and evaluated on
        the same held-out triples, so the interval comes from the paired pointwise differences.
        Needs a ratio-identifying objective with the plug-in readout (the default anchor).

        Shape:
            x: (n,) or (n, dim_x); y: (n,) or (n, dim_y); z: (n,) or (n, dim_z); numeric array-likes.
        """
        started = time.perf_counter()
        resolved = self._resolve()
        encoders = {}
        for name, value in (("x", x), ("y", y), ("z", z)):
            if value is not None:
                encoders[name] = fit_encoder(value, name, getattr(self, f"discrete_{name}"), stacklevel=3)
        # Column names for messages, where the columns reach the critic as they are (no one-hot blocks).
        column_names = tuple(list(value.columns) if isinstance(value, pd.DataFrame) and encoders[name] is None else None
                             for name, value in (("x", x), ("y", y)))
        x, y, z = (value if encoders.get(name) is None else encoders[name].transform(value)
                   for name, value in (("x", x), ("y", y), ("z", z)))
        shared_maps = None
        if z is None and self._is_large(x, y):
            # One float32 copy mapped once, instead of a float64 copy and one mapped copy per fold.
            x_view, y_view = numeric_rows(x, "x"), numeric_rows(y, "y")
            check_paired(x_view, y_view, MIN_SAMPLES)
            rng = np.random.default_rng([int(self.seed), 17])
            shared_maps = (fit_on_sample(resolved["marginals"], x_view, "x", rng),
                           fit_on_sample(resolved["marginals"], y_view, "y", rng))
            # On the values as given: a map fitted on a sample may flatten a rarely varying column.
            # Before the float32 copies exist, and handed back after: its sampled rows fault in the
            # pages around each of them (1.3 GB of a 1.5 GB input at 10^7 rows, briefly).
            constant = constant_check(x_view, y_view, column_names)
            release_pages(x_view)
            release_pages(y_view)
            x_array = transform_in_chunks(shared_maps[0], x_view, "x")
            y_array = transform_in_chunks(shared_maps[1], y_view, "y")
            resolved = dict(resolved, marginals="none")
        else:
            x_array, y_array = check_pair(x, y, min_samples=MIN_SAMPLES)
            constant = constant_check(x_array, y_array, column_names)
        z_array = None
        if z is not None:
            z_array = check_array(z, "z")
            if z_array.shape[0] != x_array.shape[0]:
                raise ValueError(f"z has {z_array.shape[0]} rows but x has {x_array.shape[0]}; x, y and z must be paired row by row.")
            if resolved["readout"] != "plugin" or resolved["objective"].log_ratio_offset is None:
                raise ValueError(
                    f"conditional MI subtracts two calibrated log ratios, which objective {self.objective!r} with the "
                    f"{resolved['readout']!r} readout does not give; use objective='anchor' (or another ratio objective) "
                    "with readout='plugin'."
                )
        # Checks of the data that need no critic, run before training.
        before = [determined_check(monotone_column_pairs(x_array, y_array), column_names), constant]
        # The Gaussian-copula lower bound, judged against the estimate once it exists.
        reference = gaussian_reference(x_array, y_array, conditional=z_array is not None)
        splits = self._splits(x_array.shape[0])
        n_train = min(split.train.size for split in splits)
        if self.batch_size is not None and self.batch_size > n_train:
            raise ValueError(
                f"batch_size={self.batch_size} exceeds the {n_train} training pairs; pass batch_size <= {n_train}, "
                "batch_size=None to adapt it to the data, or more samples."
            )
        batch_size = self.batch_size or auto_batch_size(n_train)
        self._check_tuple_size(resolved["loss_params"], batch_size)
        coupling = coupling_per_coordinate(reference, x_array.shape[1], y_array.shape[1])
        max_steps = self.max_steps or auto_max_steps(n_train, batch_size, coupling)
        if resolved["readout"] != "plugin":
            n_test = min(split.test.size for split in splits)
            if n_test < 2 * batch_size:
                raise ValueError(
                    f"the {resolved['readout']!r} readout needs at least 2 held-out batches of batch_size={batch_size} "
                    f"for an interval, but a test split holds {n_test} pairs; use more data, a smaller batch_size, "
                    "a larger test_size or readout='plugin'."
                )
        if distributed.launched():  # checked before any process group exists, so a refusal cannot hang
            distributed.check_supported(self.critic, len(splits), z_array is not None, resolved["readout"], batch_size)
        device = resolve_device(self.device)
        # Launched by torchrun (WORLD_SIZE > 1): one critic trained by every process; else None.
        dist = distributed.setup(device) if distributed.launched() else None
        if dist is not None:
            device = dist.device
        dim_x, dim_y = x_array.shape[1], y_array.shape[1]
        with thread_policy(self.n_threads, device, adaptive=dist is None) as threads:
            sides = _finite_support_sides(encoders)
            if z_array is None:
                terms = [(1.0, self._fit_folds(splits, x_array, y_array, resolved, batch_size, max_steps, device, sides[0], dist=dist,
                                               threads=threads), y_array)]
            else:
                yz_array = np.hstack([y_array, z_array])
                # Each term's critics get their offset recalibrated on validation pairs, so that the
                # two differ by the ratio only, not by offsets trained independently.
                terms = [(1.0, self._fit_folds(splits, x_array, yz_array, resolved, batch_size, max_steps, device, sides[0], recalibrate=True,
                                               threads=threads), yz_array),
                         (-1.0, self._fit_folds(splits, x_array, z_array, resolved, batch_size, max_steps, device, sides[1], recalibrate=True,
                                                threads=threads), z_array)]
            dim_total = x_array.shape[1] + y_array.shape[1] + (0 if z_array is None else z_array.shape[1])
            heldout_pmi, result = self._crossfit_result(terms, x_array, dim_total, resolved, batch_size, device, dist=dist,
                                                        before=before, reference=reference)
            n_threads, thread_steps = _threads_used(threads)
        fold_fits = terms[0][1]

        # Fitted state, written only now that data and parameters have passed every check.
        self.device_ = device
        self.encoders_ = {name: encoder for name, encoder in encoders.items() if encoder is not None}
        self.objective_ = resolved["objective"]
        self.loss_params_ = resolved["loss_params"]
        self.readout_, self.readout_params_ = resolved["readout"], resolved["readout_params"]
        self.log_ratio_offset_ = resolved["objective"].log_ratio_offset
        self.batch_size_ = batch_size
        self.critics_ = [fold.critic for fold in fold_fits]
        # Per fold critic: its recalibrated offset (conditional; see _fit_folds), plus for I(X;Y) the
        # pooled shift to the refitted offsets when they read higher (result.ci_below), so that
        # pmi(), heldout_pmi_ and estimate() on new data read what r.mi reads.
        self.shifts_ = [float(fold.shift) + result.ci_below for fold in fold_fits]
        self.critic_ = self.critics_[0]
        self.scalers_ = [fold.scalers if shared_maps is None else shared_maps for fold in fold_fits]
        self.conditional_ = z_array is not None
        if self.conditional_:
            self.critics_z_ = [fold.critic for fold in terms[1][1]]
            self.shifts_z_ = [float(fold.shift) for fold in terms[1][1]]
            self.scalers_z_ = [fold.scalers for fold in terms[1][1]]
        self.n_features_z_ = 0 if z_array is None else z_array.shape[1]
        self.history_ = result.history
        self.heldout_pmi_ = heldout_pmi.assign(pmi=heldout_pmi["pmi"] + result.ci_below) if result.ci_below else heldout_pmi
        self.n_features_x_, self.n_features_y_ = dim_x, dim_y
        self.n_threads_ = n_threads
        self.n_train_ = result.n_train
        self.diverged_ = bool(result.info["diverged"])
        self.best_step_, self.stop_reason_ = result.info["best_step"], result.info["stop_reason"]
        result.info.update(seconds=time.perf_counter() - started, n_threads=n_threads, thread_steps=thread_steps, finite_support=sides[0],
                           large_data=shared_maps is not None, max_steps=int(max_steps), coupling_per_coordinate=coupling)
        if dist is not None:
            result.info["world_size"] = dist.world_size
        self.result_ = result
        return self

    def _is_large(self, x: Any, y: Any) -> bool:
        """Large-data mode: when per-fold float32 copies of x and y would exceed LARGE_DATA_BYTES.

        Then the per-column maps are fitted once on a random sample of rows and applied in chunks
        into one float32 copy that every fold indexes (``anchormi.preprocessing``), so memory stays
        near the float32 size of the data.
        """
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.ndim > 2 or y.ndim > 2:
            return False
        n_rows = x.shape[0]
        width = (x.shape[1] if x.ndim == 2 else 1) + (y.shape[1] if y.ndim == 2 else 1)
        return self._n_folds(n_rows) * n_rows * width * 4 > LARGE_DATA_BYTES

    def _n_folds(self, n_samples: int) -> int:
        """The folds requested, or by default 5, with at least 40 samples per fold."""
        return self.folds if self.folds is not None else int(min(DEFAULT_FOLDS, max(1, n_samples // 40)))

    def _splits(self, n_samples: int) -> list[_Split]:
        """Disjoint train/val/test rows: one split, or F cross-fitting folds (each with a val carve-out)."""
        permutation = np.random.default_rng(int(self.seed)).permutation(n_samples)
        if n_samples < 2**31:  # int32 row indices: half the memory of the splits on large data
            permutation = permutation.astype(np.int32)
        n_folds = self._n_folds(n_samples)
        if n_folds == 1:
            n_test = int(round(self.test_size * n_samples))
            # Checkpoint selection needs a precise loss, not a huge one: beyond MAX_VAL pairs the
            # evaluation cost grows while its noise barely falls, so extra pairs go to training.
            n_val = min(int(round(self.val_size * n_samples)), MAX_VAL)
            test, val, train = np.split(permutation, [n_test, n_test + n_val])
            splits = [_Split(train, val, test)]
        else:
            if n_folds > n_samples // 10:
                raise ValueError(f"folds={n_folds} leaves fewer than 10 pairs per fold for {n_samples} samples; pass fewer folds.")
            splits = []
            for test in np.array_split(permutation, n_folds):
                rest = np.setdiff1d(permutation, test, assume_unique=True)
                rest = rest[np.random.default_rng([int(self.seed), test.size, len(splits)]).permutation(rest.size)]
                n_val = min(int(round(self.val_size * n_samples)), MAX_VAL, rest.size // 4)
                splits.append(_Split(rest[n_val:], rest[:n_val], test))
        for split in splits:
            if min(split.test.size, split.val.size) < 2 or split.train.size < 2:
                raise ValueError(
                    f"{n_samples} samples give train/val/test splits of {split.train.size}/{split.val.size}/{split.test.size}; "
                    "each needs at least 2 pairs. Collect more samples or change test_size / val_size / folds."
                )
        return splits

    def _build_critic(self, dim_x: int, dim_y: int, device: torch.device, initial_log_scale: float,
                      seed: int | None = None) -> nn.Module:
        """A fresh critic (or a copy of the user's) initialised from ``seed`` without touching the
        caller's global torch random state; a bounded one starts its scale at exp(initial_log_scale)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed if seed is None else seed))
            if isinstance(self.critic, nn.Module):
                critic = copy.deepcopy(self.critic)
            else:
                critic = make_critic(self.critic, dim_x, dim_y, tuple(self.hidden), self.embed_dim, self.temperature, self.activation,
                                     shortcut=self.shortcut, initial_log_scale=initial_log_scale)
        return critic.to(device)

    def _fit_folds(self, splits: list[_Split], x: np.ndarray, y: np.ndarray, resolved: dict, batch_size: int,
                   max_steps: int, device: torch.device, discrete_side: str | None = None, dist: "distributed.Distributed | None" = None,
                   recalibrate: bool = False, threads: ThreadGovernor | None = None) -> list[_FoldFit]:
        """Train one critic per fold as one stacked model: one optimiser step trains every fold,
        each on its own training rows, with its own checkpoint chosen on its own validation rows.

        ``discrete_side`` ("x" or "y"): that variable is wholly categorical, and each trained
        critic is renormalised exactly over its values in the fold's training rows
        (:class:`anchormi.critics.FiniteSupportCritic`).

        ``dist`` (a launched torch.distributed job, one fold): this process trains on its shard of
        the rows with batch_size // world_size pairs per step, the critic scores the gathered global
        batch, gradients and validation values are averaged over processes (``anchormi.distributed``).

        ``recalibrate``: each trained critic's additive offset is refitted on its fold's validation
        pairs (:mod:`anchormi.recalibration`) and applied; a renormalised (finite-support) critic
        is exact already and keeps its own. Without it, a ratio critic's offset is still refitted
        (``refit_shift``) but not applied: the interval uses the distance between the two. A
        distributed job does not refit (each process holds only its shard of the validation rows).
        """
        objective, loss_params = resolved["objective"], resolved["loss_params"]
        readout, offset, readout_params = resolved["readout"], resolved["offset"], resolved["readout_params"]
        n_folds = len(splits)
        # Already mapped large data (marginals "none" here): the identity needs no pass over the rows.
        fit_rows = (lambda split: split.train[:2]) if resolved["marginals"] == "none" else (lambda split: split.train)
        scalers = [
            (marginal_transform(resolved["marginals"], split.train.size).fit(x[fit_rows(split)]),
             marginal_transform(resolved["marginals"], split.train.size).fit(y[fit_rows(split)]))
            for split in splits
        ]
        critics = [self._build_critic(x.shape[1], y.shape[1], device, seed=int(self.seed) + index,
                                      initial_log_scale=resolved["initial_log_scale"]) for index in range(n_folds)]
        # The rows and the batch this process uses: all of them in one process, its shard in a job.
        local_splits, local_batch = splits, batch_size
        if dist is not None:
            critics = [dist.wrap(critic) for critic in critics]
            local_splits, local_batch = [dist.shard_split(split) for split in splits], dist.local_batch(batch_size)
        stacked = StackedCritic(critics).to(device)
        # Validation sets differ by at most a pair between folds; stacking needs one length.
        n_val = min(split.val.size for split in local_splits)
        val = [_tensors(scaler, x[split.val[:n_val]], y[split.val[:n_val]], device) for scaler, split in zip(scalers, local_splits)]
        x_val, y_val = torch.stack([v[0] for v in val]), torch.stack([v[1] for v in val])
        generators = [torch.Generator().manual_seed(int(self.seed) + index) for index in range(n_folds)]
        if resolved["marginals"] == "none" and x.dtype == np.float32 and y.dtype == np.float32:
            # Every fold draws its rows from one shared host copy; batches move to the device.
            x_all, y_all = torch.from_numpy(x), torch.from_numpy(y)
            sources = [epoch_batches(x_all, y_all, local_batch, generator, rows=torch.from_numpy(split.train), device=device)
                       for generator, split in zip(generators, local_splits)]
        else:
            train = [_tensors(scaler, x[split.train], y[split.train], device) for scaler, split in zip(scalers, local_splits)]
            sources = [epoch_batches(x_fold, y_fold, local_batch, generator) for generator, (x_fold, y_fold) in zip(generators, train)]

        def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            drawn = [source(step) for source in sources]
            return torch.stack([b[0] for b in drawn]), torch.stack([b[1] for b in drawn])

        states = [objective.make_state() if objective.make_state is not None else None for _ in range(n_folds)]
        member_params = [dict(loss_params, state=state) if state is not None else loss_params for state in states]

        loss_fn = objectives.member_losses(objective, member_params)
        # Held-out losses never advance a stateful objective's running state.
        heldout_losses = objectives.member_losses(objective, [loss_params] * n_folds)

        def evaluate(model: StackedCritic) -> tuple[np.ndarray, np.ndarray]:
            losses, bound_values = [], []
            for x_batch, y_batch in heldout_batches(x_val, y_val, local_batch):
                scores = model.pairwise(x_batch, y_batch)
                losses.append(heldout_losses(scores))  # kept on the device, read back once
                if readout != "plugin":
                    bound = BOUND_READOUTS[readout]
                    bound_values.append([float(bound(scores[m].cpu().double() - offset, **readout_params)) for m in range(n_folds)])
            if readout == "plugin":
                estimates = (model.pointwise(x_val, y_val) - offset).mean(dim=1).cpu().double().numpy()
            else:
                estimates = np.mean(bound_values, axis=0)
            return torch.stack(losses).double().mean(dim=0).cpu().numpy(), estimates

        n_train = min(split.train.size for split in splits)
        eval_every = self.eval_every or int(np.clip(max(1, n_train // batch_size), 25, 250))
        config = TrainConfig(
            max_steps=max_steps, lr=self.lr, weight_decay=self.weight_decay,
            eval_every=eval_every, patience=self.patience or max(1_000, 5 * eval_every),
            progress=progress_default() if self.progress is None else self.progress,
            label=self.objective if n_folds == 1 else f"{self.objective} x{n_folds} folds",
            average=self.weight_average, schedule=self.schedule,
        )
        if dist is None:
            outcome = train_with_validation(stacked, loss_fn, batches, config, evaluate, threads=threads)
        else:
            outcome = train_with_validation(stacked, loss_fn, batches, config, dist.averaged(evaluate),
                                            after_backward=dist.gradient_averager(stacked))
        members = stacked.unstack()
        if dist is not None:
            members = [dist.unwrap(critic) for critic in members]
        if discrete_side is not None:
            members = [
                _renormalised(critic, x if discrete_side == "x" else y, split.train, scaler[0 if discrete_side == "x" else 1],
                              discrete_side, offset, device)
                for critic, split, scaler in zip(members, splits, scalers)
            ]
        shifts, refits = [(0.0, 0.0)] * n_folds, [(None, 0.0)] * n_folds
        refit = (discrete_side is None and dist is None and readout == "plugin" and objective.log_ratio_offset is not None)
        if refit:
            # Seeded: the same fit draws the same shuffles, and both chain-rule terms the same ones.
            generator = torch.Generator().manual_seed(int(self.seed) + 4099)
            refitted = []
            for index, critic in enumerate(members):
                shift, influence = critic_offset(critic, x_val[index], y_val[index], offset, generator)
                refitted.append((shift, float(influence.var(ddof=1) / influence.size)))
            refits = refitted
            if recalibrate:
                shifts = refitted
        history = outcome.history
        fits = []
        for index, (critic, split) in enumerate(zip(members, splits)):
            best_step = outcome.best_steps[index]
            fold_outcome = dataclasses.replace(
                outcome,
                history=history[history.fold == index].reset_index(drop=True) if "fold" in history else history.assign(fold=0),
                best_step=best_step,
                still_improving=outcome.members_improving[index],
                best_steps=[best_step],
                members_improving=[outcome.members_improving[index]],
            )
            fits.append(_FoldFit(critic, scalers[index], fold_outcome, split, *shifts[index], *refits[index]))
        return fits

    def _crossfit_result(self, terms: list[tuple[float, list[_FoldFit], np.ndarray]], x: np.ndarray, dim_total: int,
                         resolved: dict, batch_size: int, device: torch.device, dist: "distributed.Distributed | None" = None,
                         before: Sequence[Check] = (), reference: Any = "not computed.") -> MIResult:
        """Pool held-out values over folds into the result, with diagnostics and the p-value.

        Returns (pairs, result): ``pairs`` has one row per held-out pair (its ``row`` in the data,
        its ``fold`` and its ``pmi``, the pointwise log ratio of the critic that held it out).

        ``terms`` lists (sign, fold fits, second variable): one term (+1, fits, y) for I(X;Y);
        two for the chain rule I(X;Y|Z) = I(X;(Y,Z)) - I(X;Z), whose critics score the same
        held-out triples so that the pointwise differences carry the paired (smaller) error.

        ``dist``: each process scores its shard of the held-out rows and the values, permutation
        sums and calibration blocks of all processes are pooled, so every process returns the same
        result; y is permuted within each process's shard (still an exact test).
        """
        readout, offset = resolved["readout"], resolved["offset"]
        fold_fits = terms[0][1]
        values, pairs, observed_sum, shuffled_sums = [], [], 0.0, None
        shuffled: dict[int, list[np.ndarray]] = {index: [] for index in range(len(terms))}
        rng = torch.Generator().manual_seed(int(self.seed) + 7919)
        ratio_readout = resolved["objective"].log_ratio_offset is not None
        conditional = len(terms) > 1
        n_permuted_total = 0
        for fold_index, fold in enumerate(fold_fits):
            rows, fold_values = (fold.split.test if dist is None else dist.shard(fold.split.test)), 0.0
            # The permutation test and the calibration check use the fold's first PERMUTATION_PAIRS
            # held-out pairs (the rows are in random order): valid on any fixed subset, and bounded
            # in memory for large data.
            n_permuted = min(rows.size, PERMUTATION_PAIRS)
            n_permuted_total += n_permuted
            permutations = None
            if self.n_permutations > 0:
                permutations = torch.stack([torch.randperm(n_permuted, generator=rng) for _ in range(self.n_permutations)]).to(device)
            for term_index, (sign, fits, second) in enumerate(terms):
                term_fold = fits[fold_index]
                term_offset = offset - term_fold.shift  # the critic scores l + shift
                if readout == "plugin":
                    # Per-pair values, READOUT_CHUNK rows at a time: large data never hold a whole
                    # fold's held-out rows as tensors.
                    pointwise = np.concatenate([
                        heldout_readout(term_fold.critic, *_tensors(term_fold.scalers, x[chunk], second[chunk], device),
                                        readout, term_offset, batch_size).values
                        for chunk in np.array_split(rows, max(1, -(-rows.size // READOUT_CHUNK)))
                    ])
                    fold_term = pointwise
                else:
                    x_test, y_test = _tensors(term_fold.scalers, x[rows], second[rows], device)
                    fold_term = heldout_readout(term_fold.critic, x_test, y_test, readout, term_offset, batch_size, resolved["readout_params"]).values
                    pointwise = pointwise_log_ratios(term_fold.critic, x_test, y_test, term_offset).cpu().double().numpy()
                    del x_test, y_test
                fold_values = fold_values + sign * fold_term
                if term_index == 0:
                    pairs.append((rows, pointwise))
                if permutations is not None:
                    x_permuted, y_permuted = _tensors(term_fold.scalers, x[rows[:n_permuted]], second[rows[:n_permuted]], device)
                    permuted = permuted_log_ratios(term_fold.critic, x_permuted, y_permuted, term_offset, permutations)
                    # The calibration identity holds for pairs of p(x)p(y) only: a permutation's
                    # fixed points (about one each) are joint pairs, and at high MI those few
                    # carry the whole mean (anchormi.diagnostics). The test keeps every pair.
                    shuffled[term_index].append(product_pairs(permuted, permutations))
                    if not conditional:
                        observed_sum += float(pointwise[:n_permuted].sum())
                        sums = permuted.sum(axis=1)
                        shuffled_sums = sums if shuffled_sums is None else shuffled_sums + sums
            values.append(np.asarray(fold_values, dtype=float))
            if conditional:
                pairs[-1] = (rows, values[-1])  # the pointwise conditional value
        if dist is not None:
            values, pairs, shuffled, observed_sum, shuffled_sums, n_permuted_total = dist.pool_heldout(
                values, pairs, shuffled, observed_sum, shuffled_sums, n_permuted_total)
        # Recalibrated offsets were estimated on validation pairs, so their variances join the
        # fold's. They are added as if the terms' offsets were independent: an upper bound, since
        # both are fitted on the same pairs and shuffles and their errors correlate positively.
        # The paired variance of the difference (var of the summed influences) was measured too
        # and is ~20x smaller, too narrow to cover the recalibration's own small bias (0.006 nats
        # at CMI 0 and 0.03 at CMI 1 on development tasks; see docs/method.md).
        shift_variances = np.array([sum(fits[index].shift_variance for _, fits, _ in terms) for index in range(len(fold_fits))])
        pooled = pool_folds(values, shift_variances)
        stderr, ci_df = pooled.stderr, pooled.df
        test_sizes = np.array([fold.split.test.size for fold in fold_fits])
        offset_disagreement = None
        if any(fit.refit_shift is not None for _, fits, _ in terms for fit in fits):
            # The trained (anchor) offset and the one refitted on validation pairs are two
            # consistent criteria: both are exact for the true log ratio, and for an imperfect
            # critic they disagree by an amount no sampling error shows (+0.03 nats at CMI 1; up
            # to 0.5-0.9 nats on development tasks where the critic is 4-10 % off; see
            # benchmarks/README.md). Their pooled disagreement joins the variance as one more
            # error component, so the interval covers whichever of the two readings is nearer.
            # Conditional MI applies the refitted offsets; I(X;Y) reads the higher of the two.
            net_shifts = np.array([sum(sign * (fits[index].refit_shift or 0.0) for sign, fits, _ in terms)
                                   for index in range(len(fold_fits))])
            offset_disagreement = float(np.sum(test_sizes * net_shifts) / test_sizes.sum())
            # D's own sampling error from the refits' sandwich variances (terms added as if
            # independent): how much of D a refit on other validation pairs could move.
            net_variances = np.array([sum(fits[index].refit_variance for _, fits, _ in terms) for index in range(len(fold_fits))])
            offset_disagreement_stderr = float(np.sqrt(np.sum(test_sizes**2 * net_variances)) / test_sizes.sum())
            stderr = float(np.hypot(pooled.stderr, offset_disagreement))
            # The disagreement is a measured shift, not a variance estimate: no uncertainty of its own.
            ci_df = satterthwaite_df([pooled.stderr**2, offset_disagreement**2], [pooled.df, math.inf])
        # I(X;Y) reads the higher of the trained and refitted offsets (anchormi.intervals.offset_reading);
        # conditional MI applies the refitted ones already.
        mi, ci_below = (pooled.estimate, 0.0) if conditional else offset_reading(pooled.estimate, offset_disagreement)
        reads_refitted = conditional or ci_below > 0
        n_test_total = int(test_sizes.sum())
        n_used = n_test_total if readout == "plugin" else int(sum(v.size for v in values) * batch_size)
        outcomes = [fold.outcome for _, fits, _ in terms for fold in fits]

        diagnostics = {}
        # What the last quarter of the budget added to the pooled held-out estimate (per term, the
        # folds' mean; the chain rule's terms with their signs).
        fold_rises = [[late_rise(fold.outcome.history, fold.outcome.steps_run) for fold in fits] for _, fits, _ in terms]
        rise = float(sum(sign * np.mean(term_rises) for (sign, _, _), term_rises in zip(terms, fold_rises)))
        still_improving = [o.still_improving for o in outcomes]
        checks = training_checks(still_improving, [o.diverged for o in outcomes], [o.stop_reason for o in outcomes],
                                 rise=rise, stderr=stderr)
        if self.n_permutations > 0:
            for term_index, name in enumerate(("calibration", "calibration_xz")[: len(terms)]):
                check = calibration_check(shuffled[term_index], n_permuted_total, ratio_readout)
                checks.append(dataclasses.replace(check, name=name, message=(f"critic of X;Z: {check.message}" if term_index else check.message)))
        checks.append(fold_agreement_check(pooled.fold_means, pooled.fold_stderrs, pooled.estimate))
        checks.append(offset_check(offset_disagreement, pooled.stderr, mi, applied=reads_refitted))
        tuple_size = resolve_k(batch_size, resolved["loss_params"].get("nu", 0.0), resolved["loss_params"].get("k")) if readout == "infonce" else batch_size
        checks += data_checks(x.shape[0], n_used, dim_total, mi, readout, tuple_size, before)
        # Where the lower bound applies, the interval's upper end is at least the bound's upper limit.
        bound_check, bound_above = held_to_bound(reference, mi, stderr, ci_df, readout)
        checks.append(bound_check)
        # A fit stopped by its budget while the estimate still rose: the upper end reaches as far
        # again as the last quarter raised it (intervals.reach_of_rise), or to the bound if higher.
        convergence = next(check for check in checks if check.name == "convergence")
        rising = reach_of_rise(convergence.value, convergence.status == "warn")
        ci_above = max(bound_above, rising)
        for check in checks:
            diagnostics[check.name] = check
        # Permuting y is a test of X independent of Y only; it does not preserve Y | Z, so a
        # conditional estimate has no p-value here.
        p_value = permutation_pvalue(observed_sum, shuffled_sums) if self.n_permutations > 0 and not conditional else None

        fold_table = pd.DataFrame({
            "fold": np.arange(len(fold_fits)),
            "n_train": [fold.split.train.size for fold in fold_fits],
            "n_test": [fold.split.test.size for fold in fold_fits],
            "estimate": pooled.fold_means,
            "stderr": pooled.fold_stderrs,
            "best_step": [fold.outcome.best_step for fold in fold_fits],
            "stop_reason": [fold.outcome.stop_reason for fold in fold_fits],
            # What the last quarter of the steps added to each fold's held-out estimate (the first term's, for conditional MI).
            "late_rise": fold_rises[0],
        })
        history = pd.concat([fold.outcome.history for fold in fold_fits], ignore_index=True)
        n_folds = len(fold_fits)
        if n_folds == 1:
            history = history.drop(columns="fold")
        first = outcomes[0]
        pairs_table = _pairs_table(pairs)
        return pairs_table, MIResult(
            mi=mi, stderr=stderr, n_train=int(fold_fits[0].split.train.size), n_test=n_used,
            objective=self.objective, readout=readout, history=history, quantity="I(X;Y|Z)" if conditional else "I(X;Y)",
            info={
                "best_step": first.best_step, "diverged": any(o.diverged for o in outcomes), "stop_reason": first.stop_reason,
                "device": str(device), "batch_size": int(batch_size), "seed": int(self.seed), "folds": n_folds,
                "batch_size_adapted": self.batch_size is None and batch_size != DEFAULT_BATCH,
                "critic": self.critic if isinstance(self.critic, str) else type(self.critic).__name__,
                "loss_params": dict(resolved["loss_params"]), "readout_params": dict(resolved["readout_params"]),
                "sampling_stderr": pooled.sampling_stderr, "between_fold_sd": pooled.between_fold_sd,
                "still_improving": any(still_improving), "late_rise": rise if math.isfinite(rise) else None,
                "steps_run": outcomes[0].steps_run,
                **_bound_info(reference),
                **({"offset_disagreement": offset_disagreement, "offset_disagreement_stderr": offset_disagreement_stderr,
                    "stderr_sampling_and_folds": pooled.stderr,
                    "ci_df_sampling_and_folds": pooled.df, "estimate_trained_offset": pooled.estimate,
                    "offset_reading": "refitted" if reads_refitted else "trained"}
                   if offset_disagreement is not None else {}),
            },
            ci_method=describe_interval(
                n_folds,
                ("it adds the estimation error of both chain-rule critics' recalibrated offsets (as if independent, "
                 "conservative)",) if conditional else (),
                offset_refitted=offset_disagreement is not None, tested_zero=p_value is not None,
                higher_reading=ci_below > 0, reaches_bound=bound_above > 0, rising=rising > 0),
            diagnostics=diagnostics, p_value=p_value, ci_df=ci_df, ci_below=ci_below, ci_above=ci_above,
            folds=fold_table if n_folds > 1 else None,
        )

    def fit_stream(self, sample_batch: Any, n_steps: int) -> "MIEstimator":
        """Streaming training, the classic protocol: a fresh batch every step, no held-out split.

        ``sample_batch(index, rng) -> (x, y)`` returns numpy arrays of shape (batch_size, dim_x)
        and (batch_size, dim_y) for the 0-based step ``index`` = 0 .. n_steps - 1 (history step
        index + 1); ``rng`` is a numpy Generator seeded from ``seed``. The truth may change with
        the step (the staircase). ``history_`` holds, per step, the training loss and the
        readout of that step's batch (column ``batch_estimate``, nats), as in Song & Ermon
        (2020). Inputs are used as given (no standardisation: the distribution may change over
        time). Returns self; ``pmi`` and ``estimate`` then use the final critic.
        """
        resolved = self._resolve()
        if not positive_int(n_steps):
            raise ValueError(f"n_steps={n_steps!r} is invalid; pass a positive number of steps.")
        if self.weight_average:
            raise ValueError(f"weight_average={self.weight_average!r} applies to fit(): fit_stream keeps the last weights, "
                             "with no held-out checkpoints to average; leave weight_average at 0.")
        rng = np.random.default_rng(self.seed)
        first_x, first_y = check_pair(*sample_batch(0, rng), min_samples=2)
        self._check_tuple_size(resolved["loss_params"], first_x.shape[0])
        device = resolve_device(self.device)
        identity = (marginal_transform("none", 1).fit(first_x), marginal_transform("none", 1).fit(first_y))
        critic = self._build_critic(first_x.shape[1], first_y.shape[1], device, initial_log_scale=resolved["initial_log_scale"])
        pending = [(first_x, first_y)]

        def next_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            x_batch, y_batch = pending.pop() if pending else check_pair(*sample_batch(step - 1, rng), min_samples=2)
            return _tensors(identity, x_batch, y_batch, device)

        objective, loss_params = resolved["objective"], resolved["loss_params"]
        readout, offset, readout_params = resolved["readout"], resolved["offset"], resolved["readout_params"]
        config = TrainConfig(
            max_steps=int(n_steps), lr=self.lr, weight_decay=self.weight_decay, label=self.objective, schedule=self.schedule,
            progress=progress_default() if self.progress is None else self.progress,
        )
        state = objective.make_state() if objective.make_state is not None else None
        train_params = dict(loss_params, state=state) if state is not None else loss_params
        with thread_policy(self.n_threads, device) as threads:
            outcome = train_streaming(
                critic, lambda scores: objective.loss(scores, **train_params), next_batch, config,
                on_step=lambda step, scores, loss: {"batch_estimate": batch_readout(scores, readout, offset, readout_params)},
                threads=threads,
            )
            n_threads, _ = _threads_used(threads)
        self.device_ = device
        self.encoders_ = {}
        self.objective_, self.loss_params_ = objective, loss_params
        self.readout_, self.readout_params_ = readout, readout_params
        self.log_ratio_offset_ = objective.log_ratio_offset
        self.batch_size_ = first_x.shape[0]
        self.critics_, self.critic_, self.scalers_, self.shifts_ = [critic], critic, [identity], [0.0]
        self.conditional_, self.n_features_z_ = False, 0
        self.history_ = self.stream_history_ = outcome.history
        self.best_step_, self.diverged_, self.stop_reason_ = outcome.best_step, outcome.diverged, outcome.stop_reason
        self.n_train_ = outcome.steps_run * first_x.shape[0]
        self.n_features_x_, self.n_features_y_ = first_x.shape[1], first_y.shape[1]
        self.n_threads_ = n_threads
        return self

    # ---- persistence --------------------------------------------------------------------------
    def save(self, path: Any) -> Any:
        """Write the fitted critics, per-column maps, parameters, objective and package version to
        one file (``torch.save``; read back with the safe ``weights_only=True``). Returns the path."""
        from .persistence import save_estimator

        return save_estimator(self, path)

    @classmethod
    def load(cls, path: Any) -> "MIEstimator":
        """Read an estimator written by :meth:`save`; ``pmi`` and ``estimate`` give identical output.

        A corrupt file or one from an incompatible format raises ValueError saying what to do.
        """
        from .persistence import load_estimator

        return load_estimator(path)

    # ---- use ----------------------------------------------------------------------------------
    def _check_new(self, x: Any, y: Any, z: Any, min_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        check_is_fitted(self, "critics_")
        encoders = getattr(self, "encoders_", {})
        x, y, z = (encoders[name].transform(value) if name in encoders and value is not None else value
                   for name, value in (("x", x), ("y", y), ("z", z)))
        x_array, y_array = check_pair(x, y, min_samples=min_samples)
        if self.conditional_ != (z is not None):
            raise ValueError(
                "this estimator was fitted with z (conditional MI); pass z too." if self.conditional_
                else "this estimator was fitted without z; drop z, or fit with z for conditional MI."
            )
        z_array = None if z is None else check_array(z, "z")
        named = [("x", x_array, self.n_features_x_), ("y", y_array, self.n_features_y_)]
        if z_array is not None:
            if z_array.shape[0] != x_array.shape[0]:
                raise ValueError(f"z has {z_array.shape[0]} rows but x has {x_array.shape[0]}; pass paired rows.")
            named.append(("z", z_array, self.n_features_z_))
        for name, array, expected in named:
            if array.shape[1] != expected:
                raise ValueError(f"{name} has {array.shape[1]} columns but the estimator was fitted on {expected}.")
        return x_array, y_array, z_array

    def _log_ratios(self, x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """Mean over the fold critics of each pair's log ratio (nats), or of the conditional
        difference log r_{X;(Y,Z)} - log r_{X;Z} when fitted with z. Shape: (n,)."""
        offset = self.log_ratio_offset_ if self.log_ratio_offset_ is not None else 0.0

        def mean_over_folds(critics, scalers, shifts, second):
            # shifts: the recalibrated offsets (absent from files saved before they existed).
            shifts = shifts or [0.0] * len(critics)
            return np.mean([
                pointwise_log_ratios(critic, *_tensors(scaler, x, second, self.device_), offset - shift).cpu().double().numpy()
                for critic, scaler, shift in zip(critics, scalers, shifts)
            ], axis=0)

        if z is None:
            return mean_over_folds(self.critics_, self.scalers_, getattr(self, "shifts_", None), y)
        return (mean_over_folds(self.critics_, self.scalers_, getattr(self, "shifts_", None), np.hstack([y, z]))
                - mean_over_folds(self.critics_z_, self.scalers_z_, getattr(self, "shifts_z_", None), z))

    def estimate(self, x: Any, y: Any, z: Any = None) -> MIResult:
        """MI (nats) of other paired data under the fitted critic(s), every pair treated as held out.

        With several folds the plug-in averages the fold critics' log ratios; bound readouts use
        the first critic. Pass ``z`` when the estimator was fitted with z (conditional MI).
        """
        x_array, y_array, z_array = self._check_new(x, y, z, min_samples=2)
        offset = self.log_ratio_offset_ if self.log_ratio_offset_ is not None else 0.0
        if self.readout_ == "plugin":
            values = self._log_ratios(x_array, y_array, z_array)
        else:
            if x_array.shape[0] < 2 * self.batch_size_:
                raise ValueError(
                    f"the {self.readout_!r} readout needs at least 2 batches of {self.batch_size_} pairs for an interval; "
                    f"got {x_array.shape[0]} pairs. Pass more pairs."
                )
            tensors = _tensors(self.scalers_[0], x_array, y_array, self.device_)
            values = heldout_readout(self.critics_[0], *tensors, self.readout_, offset, self.batch_size_, self.readout_params_).values
        pooled = pool_folds([values])
        # These pairs are held to their own Gaussian-copula lower bound, as in fit.
        reference = gaussian_reference(x_array, y_array, conditional=z_array is not None)
        bound_check, ci_above = held_to_bound(reference, pooled.estimate, pooled.stderr, math.inf, self.readout_)
        return MIResult(
            mi=pooled.estimate, stderr=pooled.stderr,
            n_train=self.n_train_,
            n_test=x_array.shape[0], objective=self.objective, readout=self.readout_, history=self.history_.copy(),
            quantity="I(X;Y|Z)" if self.conditional_ else "I(X;Y)",
            info={"device": str(self.device_), "batch_size": self.batch_size_, "seed": int(self.seed),
                  "loss_params": dict(self.loss_params_), "readout_params": dict(self.readout_params_),
                  **_bound_info(reference)},
            ci_method="; ".join(["held-out sampling error of the fitted critic(s) on these pairs", *([CI_BOUND] if ci_above > 0 else []),
                                 CI_CLIPPED, "it does not include the critics' bias"]),
            diagnostics={"gaussian_bound": bound_check}, ci_above=ci_above,
        )

    def pmi(self, x: Any, y: Any, z: Any = None) -> np.ndarray:
        """Pointwise log density ratio log p(x_i, y_i) / (p(x_i) p(y_i)) in nats. Shape: (n,).

        With ``z`` (for an estimator fitted with z): the pointwise conditional value
        log p(x_i, y_i | z_i) / (p(x_i | z_i) p(y_i | z_i)).

        Exact in the limit for ratio-identifying objectives (anchor, nce, js, smile, chi2, fdiv,
        nwj). For infonce, dv and mine the values carry an unknown shift (a factor C(y) for
        InfoNCE), so they cannot be compared across different y; a warning says so. With
        several folds the fold critics' values are averaged. They carry the offsets the estimate
        reads (for I(X;Y) the refitted ones when those read higher; ``result_.info["offset_reading"]``),
        so their mean over the held-out pairs (``heldout_pmi_``) is ``result_.mi``.
        """
        x_array, y_array, z_array = self._check_new(x, y, z, min_samples=1)
        if self.log_ratio_offset_ is None:
            warnings.warn(
                f"objective {self.objective!r} identifies log r only up to a shift (C(y) for InfoNCE); "
                "these PMI values are not calibrated log ratios.",
                UserWarning,
                stacklevel=2,
            )
        return self._log_ratios(x_array, y_array, z_array)


def _tensors(scalers: tuple[TransformerMixin, TransformerMixin], x: np.ndarray, y: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardise with the fold's training statistics and move to ``device`` as float32."""
    return _mapped(scalers[0], x, device, "x"), _mapped(scalers[1], y, device, "y")


def _mapped(scaler: TransformerMixin, values: np.ndarray, device: torch.device, name: str = "x") -> torch.Tensor:
    # The identity map (marginals="none", and already-mapped large data): no transform, no copy
    # beyond the float32 array. Inputs are finite (validated on entry), so only narrowing float64
    # to float32 can make them infinite; float32 rows (large data, checked when mapped) pass as they are.
    if isinstance(scaler, StandardScaler) and not scaler.with_mean and not scaler.with_std:
        if values.dtype == np.float32:
            return torch.as_tensor(values, device=device)
        with np.errstate(over="ignore"):
            single = np.asarray(values, dtype=np.float32)
        if not np.isfinite(single).all():
            raise ValueError(not_finite_after_map(name, values))
        return torch.as_tensor(single, device=device)
    mapped = torch.as_tensor(scaler.transform(values), dtype=torch.float32, device=device)
    if not bool(torch.isfinite(mapped).all()):
        raise ValueError(not_finite_after_map(name, values))
    return mapped


def _pairs_table(pairs: list[tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One row per held-out pair, sorted by row: ``row``, ``fold`` (int16) and ``pmi`` (nats).

    ``pairs`` holds (rows, values) per fold; the folds' rows are disjoint. When they are every
    row 0 .. n - 1 once (cross-fitting), each fold's values are written straight to their rows:
    at 10^7 pairs that skips the concatenations and the sort, a few hundred MB at the large-data
    peak. The table is the same either way.
    """
    total = sum(fold_rows.size for fold_rows, _ in pairs)
    top = max((int(fold_rows.max()) + 1 for fold_rows, _ in pairs if fold_rows.size), default=0)
    if top == total:
        row = np.arange(total, dtype=np.result_type(*(fold_rows for fold_rows, _ in pairs)))
        fold, pmi = np.full(total, -1, dtype=np.int16), np.full(total, np.nan)
        for index, (fold_rows, values) in enumerate(pairs):
            fold[fold_rows] = index
            pmi[fold_rows] = values
    else:
        rows = np.concatenate([fold_rows for fold_rows, _ in pairs])
        order = np.argsort(rows, kind="stable")
        row = rows[order]
        fold = np.concatenate([np.full(fold_rows.size, index, dtype=np.int16) for index, (fold_rows, _) in enumerate(pairs)])[order]
        pmi = np.concatenate([np.asarray(values, dtype=np.float64) for _, values in pairs])[order]
    return pd.DataFrame({"row": row, "fold": fold, "pmi": pmi}, copy=False)


def _finite_support_sides(encoders: dict[str, Any]) -> tuple[str | None, str | None]:
    """Which variable each chain-rule term's critic is renormalised over: (term X;Y or X;(Y,Z), term X;Z).

    "y" when the second variable is wholly categorical, else "x" when x is, else None.
    """
    def categorical(name: str) -> bool:
        encoder = encoders.get(name)
        return encoder is not None and bool(np.all(encoder.categorical_))

    first = "y" if categorical("y") and ("z" not in encoders or categorical("z")) else "x" if categorical("x") else None
    second = "y" if categorical("z") else "x" if categorical("x") else None
    return first, second


def _renormalised(critic: nn.Module, values: np.ndarray, rows: np.ndarray, scaler: TransformerMixin, side: str,
                  offset: float, device: torch.device) -> nn.Module:
    """``critic`` renormalised over the distinct rows of ``values[rows]`` (at most MAX_SUPPORT), else unchanged."""
    support, counts = np.unique(values[rows], axis=0, return_counts=True)
    if len(support) > MAX_SUPPORT:
        return critic
    scaled = torch.as_tensor(scaler.transform(support), dtype=torch.float32, device=device)
    log_prob = torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32, device=device)
    return FiniteSupportCritic(critic, scaled, log_prob, side=side, offset=offset).eval()


def _threads_used(threads: ThreadGovernor | None) -> tuple[int, dict[int, int] | None]:
    """The torch thread count at the end of training, and the steps run at each count (None when fixed)."""
    if threads is None:
        return torch.get_num_threads(), None
    return threads.threads, threads.summary()
