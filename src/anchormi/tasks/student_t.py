"""Multivariate Student-t pairs: heavy tails, and MI in closed form.

(X, Y) ~ t_dof(0, Sigma) jointly, with dispersion (not covariance) matrix Sigma. Then

    I(X; Y) = I_gauss(Sigma) + c(dof, dim_x, dim_y),

where I_gauss(Sigma) = 1/2 (log det Sigma_xx + log det Sigma_yy - log det Sigma) is the MI of a
Gaussian with covariance Sigma, and the correction c >= 0 depends only on dof and the dimensions:
c = h(dim_x) + h(dim_y) - h(dim_x + dim_y), with h(k) the differential entropy of the standard
k-variate t_dof (Arellano-Valle, Contreras-Reyes & Genton 2013, eq. 7; used this way by the
"Beyond normal" benchmark, Czyz et al. 2023). Because the marginals of a multivariate t are t with
the same dof and the dispersion sub-blocks, and h(t_dof(0, S)) = h(k) + 1/2 log det S, the log det
terms assemble into I_gauss and the rest is c. Tests check the sum against Monte Carlo.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy.special import digamma, gammaln

from ._arguments import check_positive_int, check_positive_real, format_number
from .interface import Task


def standard_student_t_entropy(dim: int, dof: float) -> float:
    """Differential entropy in nats of the standard dim-variate Student-t with ``dof`` degrees of freedom.

    h = log Gamma(dof/2) - log Gamma((dof+dim)/2) + dim/2 log(dof pi)
        + (dof+dim)/2 [psi((dof+dim)/2) - psi(dof/2)].
    """
    half_sum = 0.5 * (dof + dim)
    half_dof = 0.5 * dof
    return float(
        gammaln(half_dof)
        - gammaln(half_sum)
        + 0.5 * dim * math.log(dof * math.pi)
        + half_sum * (digamma(half_sum) - digamma(half_dof))
    )


def student_t_mi_correction(dof: float, dim_x: int, dim_y: int) -> float:
    """The non-Gaussian part of the Student-t MI, in nats (>= 0; -> 0 as dof -> infinity).

    Equals log G(v/2) + log G((v+m+n)/2) - log G((v+m)/2) - log G((v+n)/2)
    + (v+m)/2 psi((v+m)/2) + (v+n)/2 psi((v+n)/2) - (v+m+n)/2 psi((v+m+n)/2) - v/2 psi(v/2)
    with v = dof, m = dim_x, n = dim_y, G = Gamma.
    """
    return (
        standard_student_t_entropy(dim_x, dof)
        + standard_student_t_entropy(dim_y, dof)
        - standard_student_t_entropy(dim_x + dim_y, dof)
    )


def paired_rho_for_mi(mi: float, dim: int, dof: float) -> float:
    """The ``rho`` of :func:`student_t` (dim_x = dim_y = ``dim``) whose total MI is ``mi`` nats.

    The tail part :func:`student_t_mi_correction` is fixed by ``dof`` and ``dim``; each of the
    ``dim`` pairs carries -1/2 log(1 - rho^2) of the rest. An ``mi`` at or below the tail part
    gives rho = 0, whose MI is the tail part alone.
    """
    gaussian_part = mi - student_t_mi_correction(dof, dim, dim)
    return math.sqrt(-math.expm1(-2.0 * gaussian_part / dim)) if gaussian_part > 0 else 0.0


def gaussian_mi_of_dispersion(dispersion: np.ndarray, dim_x: int) -> float:
    """MI in nats of a Gaussian with covariance ``dispersion`` (shape (dim_x+dim_y, dim_x+dim_y))."""
    log_det_joint = np.linalg.slogdet(dispersion)[1]
    log_det_x = np.linalg.slogdet(dispersion[:dim_x, :dim_x])[1]
    log_det_y = np.linalg.slogdet(dispersion[dim_x:, dim_x:])[1]
    return float(0.5 * (log_det_x + log_det_y - log_det_joint))


def paired_dispersion(dim_x: int, dim_y: int, rho: float) -> np.ndarray:
    """Identity dispersion plus ``rho`` between x_k and y_k for k < min(dim_x, dim_y).

    Returns shape (dim_x + dim_y, dim_x + dim_y); its Gaussian MI is -min(dim_x, dim_y)/2 log(1 - rho^2).
    """
    dispersion = np.eye(dim_x + dim_y)
    for k in range(min(dim_x, dim_y)):
        dispersion[k, dim_x + k] = dispersion[dim_x + k, k] = rho
    return dispersion


class StudentTTask(Task):
    """(X, Y) jointly multivariate Student-t with ``dof`` degrees of freedom and dispersion Sigma.

    Sampled as (x, y) = z / sqrt(w / dof), with z ~ N(0, Sigma) and w ~ chi^2(dof) shared by x and y;
    the shared scale w is what makes X and Y dependent even when Sigma is block-diagonal.

    Attributes:
        dispersion: Sigma, shape (dim_x + dim_y, dim_x + dim_y).
        dof: degrees of freedom (> 0).
        mi_gaussian: I_gauss(Sigma) in nats.
        mi_correction: c(dof, dim_x, dim_y) in nats.
    Samples: x of shape (n, dim_x), y of shape (n, dim_y), float64.
    """

    def __init__(self, dim_x: int, dim_y: int, dof: float, dispersion: np.ndarray, label: str) -> None:
        self.dispersion = dispersion
        self.dof = dof
        self.mi_gaussian = gaussian_mi_of_dispersion(dispersion, dim_x)
        self.mi_correction = student_t_mi_correction(dof, dim_x, dim_y)
        super().__init__(
            name=f"student-t-dx{dim_x}-dy{dim_y}-dof{format_number(dof)}-{label}",
            dim_x=dim_x,
            dim_y=dim_y,
            mi=self.mi_gaussian + self.mi_correction,
        )
        self._cholesky = np.linalg.cholesky(dispersion)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        gaussian_part = rng.standard_normal((n, self.dim_x + self.dim_y)) @ self._cholesky.T
        chi_square = rng.chisquare(self.dof, size=n)
        joint = gaussian_part / np.sqrt(chi_square / self.dof)[:, None]
        return joint[:, : self.dim_x], joint[:, self.dim_x :]


def student_t(
    dim_x: int = 2,
    dim_y: int = 2,
    dof: float = 3.0,
    rho: float | None = None,
    dispersion: np.ndarray | None = None,
) -> StudentTTask:
    """Multivariate Student-t pairs with exact MI = I_gauss(dispersion) + c(dof, dim_x, dim_y) nats.

    Give at most one of:
        rho: correlation in (-1, 1) of each dispersion pair (x_k, y_k), k < min(dim_x, dim_y);
            other entries as the identity. Default when neither is given: rho = 0.5.
        dispersion: a symmetric positive-definite matrix of shape (dim_x + dim_y, dim_x + dim_y).

    Args:
        dim_x, dim_y: dimensions of x and y (>= 1).
        dof: degrees of freedom (> 0); heavier tails for smaller dof.
    """
    dim_x = check_positive_int(dim_x, "dim_x", "the dimension of x", "dim_x=2")
    dim_y = check_positive_int(dim_y, "dim_y", "the dimension of y", "dim_y=2")
    dof = check_positive_real(dof, "dof", "the degrees of freedom", "dof=3.0")
    if rho is not None and dispersion is not None:
        raise ValueError("got both rho and dispersion; pass only one of them to specify the dependence.")
    if dispersion is None:
        rho = 0.5 if rho is None else rho
        if not (isinstance(rho, Real) and not isinstance(rho, bool) and -1.0 < float(rho) < 1.0):
            raise ValueError(
                f"rho={rho!r} is invalid: the dispersion correlation must lie in (-1, 1); pass e.g. rho=0.5."
            )
        dispersion_matrix = paired_dispersion(dim_x, dim_y, float(rho))
        return StudentTTask(dim_x, dim_y, dof, dispersion_matrix, f"rho{format_number(float(rho))}")
    return StudentTTask(dim_x, dim_y, dof, _check_dispersion(dispersion, dim_x + dim_y), "custom")


def _check_dispersion(dispersion: object, dim_total: int) -> np.ndarray:
    matrix = np.array(dispersion, dtype=np.float64)
    if matrix.shape != (dim_total, dim_total):
        raise ValueError(
            f"dispersion has shape {matrix.shape}; pass a ({dim_total}, {dim_total}) matrix, "
            "i.e. (dim_x + dim_y) square."
        )
    if not np.all(np.isfinite(matrix)) or not np.allclose(matrix, matrix.T):
        raise ValueError("dispersion must be finite and symmetric; pass (S + S.T) / 2 of a finite matrix S.")
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ValueError(
            "dispersion is not positive definite; pass a matrix with all eigenvalues > 0 "
            "(e.g. add a multiple of the identity)."
        ) from None
    return matrix
