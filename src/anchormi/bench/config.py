"""A sweep's configuration, from command-line flags or a TOML file, and the cells it expands to.

TOML keys are the ``SweepConfig`` field names; shared estimator arguments go in an [estimator] table:

    title = "Gaussian vs cubic, three MI values"
    mode = "fixed"                          # or "stream" (the staircase protocol)
    tasks = ["gaussian:dim=20,mi=[2,6,10]", "cubic:dim=20,mi=6"]
    methods = ["anchor", "infonce", "ksg", {name = "anchor", rule = "brier"}]
    critics = ["separable"]
    seeds = [0, 1, 2]
    n = [2000, 10000]
    levels = [2, 4, 6, 8, 10]              # stream mode: MI per level (nats)
    steps_per_level = 4000                  # stream mode
    burn_in = 0.5                           # stream mode: share of each level left out of the summary
    out = "bench_output"
    format = "parquet"                      # or "csv"

    [estimator]                             # anchormi.MIEstimator arguments shared by every cell
    batch_size = 128
    max_steps = 3000
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..classical import CLASSICAL
from .cells import NOT_APPLICABLE, Cell
from .specs import expand_lists, spec_from_entry

# Set per cell, never shared: the critic and seed are sweep axes, progress is off in workers.
RESERVED_ESTIMATOR_KEYS = ("objective", "critic", "seed", "progress")
DEFAULT_TASKS = {"fixed": ["gaussian:dim=20,mi=[2,6,10]"], "stream": ["gaussian:dim=20"]}
def default_critic() -> str:
    """The estimator's default critic (``anchormi.critics.DEFAULT_CRITIC``), imported only when a
    sweep is built, so that reading a configuration or ``--help`` does not load torch."""
    from ..critics import DEFAULT_CRITIC

    return DEFAULT_CRITIC


DEFAULT_METHODS = {"fixed": ["anchor", "infonce", "nwj", "smile", "ksg"], "stream": ["anchor", "infonce", "nwj", "smile"]}


@dataclass
class SweepConfig:
    """What to run. ``tasks`` and ``methods`` hold spec strings or (name, params) tables; None
    picks the mode's defaults (``DEFAULT_TASKS``, ``DEFAULT_METHODS``)."""

    tasks: list[Any] | None = None  # None: DEFAULT_TASKS[mode]
    methods: list[Any] | None = None  # None: DEFAULT_METHODS[mode]
    mode: str = "fixed"
    critics: list[str] = field(default_factory=lambda: [default_critic()])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    n: list[int] = field(default_factory=lambda: [5000])
    estimator: dict[str, Any] = field(default_factory=dict)
    levels: list[float] = field(default_factory=lambda: [2.0, 4.0, 6.0, 8.0, 10.0])
    steps_per_level: int = 4000
    burn_in: float = 0.5
    title: str = "anchormi bench"
    out: str = "bench_output"
    format: str = "parquet"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "SweepConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; valid keys are {sorted(known)}.")
        return cls(**data)

    def replace(self, **changes: Any) -> "SweepConfig":
        """A copy with the given fields changed; None values are ignored (unset flags)."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # ---- validation and expansion -----------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError naming the field for anything that cannot run; expand nothing yet."""
        if self.mode not in ("fixed", "stream"):
            raise ValueError(f"mode={self.mode!r} is invalid; pass 'fixed' (N samples) or 'stream' (staircase).")
        if self.format not in ("parquet", "csv"):
            raise ValueError(f"format={self.format!r} is invalid; pass 'parquet' or 'csv'.")
        for name, values in (("seeds", self.seeds), ("critics", self.critics), ("tasks", self.task_entries()),
                             ("methods", self.method_entries())):
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"{name}={values!r} is invalid; pass a non-empty list.")
        if any(not isinstance(seed, int) or isinstance(seed, bool) or seed < 0 for seed in self.seeds):
            raise ValueError(f"seeds={self.seeds!r} is invalid; pass non-negative integers.")
        if self.mode == "fixed" and (not self.n or any(not isinstance(n, int) or n < 1 for n in self.n)):
            raise ValueError(f"n={self.n!r} is invalid; pass positive sample sizes, e.g. n=[5000].")
        if self.mode == "stream":
            if not self.levels or any(not isinstance(v, (int, float)) or v <= 0 for v in self.levels):
                raise ValueError(f"levels={self.levels!r} is invalid; pass positive MI values in nats, e.g. [2, 4, 6, 8, 10].")
            if not isinstance(self.steps_per_level, int) or self.steps_per_level < 1:
                raise ValueError(f"steps_per_level={self.steps_per_level!r} is invalid; pass a positive integer.")
            if not 0 <= self.burn_in < 1:
                raise ValueError(f"burn_in={self.burn_in!r} is invalid; pass a fraction in [0, 1).")
        self._check_estimator()

    def _check_estimator(self) -> None:
        from ..estimator import MIEstimator

        valid = set(MIEstimator().get_params())
        for key in self.estimator:
            if key in RESERVED_ESTIMATOR_KEYS:
                raise ValueError(f"estimator.{key} is set per cell; use the sweep's own option (critics, seeds) instead.")
            if key not in valid:
                raise ValueError(f"estimator.{key} is not an MIEstimator argument; valid: {sorted(valid - set(RESERVED_ESTIMATOR_KEYS))}.")

    def task_entries(self) -> list[Any]:
        return list(self.tasks) if self.tasks is not None else DEFAULT_TASKS.get(self.mode, [])

    def method_entries(self) -> list[Any]:
        return list(self.methods) if self.methods is not None else DEFAULT_METHODS.get(self.mode, [])

    def method_specs(self) -> list[tuple[str, dict[str, Any]]]:
        from ..api import methods

        known = methods()
        specs = [spec_from_entry(entry, "method", ("name", "method")) for entry in self.method_entries()]
        for name, params in specs:
            if name not in known:
                raise ValueError(f"method {name!r} is unknown; choose from {sorted(known)} (see `anchormi objectives`).")
            if self.mode == "stream" and name in CLASSICAL:
                raise ValueError(
                    f"method {name!r} has no streaming mode (it trains nothing); run it in a fixed-N sweep (mode='fixed')."
                )
        return specs

    def task_specs(self) -> list[tuple[str, dict[str, Any]]]:
        from .. import tasks

        specs = []
        for entry in self.task_entries():
            name, params = spec_from_entry(entry, "task", ("family", "name", "task"))
            for expanded in expand_lists(params):
                if self.mode == "stream":
                    if set(expanded) - {"dim"}:
                        raise ValueError(
                            f"task {entry!r}: a streaming task takes only dim (the MI comes from levels); "
                            f"got {sorted(expanded)}."
                        )
                    expanded.setdefault("dim", 20)
                    tasks.get(name, dim=expanded["dim"], mi=float(self.levels[0]))  # fail early on bad families
                else:
                    tasks.get(name, **expanded)
                specs.append((name, expanded))
        return specs

    def cells(self) -> list[Cell]:
        """Every cell of the sweep, deduplicated, in a stable order (tasks, methods, critics, n, seeds)."""
        self.validate()
        estimator = dict(self.estimator)
        cells: dict[str, Cell] = {}
        for task, task_params in self.task_specs():
            for method, method_params in self.method_specs():
                trains = method not in CLASSICAL
                for critic in (self.critics if trains else [NOT_APPLICABLE]):
                    for n in (self.n if self.mode == "fixed" else [None]):
                        for seed in self.seeds:
                            cell = Cell(
                                kind=self.mode, task=task, task_params=task_params, method=method,
                                method_params=method_params, critic=critic, seed=int(seed), n=n,
                                estimator=estimator if trains else {},
                                levels=[float(v) for v in self.levels] if self.mode == "stream" else None,
                                steps_per_level=int(self.steps_per_level) if self.mode == "stream" else None,
                            )
                            cells.setdefault(cell.key, cell)
        return list(cells.values())


def load_toml(path: str | Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def load_config(path: str | Path) -> SweepConfig:
    """Read a TOML sweep configuration (see the module docstring for the keys)."""
    return SweepConfig.from_dict(load_toml(path), source=str(path))
