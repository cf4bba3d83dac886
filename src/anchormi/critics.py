"""Critics c(x, y) -> R, read as log density ratios. Each gives the score matrix and its diagonal.

Every critic offers:
- ``pairwise(x, y)``: S[i, j] = c(x_i, y_j), shape (B, B), joint pairs on the diagonal;
- ``pointwise(x, y)``: c(x_i, y_i), shape (B,), which is all the plug-in readout needs (O(B)).
``forward`` is ``pairwise``.
"""

from __future__ import annotations

import copy
import warnings
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F


ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def mlp(dim_in: int, hidden: Sequence[int], dim_out: int, activation: str = "softplus") -> nn.Sequential:
    """Multilayer perceptron dim_in -> hidden... -> dim_out (no activation on the output).

    Softplus is the default: log ratios of smooth densities are smooth (quadratic for Gaussians),
    and on d=20 Gaussians at 2 nats it reached 2.02 / 2.10 nats where ReLU stopped at 1.79
    (benchmarks/README.md).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is unknown; choose one of {sorted(ACTIVATIONS)}.")
    layers: list[nn.Module] = []
    width = dim_in
    for size in hidden:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, dim_out))
    return nn.Sequential(*layers)


class Critic(nn.Module):
    """Base class: subclasses implement ``pairwise`` and ``pointwise``."""

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.pairwise(x, y)


# The bounds a separable critic's embeddings can take (``SeparableCritic(bounded=...)``).
BOUNDS = ("tanh", "algebraic")
# log s at initialisation of the bounded critics' learned scale (s = e).
INITIAL_LOG_SCALE = 1.0


def bounded_embedding(embedding: torch.Tensor, log_scale: torch.Tensor, bound: str = "tanh") -> torch.Tensor:
    """The bounded separable critics' embedding, each coordinate squashed into (-s, s) with
    s = exp(log_scale) (``log_scale`` broadcast against ``embedding``; one per stacked member in
    ``StackedCritic``): s * tanh(e) for ``"tanh"``, s * e / sqrt(1 + e^2) for ``"algebraic"``.
    Both are s * e near 0; the algebraic one approaches s as s - s / (2 e^2) rather than
    exponentially, so a far-out coordinate keeps a gradient (benchmarks/README.md, "A softer
    bound")."""
    if bound == "algebraic":
        return embedding * (log_scale.exp() / torch.sqrt(1.0 + embedding.square()))
    return torch.tanh(embedding) * log_scale.exp()


def auto_embed_dim(dim_x: int, dim_y: int) -> int:
    """Embedding size of the separable critic: the smaller input dimension, between 32 and 128.

    f(x)^T g(y) has rank at most the embedding size, and a Gaussian log ratio's cross term x^T A y
    has the rank of the cross-covariance, up to min(dim_x, dim_y). On a development Gaussian with
    d = 50 at 4 nats, 32 dimensions held the estimate at 2.2-2.4 nats (benchmarks/README.md).
    """
    return int(min(max(32, min(dim_x, dim_y)), 128))


class SeparableCritic(Critic):
    """c(x, y) = f(x)^T g(y) with two MLP encoders: S costs two encoder passes and one matmul.

    With ``shortcut`` each encoder also adds a linear map of its input to the embedding,
    f(x) = mlp(x) + W x, as a residual block does: linear dependence spread over many
    coordinates is learnt directly instead of through two nonlinear layers. It is off by default:
    it lifted a d = 50 Gaussian at 4 nats from 2.33 to 3.80 nats, but lowered high-MI Gaussians
    at d <= 10 and digit images (benchmarks/README.md). ``embed_dim=None`` picks
    :func:`auto_embed_dim`.

    With ``bounded`` (True or "tanh": ``make_critic("bounded", ...)``; "algebraic":
    ``make_critic("soft_bounded", ...)``) each embedding coordinate is squashed into (-s, s)
    (:func:`bounded_embedding`) with one learned scale s = exp(log_scale), so |c(x, y)| <=
    s^2 * embed_dim however far out x and y lie: the unbounded product grows with both
    embeddings' norms and over-scored the most dependent pairs of heavy-tailed data
    (benchmarks/tail_errors.py). Off by default. The scale starts at s = exp(initial_log_scale):
    e (:data:`INITIAL_LOG_SCALE`, the value the log-score default was measured with), or 1, where
    the bounded embedding starts as the unbounded one and scores start near 0, which losses whose
    gradient vanishes at saturated scores need (``objectives.trains_from_large_scores``).

    Shape:
        x: (B, dim_x), y: (B, dim_y) -> pairwise (B, B), pointwise (B,).
    """

    # Set per instance; this class value is read only by critics pickled before the attribute
    # existed, when a learned scale always meant tanh.
    bound: str | None = "tanh"

    def __init__(self, dim_x: int, dim_y: int, hidden: Sequence[int] = (128, 128), embed_dim: int | None = 32,
                 activation: str = "softplus", shortcut: bool = False, bounded: bool | str | None = False,
                 initial_log_scale: float = INITIAL_LOG_SCALE):
        super().__init__()
        embed_dim = auto_embed_dim(dim_x, dim_y) if embed_dim is None else embed_dim
        self.encoder_x = mlp(dim_x, hidden, embed_dim, activation)
        self.encoder_y = mlp(dim_y, hidden, embed_dim, activation)
        self.shortcut_x = nn.Linear(dim_x, embed_dim, bias=False) if shortcut else None
        self.shortcut_y = nn.Linear(dim_y, embed_dim, bias=False) if shortcut else None
        # bounded: each embedding squashed into (-s, s), with one learned log s for both sides.
        bound = "tanh" if bounded is True else bounded or None
        if bound is not None and bound not in BOUNDS:
            raise ValueError(f"bounded={bounded!r} is unknown; pass False or None (unbounded), True (tanh) or one of {list(BOUNDS)}.")
        self.bound = bound
        self.log_scale = nn.Parameter(torch.full((), float(initial_log_scale))) if bound else None

    def _bound(self, embedding: torch.Tensor) -> torch.Tensor:
        log_scale = getattr(self, "log_scale", None)  # None too in critics pickled before it existed
        return embedding if log_scale is None else bounded_embedding(embedding, log_scale, self.bound)

    def embed_x(self, x: torch.Tensor) -> torch.Tensor:
        return self._bound(self.encoder_x(x) if self.shortcut_x is None else self.encoder_x(x) + self.shortcut_x(x))

    def embed_y(self, y: torch.Tensor) -> torch.Tensor:
        return self._bound(self.encoder_y(y) if self.shortcut_y is None else self.encoder_y(y) + self.shortcut_y(y))

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.embed_x(x) @ self.embed_y(y).t()

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.embed_x(x) * self.embed_y(y)).sum(-1)


