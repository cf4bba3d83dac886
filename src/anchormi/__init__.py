"""anchormi: mutual-information estimation with InfoNCE-anchor and the proper-scoring-rule family.

>>> import anchormi as ami
>>> r = ami.estimate(x, y)          # doctest: +SKIP
>>> r.mi, r.bits, r.ci, r.stderr    # doctest: +SKIP
"""

from . import critics, objectives, readouts
from .api import estimate, methods
from .classical import gaussian as gaussian_mi, ksg
from .critics import make_critic
from .estimator import MIEstimator
from .result import MIResult
from .runtime import DivergenceWarning

__version__ = "0.1.0"

__all__ = [
    "estimate", "methods", "MIEstimator", "MIResult", "DivergenceWarning",
    "objectives", "critics", "readouts", "tasks", "make_critic", "ksg", "gaussian_mi",
]


def __getattr__(name: str):
    # tasks is imported lazily so that `import anchormi` stays light (digits pulls in sklearn data).
    if name == "tasks":
        import importlib

        return importlib.import_module(".tasks", __name__)
    raise AttributeError(f"module 'anchormi' has no attribute {name!r}")
