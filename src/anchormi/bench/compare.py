"""Adapter for the optional side-by-side comparison with torch-mist (``anchormi[compare]``).

It runs torch-mist's own estimators through its own ``estimate_mi`` on the identical samples of a
fixed-N cell, with the same train / test split fraction and the same seed. Nothing from torch-mist
is imported unless a comparison is asked for.

Defaults follow the DESIGN.md reference run of torch-mist 0.2.17: hidden [256, 256], batch 128, at
most 5,000 iterations; the sweep's ``batch_size`` and ``max_steps`` override them when set.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import numpy as np

COMPARE_TARGETS = {"torch-mist": ("smile", "infonce", "nwj", "flo")}
INSTALL_HINT = "pip install 'anchormi[compare]'"


class CompareUnavailable(RuntimeError):
    """The comparison library is not importable."""


def check_available(target: str) -> tuple[str, ...]:
    """The estimator names to run for ``target``; raises if it is unknown or not installed."""
    if target not in COMPARE_TARGETS:
        raise ValueError(f"--compare {target!r} is unknown; the one supported target is 'torch-mist'.")
    if importlib.util.find_spec("torch_mist") is None:
        raise CompareUnavailable(
            f"--compare {target} needs the torch-mist package, which is not installed in this environment. "
            f"Install the optional extra with: {INSTALL_HINT}"
        )
    return COMPARE_TARGETS[target]


def torch_mist_estimate(
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    seed: int,
    estimator: dict[str, Any] | None = None,
    hidden: list[int] | tuple[int, ...] = (256, 256),
    test_size: float = 0.2,
    **params: Any,
) -> dict[str, Any]:
    """Estimate I(X;Y) in nats with torch-mist's estimator ``name`` ("smile", "infonce", "nwj", "flo").

    The first ``test_size`` of a seeded permutation is held out for torch-mist's evaluation, the
    rest trains (torch-mist takes its own validation share from it).
    Returns the record fields of a fixed-N cell (estimate, stderr, n_train, n_test, readout, ...).
    """
    try:
        import torch
        import torch_mist
    except ImportError as error:  # pragma: no cover - depends on the optional extra
        raise CompareUnavailable(f"torch-mist is not importable ({error}). Install it with: {INSTALL_HINT}") from error

    estimator = estimator or {}
    n_samples = x.shape[0]
    permutation = np.random.default_rng(seed).permutation(n_samples)
    n_test = int(round(test_size * n_samples))
    test_rows, train_rows = permutation[:n_test], permutation[n_test:]
    as_tensor = lambda values: torch.as_tensor(values, dtype=torch.float32)  # noqa: E731
    torch.manual_seed(seed)
    started = time.perf_counter()
    value = torch_mist.estimate_mi(
        data=(as_tensor(x[train_rows]), as_tensor(y[train_rows])),
        test_data=(as_tensor(x[test_rows]), as_tensor(y[test_rows])),
        estimator=name,
        hidden_dims=list(estimator.get("hidden", hidden)),
        batch_size=int(estimator.get("batch_size") or 128),
        max_iterations=int(estimator.get("max_steps") or 5000),
        verbose=False,
        logger=False,
        **params,
    )
    if isinstance(value, tuple):  # (mi, log) or (mi, estimator, log) depending on flags
        value = value[0]
    if isinstance(value, dict):
        value = next(iter(value.values()))
    return {
        "estimate": float(value), "stderr": float("nan"), "n_train": int(len(train_rows)), "n_test": int(n_test),
        "readout": f"torch-mist {name}", "best_step": -1, "steps_run": -1, "diverged": not np.isfinite(float(value)),
        "stop_reason": "", "train_seconds": time.perf_counter() - started,
    }
