"""Training objectives: pure functions of the score matrix S[i, j] = c(x_i, y_j), and their registry.

``available()`` lists them; ``get(name)`` returns the registry row; ``objective_loss(name, S, **p)``
evaluates one with its defaults.
"""

from .bounds import dv_bound, dv_loss, infonce_bound, mine_loss, nwj_bound, nwj_loss, off_diagonal, smile_bound
from .contrastive import anchor_loss, column_negatives, infonce_loss, nce_loss
from .fdiv import GENERATORS, chi2_loss, fdiv_loss
from .registry import Objective, available, get, member_losses, objective_loss, register, trains_from_large_scores
from .scoring_rules import RULES, brier_score, get_rule, log_score, pseudo_spherical_score, spherical_score

__all__ = [
    "Objective", "available", "get", "member_losses", "objective_loss", "register", "trains_from_large_scores",
    "anchor_loss", "infonce_loss", "nce_loss", "column_negatives",
    "nwj_loss", "dv_loss", "mine_loss", "chi2_loss", "fdiv_loss", "GENERATORS",
    "nwj_bound", "dv_bound", "infonce_bound", "smile_bound", "off_diagonal",
    "RULES", "get_rule", "log_score", "brier_score", "spherical_score", "pseudo_spherical_score",
]
