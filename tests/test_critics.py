"""The separable critic's linear shortcut, embedding size and bounded embeddings."""

import numpy as np
import pytest
import torch

import anchormi as ami
from anchormi.critics import SeparableCritic, StackedCritic, auto_embed_dim, bounded_embedding, make_critic
from anchormi.diagnostics import permuted_log_ratios


@pytest.mark.parametrize("dims, expected", [((5, 5), 32), ((50, 20), 32), ((50, 60), 50), ((256, 256), 128), ((1, 300), 32)])
def test_embedding_is_the_smaller_dimension_between_32_and_128(dims, expected):
    assert auto_embed_dim(*dims) == expected
    assert make_critic("separable", *dims).encoder_x[-1].out_features == expected
    assert make_critic("cosine", *dims).encoder_x[-1].out_features == 32


def test_shortcut_is_off_unless_asked_for():
    assert make_critic("separable", 50, 50).shortcut_x is None
    assert make_critic("separable", 50, 50, shortcut=True).shortcut_x.out_features == 50


def test_shortcut_represents_a_bilinear_cross_term_exactly():
    # With the MLP outputs switched off, c(x, y) = (W_x x)^T (W_y y) = x^T W_x^T W_y y: the full-rank
    # cross term of a Gaussian log ratio, available without any nonlinear layer.
    torch.manual_seed(0)
    critic = SeparableCritic(6, 6, hidden=(8,), embed_dim=6, shortcut=True)
    for encoder in (critic.encoder_x, critic.encoder_y):
        torch.nn.init.zeros_(encoder[-1].weight)
        torch.nn.init.zeros_(encoder[-1].bias)
    x, y = torch.randn(10, 6), torch.randn(10, 6)
    cross = critic.shortcut_x.weight.T @ critic.shortcut_y.weight
    torch.testing.assert_close(critic.pairwise(x, y), x @ cross @ y.T)
    torch.testing.assert_close(critic.pointwise(x, y), torch.diagonal(x @ cross @ y.T))


def test_without_shortcut_the_critic_is_the_plain_mlp_product():
    critic = SeparableCritic(3, 4, hidden=(8,), embed_dim=5, shortcut=False)
    assert critic.shortcut_x is None and critic.shortcut_y is None
    x, y = torch.randn(7, 3), torch.randn(7, 4)
    torch.testing.assert_close(critic.pairwise(x, y), critic.encoder_x(x) @ critic.encoder_y(y).T)