class JointCritic(Critic):
    """c(x, y) = MLP([x, y]) over all B^2 pairs, with the first layer factorised.

    W [x; y] + b = (W_x x + b) + W_y y, so the first layer costs O(B) matrix products and one
    broadcast add instead of a (B^2, dim_x + dim_y) product; later layers see all B^2 pairs.

    Shape:
        x: (B, dim_x), y: (B, dim_y) -> pairwise (B, B), pointwise (B,).
    """

    def __init__(self, dim_x: int, dim_y: int, hidden: Sequence[int] = (128, 128), activation: str = "softplus"):
        super().__init__()
        if len(hidden) < 1:
            raise ValueError("hidden must list at least one layer width for the joint critic.")
        self.first_x = nn.Linear(dim_x, hidden[0])
        self.first_y = nn.Linear(dim_y, hidden[0], bias=False)
        self.rest = nn.Sequential(ACTIVATIONS[activation](), mlp(hidden[0], hidden[1:], 1, activation))

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hidden = self.first_x(x)[:, None, :] + self.first_y(y)[None, :, :]  # (B, B, H), row i = x_i
        return self.rest(hidden).squeeze(-1)

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.rest(self.first_x(x) + self.first_y(y)).squeeze(-1)


class BilinearCritic(Critic):
    """c(x, y) = x^T W y + b: the linear-Gaussian-style critic, fast and low-variance but limited.

    Shape:
        x: (B, dim_x), y: (B, dim_y) -> pairwise (B, B), pointwise (B,).
    """

    def __init__(self, dim_x: int, dim_y: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim_x, dim_y))
        self.bias = nn.Parameter(torch.zeros(()))

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x @ self.weight @ y.t() + self.bias

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((x @ self.weight) * y).sum(-1) + self.bias


