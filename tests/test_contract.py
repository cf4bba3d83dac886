"""The promises of the estimator contract: scikit-learn compatibility, no global state touched,
device-safe readouts, finite weights after divergence, honest errors instead of silent clipping."""

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import anchormi as ami
from anchormi.readouts import heldout_readout

SMALL = {"max_steps": 40, "hidden": (16,), "embed_dim": 4, "batch_size": 32, "n_permutations": 0}


def data(n=400, seed=0, dim=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    return x, x + rng.standard_normal((n, dim))


def test_clone_copies_parameters_and_not_fitted_state():
    estimator = ami.MIEstimator(nu=4.0, seed=3, **{**SMALL, "hidden": (8, 8)})
    estimator.fit(*data())
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params()
    assert not hasattr(copy, "result_") and hasattr(estimator, "result_")


def test_use_before_fit_raises_sklearns_not_fitted_error():
    with pytest.raises(NotFittedError):
        ami.MIEstimator().pmi(*data(10))


def test_no_fitted_attribute_is_set_when_the_data_are_invalid():
    estimator = ami.MIEstimator(**SMALL)
    x, y = data()
    x[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimator.fit(x, y)
    assert [name for name in vars(estimator) if name.endswith("_")] == []


@pytest.mark.parametrize("params,message", [
    ({"seed": 1.5}, "seed=1.5 is invalid: it must be an integer >= 0."),
    ({"rule": "pseudo spherical"}, "one of 'log', 'brier', 'spherical', 'pseudo_spherical'"),
    ({"lr": -1.0}, "lr=-1.0 is invalid: it must be a finite number > 0."),
])
def test_constraint_messages_are_human_readable(params, message):
    with pytest.raises(ValueError) as info:
        ami.MIEstimator(**params).fit(*data())
    assert message in str(info.value) and "<lambda>" not in str(info.value) and "optional" not in str(info.value)


def test_numpy_integers_are_accepted_where_ints_are_expected():
    result = ami.MIEstimator(**{**SMALL, "batch_size": np.int64(32), "max_steps": np.int32(20)}, seed=np.int64(2)).fit(*data()).result_
    assert result.info["batch_size"] == 32


def test_fit_leaves_the_callers_global_rng_alone():
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    ami.MIEstimator(**SMALL).fit(*data())
    assert torch.equal(torch.rand(3), expected)


def test_fit_restores_the_callers_thread_count():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        estimator = ami.MIEstimator(**SMALL, n_threads=1).fit(*data())
        assert torch.get_num_threads() == 2 and estimator.n_threads_ == 1
    finally:
        torch.set_num_threads(previous)


class NoFloat64Tensor(torch.Tensor):
    """Stands in for an Apple MPS tensor: widening to float64 before moving to the CPU fails."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.double,) and isinstance(args[0], NoFloat64Tensor):
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64.")
        result = super().__torch_function__(func, types, args, kwargs or {})
        if func is torch.Tensor.cpu:
            return result.as_subclass(torch.Tensor)
        return result


class DeviceStubCritic(torch.nn.Module):
    def pointwise(self, x, y):
        return (x * y).sum(-1).as_subclass(NoFloat64Tensor)

    def pairwise(self, x, y):
        return (x @ y.t()).as_subclass(NoFloat64Tensor)


def test_readouts_move_to_the_cpu_before_widening_to_float64():
    x, y = (torch.as_tensor(a, dtype=torch.float32) for a in data(64))
    with pytest.raises(TypeError, match="float64"):
        (x.sum(-1).as_subclass(NoFloat64Tensor)).double()  # the stub does fail like MPS
    value = heldout_readout(DeviceStubCritic(), x, y, "plugin", 0.0, 16)
    assert value.estimate == pytest.approx(float((x * y).sum(-1).double().mean()), rel=1e-6)


def test_streaming_divergence_keeps_finite_weights_that_gave_a_finite_loss():
    # NWJ on raw cubic data at lr 1e-2 overflows exp(c) within a few dozen steps with the unbounded
    # critic (the default's bounded embeddings cap the score, so it is named here).
    rng = np.random.default_rng(0)

    def sample(index, generator):
        x = generator.standard_normal((128, 20))
        return x, (0.95 * x + 0.31 * generator.standard_normal((128, 20))) ** 3

    with pytest.warns(ami.DivergenceWarning, match="last weights with a finite loss"):
        estimator = ami.MIEstimator(objective="nwj", critic="separable", lr=1e-2, n_permutations=0).fit_stream(sample, 400)
    assert estimator.diverged_
    assert all(torch.isfinite(p).all() for p in estimator.critic_.parameters())
    x, y = (np.concatenate(parts) for parts in zip(*(sample(0, rng) for _ in range(4))))
    # The kept weights gave a finite training loss, so their readout and PMI are finite too.
    assert np.isfinite(estimator.estimate(x, y).mi) and np.isfinite(estimator.pmi(x, y)).all()


def test_plot_after_streaming_and_without_touching_the_backend(tmp_path):
    backend = matplotlib.get_backend()

    def sample(index, generator):
        x = generator.standard_normal((32, 2))
        return x, x + generator.standard_normal((32, 2))

    estimator = ami.MIEstimator(**SMALL).fit_stream(sample, 30)
    x, y = sample(0, np.random.default_rng(1))
    ax = estimator.estimate(x, y).plot(path=str(tmp_path / "curve.png"), truth=0.5)
    assert (tmp_path / "curve.png").stat().st_size > 0 and matplotlib.get_backend() == backend
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("training-batch estimate" in label for label in labels)
    assert not any("loss" in label for label in labels)


def test_tuple_size_larger_than_the_batch_allows_is_an_error_not_a_silent_cap():
    with pytest.raises(ValueError, match="k=40 needs batches of at least 41 pairs"):
        ami.MIEstimator(**{**SMALL, "k": 40}).fit(*data())


def test_bound_readout_without_two_held_out_batches_is_an_error():
    with pytest.raises(ValueError, match="at least 2 held-out batches"):
        ami.MIEstimator(**{**SMALL, "objective": "infonce", "batch_size": 64}).fit(*data(300))


def test_old_keywords_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="smile_tau"):
        result = ami.MIEstimator(**{**SMALL, "objective": "smile", "tau": 2.0}).fit(*data(600)).result_
    assert result.info["readout_params"]["tau"] == 2.0
    with pytest.warns(DeprecationWarning, match="generator"):
        result = ami.MIEstimator(**{**SMALL, "objective": "fdiv", "f": "chi2"}).fit(*data()).result_
    assert result.info["loss_params"]["generator"] == "chi2"


def test_repr_is_short():
    result = ami.MIEstimator(**SMALL).fit(*data()).result_
    assert len(repr(result)) < 200 and "train_loss" not in repr(result)


def test_estimate_rejects_unknown_keywords_with_a_value_error():
    with pytest.raises(ValueError, match="batch_size is not a parameter of method='ksg'"):
        ami.estimate(*data(), method="ksg", batch_size=64)
    with pytest.raises(ValueError, match="r.bits is bits"):
        ami.estimate(*data(), units="bits")


def test_explicit_cuda_on_a_machine_without_it_is_a_value_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA device"):
        ami.MIEstimator(**SMALL, device="cuda").fit(*data())
