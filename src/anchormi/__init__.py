"""anchormi: mutual-information estimation with InfoNCE-anchor and the proper-scoring-rule family.

>>> import anchormi as ami
>>> r = ami.estimate(x, y)          # doctest: +SKIP
>>> r.mi, r.bits, r.ci, r.stderr    # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0.dev0"

__all__ = [
    "estimate", "methods", "MIEstimator", "MIResult", "DivergenceWarning",
    "objectives", "critics", "readouts", "tasks", "make_critic", "ksg", "gaussian_mi",
]

# Public name -> (module, attribute); attribute None means the module itself. Every name is
# imported on first use, so `import anchormi` (and `anchormi --help`) does not pay for torch,
# scipy and pandas until something needs them.
_LAZY: dict[str, tuple[str, str | None]] = {
    "estimate": (".api", "estimate"),
    "methods": (".api", "methods"),
    "MIEstimator": (".estimator", "MIEstimator"),
    "MIResult": (".result", "MIResult"),
    "DivergenceWarning": (".runtime", "DivergenceWarning"),
    "make_critic": (".critics", "make_critic"),
    "ksg": (".classical", "ksg"),
    "gaussian_mi": (".classical", "gaussian"),
    "objectives": (".objectives", None),
    "critics": (".critics", None),
    "readouts": (".readouts", None),
    "tasks": (".tasks", None),
}

if TYPE_CHECKING:  # static analysers and IDEs see the real names
    from . import critics, objectives, readouts, tasks
    from .api import estimate, methods
    from .classical import gaussian as gaussian_mi, ksg
    from .critics import make_critic
    from .estimator import MIEstimator
    from .result import MIResult
    from .runtime import DivergenceWarning


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'anchormi' has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
