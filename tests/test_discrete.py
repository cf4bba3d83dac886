"""Discrete tasks (class label, joint table) and the Miller-Madow plug-in ``discrete_mi``.

Statistical checks use fixed seeds and 4 standard errors (p < 1e-4 per check for a correct formula).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp

import anchormi.tasks as tasks
from anchormi.classical import CLASSICAL, discrete_mi
from anchormi.tasks.discrete import class_label_mi, table_mi
from anchormi.tasks.interface import Task

N_STDERR = 4.0


# ---- class label ---------------------------------------------------------------------------------


def _binary_entropy(p: float) -> float:
    return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)


def test_class_label_mi_matches_quadrature_for_two_classes():
    # C = 2: p(0 | x) = sigmoid(a (x_0 - x_1)), and given Y = 0, x_0 - x_1 ~ N(a, 2), so
    # I = log 2 - E[h(sigmoid(a D))], D ~ N(a, 2): a one-dimensional integral.
    separation = 1.5
    density = stats.norm(loc=separation, scale=math.sqrt(2.0))
    conditional_entropy, _ = integrate.quad(
        lambda d: density.pdf(d) * _binary_entropy(1.0 / (1.0 + math.exp(-separation * d))), -30, 30, epsabs=1e-13
    )
    exact = math.log(2.0) - conditional_entropy
    mi, stderr = class_label_mi(2, separation)
    assert 0 < stderr < 1e-3
    assert abs(mi - exact) <= N_STDERR * stderr, f"Monte Carlo {mi:.6f} vs quadrature {exact:.6f} (stderr {stderr:.2g})"


def test_class_label_mi_matches_the_posterior_of_its_own_samples():
    task = tasks.class_label(n_classes=4, separation=2.0)
    assert isinstance(task, Task) and task.dim_x == 4 and task.dim_y == 1
    assert 0 < task.mi <= task.entropy_y == math.log(4)
    x, y = task.sample(200_000, seed=3)
    labels = y[:, 0].astype(int)
    np.testing.assert_array_equal(labels, y[:, 0])  # integer codes
    logits = task.separation * x
    # log p(y | x) + log C: its mean is the MI, estimated independently of the cached value
    pointwise = logits[np.arange(labels.size), labels] - logsumexp(logits, axis=1) + math.log(4)
    stderr = math.hypot(pointwise.std(ddof=1) / math.sqrt(pointwise.size), task.mi_stderr)
    assert abs(pointwise.mean() - task.mi) <= N_STDERR * stderr
    assert task.bits == pytest.approx(task.mi / math.log(2))


def test_class_label_mi_is_cached_and_bounded_by_the_label_entropy():
    mi, stderr = class_label_mi(3, 6.0)  # well separated: close to, never above, log 3
    hits = class_label_mi.cache_info().hits
    assert tasks.class_label(n_classes=3, separation=6.0).mi == mi
    assert class_label_mi.cache_info().hits == hits + 1
    assert math.log(3) - 0.01 < mi <= math.log(3) and stderr < 1e-3


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"n_classes": 1}, "n_classes="), ({"n_classes": 2.0}, "n_classes="), ({"separation": 0.0}, "separation="),
])
def test_class_label_rejects_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        tasks.class_label(**kwargs)


# ---- joint table ---------------------------------------------------------------------------------


def test_table_mi_equals_the_entropy_identity():
    rng = np.random.default_rng(0)
    table = rng.dirichlet(np.ones(12)).reshape(3, 4)
    table[0, 1] = 0.0  # an empty cell: 0 log 0 = 0
    table /= table.sum()
    entropies = stats.entropy(table.sum(axis=1)) + stats.entropy(table.sum(axis=0)) - stats.entropy(table.ravel())
    assert tasks.discrete_table(table).mi == pytest.approx(entropies, abs=1e-12)
    assert table_mi(np.outer([0.2, 0.8], [0.5, 0.5])) == pytest.approx(0.0, abs=1e-15)


def test_discrete_table_samples_follow_the_table():
    task = tasks.discrete_table()
    channel = tasks.discrete_table(n_symbols=4, error=0.3)
    assert task.name == channel.name and task.mi == pytest.approx(math.log(4) - stats.entropy([0.7, 0.1, 0.1, 0.1]))
    x, y = task.sample(50_000, seed=1)
    counts = np.zeros((4, 4))
    np.add.at(counts, (x[:, 0].astype(int), y[:, 0].astype(int)), 1)
    result = stats.chisquare(counts.ravel(), 50_000 * task.table.ravel())
    assert result.pvalue > 1e-4
    counts_table = tasks.discrete_table(np.array([[30, 10], [10, 50]]))  # counts are normalised
    assert counts_table.table.sum() == pytest.approx(1.0) and counts_table.table[1, 1] == pytest.approx(0.5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"table": [[0.5, -0.1], [0.3, 0.3]]}, "non-negative"),
    ({"table": [1.0, 2.0]}, "2-D"),
    ({"table": [[1.0]], "n_symbols": 3}, "not both"),
    ({"n_symbols": 1}, "n_symbols="),
    ({"error": 1.0}, "error="),
])
def test_discrete_table_rejects_bad_tables(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tasks.discrete_table(**kwargs)


def test_discrete_tasks_are_registered():
    assert {"class-label", "discrete-table"} <= set(tasks.available())
    assert tasks.get("discrete_table", n_symbols=3).dim_x == 1
    assert tasks.get("class-label", n_classes=3).dim_x == 3


# ---- Miller-Madow --------------------------------------------------------------------------------


def test_miller_madow_matches_the_table_mi_within_its_stderr():
    task = tasks.discrete_table()
    x, y = task.sample(5_000, seed=0)
    result = discrete_mi(x, y)
    assert result.objective == "discrete" and result.readout == "miller-madow" and result.n_test == 5_000
    assert abs(result.mi - task.mi) <= N_STDERR * result.stderr, (result.mi, result.stderr, task.mi)
    assert result.info["plugin"] - result.mi == pytest.approx((16 - 4 - 4 + 1) / (2 * 5_000))


def test_miller_madow_removes_the_plugin_bias_under_independence():
    # 10 x 10 independent cells at N = 600: the plug-in's bias is about 81 / 1200 = 0.07 nats,
    # far above its spread over seeds; the corrected mean must sit at 0 within its own error.
    task = tasks.discrete_table(np.ones((10, 10)))
    corrected, plugin = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 6 samples per cell is near the warning line
        for seed in range(40):
            result = discrete_mi(*task.sample(600, seed=seed))
            corrected.append(result.mi)
            plugin.append(result.info["plugin"])
    corrected, plugin = np.array(corrected), np.array(plugin)
    stderr = corrected.std(ddof=1) / math.sqrt(corrected.size)
    assert abs(corrected.mean()) <= N_STDERR * stderr, (corrected.mean(), stderr)
    assert plugin.mean() > N_STDERR * plugin.std(ddof=1) / math.sqrt(plugin.size)  # the bias it removes is real


def test_discrete_mi_reads_text_bool_categories_and_multi_column_rows():
    words = pd.Series(["a", "b", "c", "a"] * 25, dtype="category")
    flags = np.array([True, False, False, True] * 25)
    result = discrete_mi(words, flags)
    # y is a function of x with P(True) = 1/2: MI = H(Y) = log 2, and the cells are 3 with 3 + 2 margins
    assert result.info["plugin"] == pytest.approx(math.log(2))
    assert result.mi == pytest.approx(math.log(2) - (3 - 3 - 2 + 1) / 200)
    pairs = np.column_stack([[0, 0, 1, 1] * 25, [0, 1, 0, 1] * 25])  # 4 distinct rows
    assert discrete_mi(pairs, np.arange(100) % 4, miller_madow=False).mi == pytest.approx(math.log(4))
    frame = pd.DataFrame({"p": [0, 0, 1, 1] * 25, "q": ["u", "v", "u", "v"] * 25})
    assert discrete_mi(frame, np.arange(100) % 4).info["cells_x"] == 4


def test_discrete_mi_refuses_missing_values_and_warns_on_continuous_data():
    with pytest.raises(ValueError, match="x has 1 missing"):
        discrete_mi(np.array([1.0, np.nan, 2.0, 1.0]), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="x has 4 rows but y has 3"):
        discrete_mi([1, 2, 1, 2], [1, 2, 1])
    with pytest.raises(ValueError, match="miller_madow="):
        discrete_mi([1, 2, 1, 2], [1, 2, 1, 2], miller_madow="yes")
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="fewer than 5 per cell"):
        discrete_mi(rng.standard_normal(200), rng.standard_normal(200))


def test_discrete_is_a_registered_classical_method():
    assert CLASSICAL["discrete"] is discrete_mi
    import anchormi

    x, y = tasks.discrete_table().sample(1_000, seed=2)
    assert anchormi.estimate(x, y, method="discrete").mi == discrete_mi(x, y).mi