class CosineCritic(Critic):
    """c(x, y) = cos(f(x), g(y)) / temperature, the SimCLR critic; bounded in [-1/t, 1/t].

    ``encoder_x`` and ``encoder_y`` are any modules mapping a batch to (B, D) features; with
    ``encoder_y=None`` the two views share one encoder (Siamese, as in SimCLR). ``tau`` is the
    deprecated name of ``temperature`` (kept for one release).

    Shape:
        x, y: (B, ...) inputs of the encoders -> pairwise (B, B), pointwise (B,).
    """

    def __init__(self, encoder_x: nn.Module, encoder_y: nn.Module | None = None, temperature: float = 0.1, tau: float | None = None):
        super().__init__()
        if tau is not None:
            warnings.warn("CosineCritic(tau=...) is deprecated; pass temperature=... instead.", DeprecationWarning, stacklevel=2)
            temperature = tau
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f"temperature={temperature!r} is invalid; pass a temperature > 0, e.g. 0.1.")
        self.encoder_x = encoder_x
        self.encoder_y = encoder_x if encoder_y is None else encoder_y
        self.temperature = float(temperature)

    def _embed(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.normalize(self.encoder_x(x), dim=-1), F.normalize(self.encoder_y(y), dim=-1)

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        embedded_x, embedded_y = self._embed(x, y)
        return embedded_x @ embedded_y.t() / self.temperature

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        embedded_x, embedded_y = self._embed(x, y)
        return (embedded_x * embedded_y).sum(-1) / self.temperature


CRITICS = ("separable", "joint", "bilinear", "cosine", "bounded", "soft_bounded")
# The critic MIEstimator builds when none is named; the reproductions that run "the default"
# (images, pair scoring, sweeps without a critics axis) follow it.
DEFAULT_CRITIC = "soft_bounded"
# The names that build a SeparableCritic, and the bound of each (None: unbounded embeddings).
SEPARABLE_CRITICS = {"separable": None, "bounded": "tanh", "soft_bounded": "algebraic"}


def make_critic(
    name: str,
    dim_x: int,
    dim_y: int,
    hidden: Sequence[int] = (128, 128),
    embed_dim: int | None = None,
    temperature: float = 0.1,
    activation: str = "softplus",
    shortcut: bool = False,
    initial_log_scale: float = INITIAL_LOG_SCALE,
) -> Critic:
    """Build a critic by name for inputs of dim_x and dim_y features.

    ``embed_dim=None`` is :func:`auto_embed_dim` for the separable critic and 32 for the cosine
    one; ``shortcut`` adds the separable critic's linear input-to-embedding maps;
    ``initial_log_scale`` starts the bounded critics' learned scale (the others have none).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is unknown; choose one of {sorted(ACTIVATIONS)}.")
    if name in SEPARABLE_CRITICS:
        return SeparableCritic(dim_x, dim_y, hidden, embed_dim, activation, shortcut=shortcut, bounded=SEPARABLE_CRITICS[name],
                               initial_log_scale=initial_log_scale)
    if name == "joint":
        return JointCritic(dim_x, dim_y, hidden, activation)
    if name == "bilinear":
        return BilinearCritic(dim_x, dim_y)
    if name == "cosine":
        embed_dim = 32 if embed_dim is None else embed_dim
        return CosineCritic(mlp(dim_x, hidden, embed_dim, activation), mlp(dim_y, hidden, embed_dim, activation), temperature=temperature)
    raise ValueError(f"critic={name!r} is unknown; choose one of {list(CRITICS)} or pass an nn.Module critic.")


class StackedCritic(nn.Module):
    """F independent critics of one architecture trained as one model: their weights are stacked
    along a leading member axis, so one optimiser step trains all of them with batched matrix
    products (cross-fitting folds, seeds).

    Members that are plain :class:`SeparableCritic` s run their stacked layers directly as
    ``torch.baddbmm``; any other critic goes through ``torch.func.vmap`` of ``functional_call``,
    whose dispatch made a default five-member step about 13 % slower (5.15 against 4.57 ms;
    benchmarks/speed.py). Both paths keep the same parameters, in the same layout.

    Shape:
        x: (F, B, dim_x), y: (F, B, dim_y) -> pairwise (F, B, B), pointwise (F, B).
    """

    def __init__(self, critics: Sequence[nn.Module]):
        super().__init__()
        if len(critics) < 1:
            raise ValueError("StackedCritic needs at least one critic.")
        self.n_members = len(critics)
        if self.n_members == 1:
            # One member needs no vmap (which costs ~40 % of a small step): call it directly.
            self.single = critics[0]
            return
        self.single = None
        self._batched = all(type(critic) is SeparableCritic for critic in critics)
        wrapped = [_Dispatch(critic) for critic in critics]
        params, buffers = torch.func.stack_module_state(wrapped)
        # The template holds the architecture only; its own tensors live on the meta device.
        self._template = [copy.deepcopy(wrapped[0]).to("meta")]
        self._param_names = list(params)
        self._buffer_names = list(buffers)
        for index, name in enumerate(self._param_names):
            tensor = params[name].detach().clone()
            if self._batched and tensor.ndim == 3:
                # A stacked Linear weight (F, out, in) is held in (F, in, out) memory, the layout
                # of the product's weight gradient: autograd then keeps that gradient as it is
                # instead of copying it into (F, out, in) order every step (3-5 % of a
                # five-member step, the same values bit for bit: benchmarks/speed.py's layout
                # section).
                tensor = tensor.transpose(1, 2).contiguous().transpose(1, 2)
            self.register_parameter(f"p{index}", nn.Parameter(tensor))
        for index, name in enumerate(self._buffer_names):
            self.register_buffer(f"b{index}", buffers[name].detach().clone())

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {name: getattr(self, f"p{index}") for index, name in enumerate(self._param_names)}
        buffers = {name: getattr(self, f"b{index}") for index, name in enumerate(self._buffer_names)}
        return params, buffers

    def _call(self, method: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.single is not None:
            return getattr(self.single, method)(x[0], y[0]).unsqueeze(0)
        template = self._template[0]
        if self._batched:
            return self._separable(template.inner, method, x, y)

        def one(params, buffers, x_member, y_member):
            return torch.func.functional_call(template, (params, buffers), (x_member, y_member), {"method": method})

        return torch.func.vmap(one)(*self._state(), x, y)

    def _separable(self, template: SeparableCritic, method: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Stacked separable members without vmap: each Linear is one batched product."""
        params = self._state()[0]

        def embed(side: str, inputs: torch.Tensor) -> torch.Tensor:
            hidden = inputs
            for index, layer in enumerate(getattr(template, f"encoder_{side}")):
                if isinstance(layer, nn.Linear):
                    weight = params[f"inner.encoder_{side}.{index}.weight"].transpose(1, 2)  # (F, in, out)
                    bias = params.get(f"inner.encoder_{side}.{index}.bias")
                    hidden = torch.bmm(hidden, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), hidden, weight)
                else:
                    hidden = layer(hidden)  # an activation: elementwise, no state
            if getattr(template, f"shortcut_{side}") is not None:
                hidden = hidden + torch.bmm(inputs, params[f"inner.shortcut_{side}.weight"].transpose(1, 2))
            if getattr(template, "log_scale", None) is not None:
                hidden = bounded_embedding(hidden, params["inner.log_scale"][:, None, None], template.bound)
            return hidden

        embedded_x, embedded_y = embed("x", x), embed("y", y)
        if method == "pairwise":
            return torch.bmm(embedded_x, embedded_y.transpose(1, 2))
        return (embedded_x * embedded_y).sum(-1)

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._call("pairwise", x, y)

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._call("pointwise", x, y)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.pairwise(x, y)

    def unstack(self) -> list[nn.Module]:
        """F ordinary critics holding the current weights of each member (on this module's device)."""
        if self.single is not None:
            return [copy.deepcopy(self.single).eval()]
        params, buffers = self._state()
        members = []
        for member in range(self.n_members):
            critic = copy.deepcopy(self._template[0]).to_empty(device=next(iter(params.values())).device)
            state = {name: tensor[member].detach().clone() for name, tensor in {**params, **buffers}.items()}
            critic.load_state_dict(state)
            members.append(critic.inner.eval())
        return members