def test_stacked_and_permuted_scores_use_the_whole_embedding():
    torch.manual_seed(1)
    members = [SeparableCritic(4, 4, hidden=(8,), embed_dim=5, shortcut=True) for _ in range(2)]
    x, y = torch.randn(2, 6, 4), torch.randn(2, 6, 4)
    stacked = StackedCritic(members).pairwise(x, y)
    for index, member in enumerate(members):
        torch.testing.assert_close(stacked[index], member.pairwise(x[index], y[index]))
    permutations = torch.stack([torch.randperm(6) for _ in range(3)])
    permuted = permuted_log_ratios(members[0], x[0], y[0], 0.5, permutations)
    expected = np.stack([(members[0].pointwise(x[0], y[0][perm]) - 0.5).detach().numpy() for perm in permutations])
    np.testing.assert_allclose(permuted, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shortcut, bounded", [(False, False), (True, False), (False, True), (True, True), (False, "algebraic"), (True, "algebraic")])
def test_stacked_separable_members_match_their_own_scores_and_gradients(shortcut, bounded):
    # The batched (baddbmm) path must be the members' own function, value and gradient alike.
    torch.manual_seed(2)
    members = [SeparableCritic(3, 5, hidden=(8, 6), embed_dim=4, shortcut=shortcut, bounded=bounded) for _ in range(3)]
    if bounded:  # each member its own scale, so a path that read one member's for all would fail
        with torch.no_grad():
            for index, member in enumerate(members):
                member.log_scale.fill_(0.5 * index - 0.3)
    stacked = StackedCritic(members)
    assert stacked._batched
    x, y = torch.randn(3, 7, 3), torch.randn(3, 7, 5)
    pairwise, pointwise = stacked.pairwise(x, y), stacked.pointwise(x, y)
    (pairwise.square().sum() + pointwise.sum()).backward()
    for index, member in enumerate(members):
        torch.testing.assert_close(pairwise[index], member.pairwise(x[index], y[index]))
        torch.testing.assert_close(pointwise[index], member.pointwise(x[index], y[index]))
        (member.pairwise(x[index], y[index]).square().sum() + member.pointwise(x[index], y[index]).sum()).backward()
    for position, (name, _) in enumerate(stacked._template[0].named_parameters()):
        stacked_grad = getattr(stacked, f"p{position}").grad
        for index, member in enumerate(members):
            torch.testing.assert_close(stacked_grad[index], dict(member.named_parameters())[name.removeprefix("inner.")].grad)


def test_stacked_members_trained_by_one_optimiser_follow_their_own_training():
    # The stacked weights are held transposed in memory (their gradients' layout); an optimiser
    # stepping the stacked model must still move each member exactly as it moves that member
    # alone, and unstack, state_dict and load_state_dict must hand the weights over unchanged.
    from anchormi.trainer import TrainConfig, make_optimizer

    torch.manual_seed(6)
    members = [make_critic("soft_bounded", 3, 4, hidden=(8, 6), embed_dim=5) for _ in range(3)]
    stacked = StackedCritic(members)
    assert any(p.ndim == 3 and not p.is_contiguous() for p in stacked.parameters())
    config = TrainConfig(max_steps=1, lr=1e-2)
    optimisers = [make_optimizer(stacked, config)] + [make_optimizer(member, config) for member in members]
    for _ in range(5):
        x, y = torch.randn(3, 9, 3), torch.randn(3, 9, 4)
        y[..., :3] += x
        for optimiser in optimisers:
            optimiser.zero_grad()
        stacked.pairwise(x, y).square().mean(dim=(1, 2)).sum().backward()
        for index, member in enumerate(members):
            member.pairwise(x[index], y[index]).square().mean().backward()
        for optimiser in optimisers:
            optimiser.step()
    x, y = torch.randn(3, 7, 3), torch.randn(3, 7, 4)
    for index, (member, unstacked) in enumerate(zip(members, stacked.unstack())):
        torch.testing.assert_close(unstacked.pairwise(x[index], y[index]), member.pairwise(x[index], y[index]))
    copy = StackedCritic([make_critic("soft_bounded", 3, 4, hidden=(8, 6), embed_dim=5) for _ in range(3)])
    copy.load_state_dict(stacked.state_dict())
    assert torch.equal(copy.pairwise(x, y), stacked.pairwise(x, y))


@pytest.mark.parametrize("name, squash", [("bounded", torch.tanh), ("soft_bounded", lambda e: e / torch.sqrt(1 + e * e))])
def test_bounded_embeddings_cap_every_score_at_the_learned_scale(name, squash):
    # c(x, y) = s^2 h(f(x))^T h(g(y)) with h into (-1, 1): at most s^2 D in size, however far out
    # x and y lie, where the plain product of the same encoders grows without bound.
    torch.manual_seed(4)
    critic = make_critic(name, 3, 3, hidden=(16,), embed_dim=6)
    plain = SeparableCritic(3, 3, hidden=(16,), embed_dim=6)
    plain.load_state_dict({k: v for k, v in critic.state_dict().items() if k != "log_scale"})
    with torch.no_grad():
        critic.log_scale.fill_(0.7)
    x, y = torch.randn(50, 3) * 1e3, torch.randn(50, 3) * 1e3
    ceiling = float(critic.log_scale.detach().exp() ** 2 * 6)
    assert critic.pairwise(x, y).abs().max() <= ceiling * (1 + 1e-6)  # float32 rounding of the product
    assert plain.pairwise(x, y).abs().max() > 10 * ceiling
    expected = squash(plain.embed_x(x)) @ squash(plain.embed_y(y)).T * critic.log_scale.exp() ** 2
    torch.testing.assert_close(critic.pairwise(x, y), expected)
    assert make_critic("separable", 3, 3).log_scale is None


def test_a_bounded_critic_pickled_before_it_named_its_bound_still_scores_with_tanh():
    # Critics saved when tanh was the only bound carry a learned scale but no ``bound``; the two
    # scoring paths (one critic, and the stacked folds) must both read them as tanh.
    import pickle

    torch.manual_seed(5)
    current = make_critic("bounded", 3, 4, hidden=(8,), embed_dim=5)
    old = pickle.loads(pickle.dumps(current))
    del old.__dict__["bound"]
    x, y = torch.randn(7, 3), torch.randn(7, 4)
    torch.testing.assert_close(old.pairwise(x, y), current.pairwise(x, y))
    stacked_old, stacked_current = StackedCritic([old, old]), StackedCritic([current, current])
    torch.testing.assert_close(stacked_old.pairwise(torch.stack([x, x]), torch.stack([y, y])),
                               stacked_current.pairwise(torch.stack([x, x]), torch.stack([y, y])))
    assert make_critic("soft_bounded", 3, 4).bound == "algebraic" and make_critic("separable", 3, 4).bound is None


def test_the_algebraic_bound_keeps_a_gradient_where_tanh_has_none():
    # Far out (e = 20) tanh's slope is about 2e-17 (0 in float32), the algebraic one's
    # (1 + e^2)^(-3/2) = 1.2e-4: a coordinate pushed into saturation can still be pulled back.
    embedding = torch.full((1, 1), 20.0, requires_grad=True)
    slopes = {}
    for bound in ("tanh", "algebraic"):
        (gradient,) = torch.autograd.grad(bounded_embedding(embedding, torch.zeros(()), bound).sum(), embedding)
        slopes[bound] = float(gradient)
    assert slopes["tanh"] < 1e-15
    assert slopes["algebraic"] == pytest.approx((1 + 20.0**2) ** -1.5, rel=1e-5)


def test_an_unknown_bound_is_a_value_error():
    with pytest.raises(ValueError, match="bounded='cubic'"):
        SeparableCritic(2, 2, bounded="cubic")


def test_stacked_other_critics_take_the_vmap_path():
    torch.manual_seed(3)
    members = [make_critic("joint", 2, 2, hidden=(6,)) for _ in range(2)]
    stacked = StackedCritic(members)
    assert not stacked._batched
    x, y = torch.randn(2, 5, 2), torch.randn(2, 5, 2)
    for index, member in enumerate(members):
        torch.testing.assert_close(stacked.pairwise(x, y)[index], member.pairwise(x[index], y[index]))


@pytest.mark.parametrize("critic, bound", [("bounded", "tanh"), ("soft_bounded", "algebraic")])
def test_saved_estimator_keeps_the_shortcut_the_bounded_scale_and_the_automatic_embedding(tmp_path, critic, bound):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 40))
    y = x + rng.standard_normal((400, 40))
    est = ami.MIEstimator(max_steps=20, hidden=(8,), folds=2, n_permutations=0, progress=False, shortcut=True,
                          critic=critic).fit(x, y)
    assert est.critics_[0].shortcut_x.out_features == 40
    assert est.critics_[0].log_scale is not None and est.critics_[0].log_scale != est.critics_[1].log_scale
    est.save(tmp_path / "model.pt")
    loaded = ami.MIEstimator.load(tmp_path / "model.pt")
    assert [member.bound for member in loaded.critics_] == [bound, bound]
    np.testing.assert_allclose(loaded.pmi(x[:50], y[:50]), est.pmi(x[:50], y[:50]), rtol=1e-6)
