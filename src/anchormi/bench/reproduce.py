"""The study's MI-estimation experiments as sweep configurations (docs/method.md section 10).

- ``staircase_config``: the streaming staircase of Song & Ermon (2020). X, Y in R^20, correlated
  Gaussians and the cubic variant; MI 2 -> 4 -> 6 -> 8 -> 10 nats, 4,000 steps each; batch 64,
  Adam lr 5e-4; separable and joint critics (2 hidden layers of 256, embedding 32); every
  estimator of the family and the baselines.
- ``images_config``: same-class digit-image pairs, k = 1..4 independent slots, I = k H(C) from
  about 2.3 to 9.2 nats; fixed-N runs through ``anchormi.estimate`` with its defaults (its critic
  too: a sweep without a critics axis runs the estimator's default critic).

``quick=True`` gives CI-sized versions (seconds to about a minute on 2 cores).
Measured cost with one torch thread per cell (2-core machine, ms per training step at B=64, d=20):
see ``docs/bench.md``; the full staircase takes about 75 min and the full images run about
30 min with 2 worker processes.
"""

from __future__ import annotations

from .config import SweepConfig

# Every estimator of docs/method.md: the anchor, its special cases and the bound baselines.
STUDY_OBJECTIVES = ("anchor", "infonce", "nwj", "dv", "mine", "smile", "js", "nce", "chi2")
# The library's anchor uses nu = 16 (benchmarks/README.md); the study's own setting is nu = 1.
STUDY_METHODS = (*STUDY_OBJECTIVES, "anchor:nu=1")
STAIRCASE_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)


def staircase_config(quick: bool = False, steps_per_level: int | None = None) -> SweepConfig:
    """The staircase protocol; quick: separable critic only, 100 steps per level.

    ``steps_per_level`` overrides the protocol's 4,000 (quick: 100); the title states the count.
    """
    steps = steps_per_level if steps_per_level is not None else (100 if quick else 4000)
    return SweepConfig(
        title=f"Staircase reproduction (streaming, Song & Ermon 2020 protocol), {steps} steps per level"
        + (" (quick)" if quick else ""),
        mode="stream",
        tasks=["gaussian:dim=20", "cubic:dim=20"],
        methods=list(STUDY_METHODS),
        critics=["separable"] if quick else ["separable", "joint"],
        seeds=[0],
        levels=list(STAIRCASE_LEVELS),
        steps_per_level=steps,
        burn_in=0.5,
        # The paper's critic: two 256-wide layers, a 32-d embedding and no linear shortcut.
        estimator={"batch_size": 64, "lr": 5e-4, "hidden": [256, 256], "embed_dim": 32, "shortcut": False},
        out="reproduce_output/staircase" + ("-quick" if quick else ""),
    )


def images_config(quick: bool = False) -> SweepConfig:
    """Digits k = 1..4 through ``anchormi.estimate``; quick: N=2,000, 300 steps, one seed.

    The closed-form Gaussian estimator is included as a classical reference. KSG is left out by
    default: at N = 10,000 and 256 dimensions one call takes over ten minutes (add it with
    ``--methods``).
    """
    return SweepConfig(
        title="Images reproduction (same-class digit pairs, I = k H(C))" + (" (quick)" if quick else ""),
        mode="fixed",
        tasks=["digits:k=[1,2,3,4]"],
        methods=[*STUDY_METHODS, "gaussian"],
        seeds=[0] if quick else [0, 1, 2],
        n=[2000] if quick else [10000],
        estimator={"max_steps": 300} if quick else {},
        out="reproduce_output/images" + ("-quick" if quick else ""),
    )
