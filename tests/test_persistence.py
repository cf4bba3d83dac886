"""anchormi.persistence: a fitted MIEstimator survives save/load (and pickle) with identical output,
and damaged or foreign files fail with a ValueError that says what to do."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

import anchormi
from anchormi import MIEstimator, tasks
from anchormi.critics import DEFAULT_CRITIC, make_critic
from anchormi.persistence import FORMAT, load_estimator, save_estimator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"hidden": (8,), "embed_dim": 4, "max_steps": 30, "n_permutations": 0, "progress": False}


def _data(seed: int, n: int = 400):
    return tasks.gaussian(dim=2, mi=0.5).sample(n, seed=seed)


@pytest.fixture(scope="module", params=[1, 2], ids=["folds1", "folds2"])
def fitted(request):
    x, y = _data(0)
    return MIEstimator(folds=request.param, **TINY).fit(x, y)


def _assert_same_output(original, restored, *arrays):
    np.testing.assert_array_equal(restored.pmi(*arrays), original.pmi(*arrays))
    a, b = original.estimate(*arrays), restored.estimate(*arrays)
    assert (a.mi, a.stderr, a.n_test, a.readout, a.objective) == (b.mi, b.stderr, b.n_test, b.readout, b.objective)


def test_round_trip_gives_identical_pmi_and_estimate_on_new_data(fitted, tmp_path):
    path = save_estimator(fitted, tmp_path / "model.pt")
    restored = load_estimator(path)
    assert isinstance(restored, MIEstimator) and restored is not fitted
    _assert_same_output(fitted, restored, *_data(1, n=300))
    assert restored.get_params() == fitted.get_params()
    assert len(restored.critics_) == len(fitted.critics_) == fitted.folds
    probe = _data(5, n=50)[0]
    for original, loaded in zip(fitted.scalers_, restored.scalers_):
        for a, b in zip(original, loaded):
            np.testing.assert_array_equal(a.transform(probe), b.transform(probe))
    pd.testing.assert_frame_equal(restored.history_, fitted.history_)
    result, loaded = fitted.result_, restored.result_
    assert (loaded.mi, loaded.stderr, loaded.ci, loaded.ci_method, loaded.p_value, loaded.quantity) == (
        result.mi, result.stderr, result.ci, result.ci_method, result.p_value, result.quantity)
    assert loaded.diagnostics.keys() == result.diagnostics.keys()
    assert all(loaded.diagnostics[k].status == result.diagnostics[k].status for k in result.diagnostics)
    assert loaded.info == result.info
    if result.folds is not None:
        pd.testing.assert_frame_equal(loaded.folds, result.folds)
    assert restored.objective_ is fitted.objective_  # the registry row, looked up by name
    # and the loaded estimator saves again to an equivalent file
    _assert_same_output(fitted, load_estimator(save_estimator(restored, tmp_path / "again.pt")), *_data(2, n=300))


def test_the_file_holds_plain_data_only_and_names_its_format(fitted, tmp_path):
    path = save_estimator(fitted, tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)  # refuses anything but plain data and tensors
    assert payload["format"] == FORMAT and payload["anchormi_version"] == anchormi.__version__
    assert payload["params"]["critic"] == DEFAULT_CRITIC and payload["fitted"]["objective"] == "anchor"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_pickle_round_trips(fitted):
    restored = pickle.loads(pickle.dumps(fitted))
    _assert_same_output(fitted, restored, *_data(3, n=300))


def test_conditional_and_streamed_estimators_round_trip(tmp_path):
    task = tasks.chain(dim_x=2, dim_y=2, dim_z=2, mi=0.5)
    x, y, z = task.sample(400, seed=0)
    conditional = MIEstimator(**TINY).fit(x, y, z)
    restored = load_estimator(save_estimator(conditional, tmp_path / "conditional.pt"))
    assert restored.conditional_ and len(restored.critics_z_) == len(conditional.critics_z_) == 5
    _assert_same_output(conditional, restored, *task.sample(300, seed=1))

    streamed = MIEstimator(hidden=(8,), embed_dim=4, progress=False).fit_stream(lambda step, rng: _data(step, n=32), 20)
    restored = load_estimator(save_estimator(streamed, tmp_path / "streamed.pt"))
    assert restored.scalers_[0][0].mean_ is None  # identity scalers stay identity
    assert restored.stream_history_ is restored.history_
    _assert_same_output(streamed, restored, *_data(4, n=300))


def test_normal_scores_marginals_round_trip(tmp_path):
    x, y = _data(0)
    estimator = MIEstimator(marginals="normal_scores", **TINY).fit(x, y)
    restored = load_estimator(save_estimator(estimator, tmp_path / "model.pt"))
    quantiles = restored.scalers_[0][0].steps[0][1]
    np.testing.assert_array_equal(quantiles.quantiles_, estimator.scalers_[0][0].steps[0][1].quantiles_)
    _assert_same_output(estimator, restored, *_data(5, n=300))


def test_a_user_module_critic_is_refused_with_the_alternatives(tmp_path):
    x, y = _data(0)
    estimator = MIEstimator(critic=make_critic("bilinear", 2, 2), **TINY).fit(x, y)
    with pytest.raises(ValueError, match=r"critic is a user-supplied nn.Module.*pickle"):
        save_estimator(estimator, tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()
    with pytest.raises(NotFittedError):
        save_estimator(MIEstimator(), tmp_path / "model.pt")


def test_corrupt_and_foreign_files_raise_a_value_error_saying_what_to_do(fitted, tmp_path):
    good = save_estimator(fitted, tmp_path / "good.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good[: len(good) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(2_000))
    for path in (truncated, garbage):
        with pytest.raises(ValueError, match=r"corrupt or truncated.*save_estimator"):
            load_estimator(path)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not an anchormi estimator file"):
        load_estimator(foreign)
    code = tmp_path / "code.pt"
    torch.save({"magic": "anchormi-estimator", "module": torch.nn.Linear(2, 2)}, code)
    with pytest.raises(ValueError, match="objects other than plain data"):
        load_estimator(code)
    with pytest.raises(FileNotFoundError):
        load_estimator(tmp_path / "missing.pt")


def _rewrite(path, edit):
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    return path


def test_another_format_number_is_refused_naming_both_versions(fitted, tmp_path):
    path = save_estimator(fitted, tmp_path / "model.pt")
    _rewrite(path, lambda payload: payload.update(format=FORMAT + 1, anchormi_version="9.9.9"))
    with pytest.raises(ValueError, match=rf"format {FORMAT + 1} by anchormi 9\.9\.9.*reads format {FORMAT}.*anchormi 9\.9\.9"):
        load_estimator(path)


def test_damaged_contents_are_a_value_error(fitted, tmp_path):
    path = save_estimator(fitted, tmp_path / "model.pt")
    _rewrite(path, lambda payload: payload["fitted"]["critics_"][0]["state_dict"].popitem())
    with pytest.raises(ValueError, match="damaged"):
        load_estimator(path)