class _Dispatch(nn.Module):
    """Routes functional_call to any critic's pairwise or pointwise (forward takes the method name)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, y: torch.Tensor, method: str = "pairwise") -> torch.Tensor:
        return getattr(self.inner, method)(x, y)


class FiniteSupportCritic(Critic):
    """A trained critic renormalised exactly over a discrete variable's finite support.

    When one variable takes few values s_1..s_C with probabilities p_c, the true log ratio obeys
    sum_c p_c r(x, s_c) = 1 for every x (and likewise with the roles swapped). This wrapper
    enforces it: c'(x, y) = c(x, y) - log sum_c p_c exp(c(x, s_c) - offset) when ``side="y"`` (the
    support is of y), and the mirror image for ``side="x"``. It removes any error of the
    critic that depends on the other variable only, so the pointwise values never exceed
    -log p(value) and the plug-in never exceeds the plug-in entropy of the discrete variable.

    Args:
        critic: the trained critic (``pairwise`` / ``pointwise``).
        support: (C, dim) the distinct values of the discrete variable, as the critic sees them.
        log_prob: (C,) their log frequencies in the training rows.
        side: "y" or "x", which variable ``support`` belongs to.
        offset: the objective's log-ratio offset (c = log r + offset at the optimum); the output
            keeps it, so readouts subtract it as for any critic.

    Shape: as the wrapped critic; the normaliser costs one (B, C) score block.
    """

    def __init__(self, critic: nn.Module, support: torch.Tensor, log_prob: torch.Tensor, side: str = "y", offset: float = 0.0):
        super().__init__()
        if side not in ("x", "y"):
            raise ValueError(f"side={side!r} is invalid; pass 'x' or 'y'.")
        self.inner = critic
        self.side = side
        self.offset = float(offset)
        self.register_buffer("support", support.detach().clone())
        self.register_buffer("log_prob", log_prob.detach().clone())

    def _normaliser(self, other: torch.Tensor) -> torch.Tensor:
        """log sum_c p_c exp c(., s_c) for each row of the other variable. Shape: (B,)."""
        if self.side == "y":
            scores = self.inner.pairwise(other, self.support)  # (B, C)
        else:
            scores = self.inner.pairwise(self.support, other).t()  # (B, C)
        return torch.logsumexp(scores + self.log_prob, dim=-1) - self.offset

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        scores = self.inner.pairwise(x, y)
        if self.side == "y":
            return scores - self._normaliser(x)[:, None]
        return scores - self._normaliser(y)[None, :]

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        scores = self.inner.pointwise(x, y)
        return scores - self._normaliser(x if self.side == "y" else y)
