"""anchormi.classical: argument checks, threads, and honest warnings of KSG and the Gaussian closed form."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from anchormi import classical
from anchormi.classical import CLASSICAL, gaussian, ksg


def _independent(n: int, dim_x: int, dim_y: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim_x)), rng.standard_normal((n, dim_y))


def _messages(caught) -> str:
    return " | ".join(str(w.message) for w in caught)


@pytest.mark.parametrize(("kwargs", "name"), [({"k": "3"}, "k="), ({"n_neighbors": "3"}, "n_neighbors="),
                                              ({"n_neighbors": 2.5}, "n_neighbors="), ({"n_neighbors": 0}, "n_neighbors="),
                                              ({"n_neighbors": True}, "n_neighbors="), ({"n_jobs": 0}, "n_jobs=")])
def test_ksg_rejects_bad_counts_with_a_value_error_naming_the_argument(kwargs, name):
    x, y = _independent(100, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match=name):
            ksg(x, y, **kwargs)


def test_ksg_k_is_a_deprecated_name_of_n_neighbors():
    x, y = _independent(300, 1, 1)
    y = y + x
    with pytest.warns(DeprecationWarning, match="n_neighbors"):
        old = ksg(x, y, k=5)
    new = ksg(x, y, n_neighbors=5)
    assert old.mi == new.mi and new.info["n_neighbors"] == 5
    assert new.mi != ksg(x, y, n_neighbors=3).mi
    with pytest.raises(ValueError, match="disagree"), pytest.warns(DeprecationWarning):
        ksg(x, y, n_neighbors=4, k=5)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ksg_uses_one_thread_unless_asked(monkeypatch):
    assert inspect.signature(ksg).parameters["n_jobs"].default == 1
    seen = []
    real_tree = classical.cKDTree

    class RecordingTree(real_tree):
        def query(self, *args, **kwargs):
            seen.append(kwargs.get("workers"))
            return super().query(*args, **kwargs)

        def query_ball_point(self, *args, **kwargs):
            seen.append(kwargs.get("workers"))
            return super().query_ball_point(*args, **kwargs)

    monkeypatch.setattr(classical, "cKDTree", RecordingTree)
    x, y = _independent(200, 2, 2)
    assert ksg(x, y).info["n_jobs"] == 1 and seen == [1] * 5  # the k-NN query, then counts and repeats in x and y
    seen.clear()
    ksg(x, y, n_jobs=-1)
    assert seen == [-1] * 5


def test_bench_cells_pass_one_thread_to_ksg():
    from anchormi.bench import SweepConfig
    from anchormi.bench.cells import _classical_kwargs

    cell = SweepConfig(tasks=["gaussian:dim=2,mi=0.5"], methods=["ksg"], seeds=[4], n=[100]).cells()[0]
    assert _classical_kwargs(cell) == {"seed": 4, "n_jobs": 1}


def test_ksg_warns_exactly_when_its_estimate_is_negative():
    negative = 0
    for seed in range(12):
        x, y = _independent(200, 1, 1, seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = ksg(x, y, seed=seed)
        says_negative = "true MI is >= 0" in _messages(caught)
        assert says_negative == (result.mi < 0), (seed, result.mi, _messages(caught))
        negative += result.mi < 0
    assert negative > 0  # independent data at N = 200: some estimates fall below 0


def test_ksg_warns_when_ties_set_its_neighbour_counts():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2_000, 1))
    y = x + 0.5 * rng.normal(size=(2_000, 1))
    for decimals, expected in ((None, False), (2, False), (1, True), (0, True)):
        x_data, y_data = (x, y) if decimals is None else (np.round(x, decimals), np.round(y, decimals))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ksg(x_data, y_data)
        assert ("repeated values make up at least half" in _messages(caught)) == expected, (decimals, _messages(caught))
    # Class labels against continuous features: only y's counts are ties, and the message says so.
    labels = rng.integers(0, 10, size=2_000)
    features = rng.normal(size=(2_000, 3)) + 0.8 * labels[:, None]
    with pytest.warns(UserWarning, match=r"neighbour counts of \d+% of the points in y \(.*method='discrete'"):
        ksg(features, labels)
    # A discrete z alone stratifies the conditional counts: no warning.
    z = rng.integers(0, 3, size=2_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ksg(x, y + z[:, None], z=z)
    assert "repeated values" not in _messages(caught)


def test_ksg_warns_when_n_is_small_for_the_dimension():
    x, y = _independent(60, 5, 5)  # 60 < 10 x 10
    with pytest.warns(UserWarning, match="small for 10 dimensions"):
        ksg(x + 0.0, y + x)
    x, y = _independent(400, 1, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ksg(x, y + x)
    assert "small for" not in _messages(caught)


def test_gaussian_refuses_n_not_above_the_total_dimension():
    x, y = _independent(300, 250, 250)
    with pytest.raises(ValueError, match=r"N > dim_x \+ dim_y \+ 1.*N = 300.*500") as error:
        gaussian(x, y)
    assert "collinear" not in str(error.value)
    x, y = _independent(12, 5, 5)  # N = d + 2: defined, but biased, so it warns
    with pytest.raises(ValueError):
        gaussian(x[:11], y[:11])  # N = d + 1
    with pytest.warns(UserWarning, match="biased upward"):
        gaussian(x, y)


def test_gaussian_warns_below_ten_samples_per_dimension_only():
    x, y = _independent(800, 50, 50)  # independent: the truth is 0; the plug-in lands near d^2/(2N) and above
    with pytest.warns(UserWarning, match="biased upward") as caught:
        result = gaussian(x, y)
    assert result.mi > 1.5 and "1.56 nats" in _messages(caught)
    x, y = _independent(2_000, 10, 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gaussian(x, y)
    assert not caught


def test_classical_names_have_one_home():
    from anchormi import methods
    from anchormi.bench import SweepConfig, config

    assert {"ksg", "gaussian"} <= set(CLASSICAL) and {"ksg", "gaussian"} <= set(methods())
    assert config.CLASSICAL is CLASSICAL
    for name in ("ksg", "gaussian"):
        with pytest.raises(ValueError, match="no streaming mode"):
            SweepConfig(mode="stream", methods=[name]).cells()


def test_smile_tau_has_one_home():
    from anchormi.objectives import bounds

    assert bounds.SMILE_TAU == 5.0
    assert inspect.signature(bounds.smile_bound).parameters["tau"].default is bounds.SMILE_TAU
