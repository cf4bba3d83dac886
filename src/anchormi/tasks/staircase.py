"""The staircase schedule (Song & Ermon 2020): the true MI steps up every ``steps_per_level`` steps."""

from __future__ import annotations

from numbers import Integral
from typing import Sequence

from ._arguments import check_positive_int, check_positive_real
from .interface import Task
from .registry import get


class Staircase:
    """A piecewise-constant MI schedule over training steps.

    Step s (0-based) belongs to level s // steps_per_level; its true MI is ``levels[that level]`` nats.

    Attributes:
        levels: tuple of MI values in nats, one per level, in schedule order.
        steps_per_level: training steps spent on each level.
        n_steps: total steps, len(levels) * steps_per_level.
    """

    def __init__(self, levels: Sequence[float], steps_per_level: int) -> None:
        if isinstance(levels, (str, bytes)) or not hasattr(levels, "__len__") or len(levels) == 0:
            raise ValueError(
                f"levels={levels!r} is invalid: pass a non-empty sequence of MI values in nats, e.g. (2, 4, 6, 8, 10)."
            )
        self.levels = tuple(
            check_positive_real(level, f"levels[{index}]", "each MI level in nats", "levels=(2, 4, 6, 8, 10)")
            for index, level in enumerate(levels)
        )
        self.steps_per_level = check_positive_int(
            steps_per_level, "steps_per_level", "the number of steps per level", "steps_per_level=4000"
        )
        # Tasks are cached per (level, family, dim) so a training loop can call task_at every step.
        self._tasks: dict[tuple[int, str, int], Task] = {}

    @property
    def n_steps(self) -> int:
        """Total number of steps in the schedule."""
        return len(self.levels) * self.steps_per_level

    def level_index(self, step: int) -> int:
        """Index into ``levels`` of 0-based ``step``; raises ValueError outside 0..n_steps-1."""
        if not isinstance(step, Integral) or isinstance(step, bool) or not 0 <= step < self.n_steps:
            raise ValueError(
                f"step={step!r} is invalid: pass an integer in 0..{self.n_steps - 1} "
                f"(the schedule has n_steps={self.n_steps})."
            )
        return int(step) // self.steps_per_level

    def mi_at(self, step: int) -> float:
        """True MI in nats at 0-based ``step``."""
        return self.levels[self.level_index(step)]

    def task_at(self, step: int, family: str = "gaussian", dim: int = 20) -> Task:
        """The task for ``step``'s level: ``get(family, dim=dim, mi=mi_at(step))``.

        ``family`` is any registry family built from (dim, mi), e.g. "gaussian" or "cubic".
        """
        key = (self.level_index(step), family, dim)
        if key not in self._tasks:
            self._tasks[key] = get(family, dim=dim, mi=self.levels[key[0]])
        return self._tasks[key]

    def __repr__(self) -> str:
        return f"Staircase(levels={self.levels}, steps_per_level={self.steps_per_level})"


def staircase(levels: Sequence[float] = (2, 4, 6, 8, 10), steps_per_level: int = 4000) -> Staircase:
    """The classic schedule: MI 2 -> 4 -> 6 -> 8 -> 10 nats, 4,000 steps each (20,000 in total)."""
    return Staircase(levels, steps_per_level)
