"""Tests for anchormi.ssl training, checkpoint/resume, evaluation and ``anchormi reproduce ssl``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

from anchormi import DivergenceWarning
from anchormi.files import atomic_write_bytes
from anchormi.ssl import SimCLRModel, SSLConfig, evaluate_representation, load_digits_images, representation_cka, train_ssl
from anchormi.ssl.cli import register
from anchormi.ssl.data import images_from_array
from anchormi.ssl.evaluate import encode, few_shot_indices, stratified_split
from anchormi.ssl.metrics import linear_probe_accuracy
from anchormi.files import markdown_table
from anchormi.ssl.reporting import mean_sd, parse_objective, parse_objectives
from anchormi.ssl.train import load_checkpoint, model_from_checkpoint

TINY = dict(widths=(8, 16), projection_dim=16, batch_size=64)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return load_digits_images()


@pytest.fixture(scope="module")
def small_images(digits):
    return digits.images[:256]


@pytest.mark.parametrize("objective, params", [("anchor", {}), ("infonce", {}), ("nce", {})])
def test_tiny_training_run_lowers_the_loss(small_images, objective, params):
    config = SSLConfig(objective=objective, objective_params=params, epochs=8, lr=3e-3, seed=0, **TINY)
    run = train_ssl(small_images, config, progress=False)
    losses = run.history["loss"].to_numpy()
    assert run.history["epoch"].tolist() == list(range(1, 9))
    assert np.isfinite(losses).all() and not run.diverged
    # The epoch loss averages 4 batches; its batch-to-batch spread over the last epochs bounds the noise.
    noise = run.history["loss"].iloc[-4:].std(ddof=1)
    assert losses[-2:].mean() < losses[0] - 3 * noise
    # Training should also make the positive the top-scored candidate more often than chance (1/64).
    assert run.history["positive_accuracy"].iloc[-1] > 4 / 64
    assert not run.model.training


def test_checkpoint_resume_equals_an_uninterrupted_run(small_images, tmp_path):
    # On the CPU, where kernels are deterministic, a resumed run must match bit for bit.
    config = SSLConfig(objective="anchor", epochs=2, seed=3, **TINY)
    straight = train_ssl(small_images, config, out_dir=tmp_path / "straight", progress=False, device="cpu")

    first = train_ssl(small_images, SSLConfig(**{**config.__dict__, "epochs": 1}), out_dir=tmp_path / "resumed", progress=False, device="cpu")
    assert first.resumed_from == 0 and len(first.history) == 1
    resumed = train_ssl(small_images, config, out_dir=tmp_path / "resumed", progress=False, device="cpu")
    assert resumed.resumed_from == 1
    pd.testing.assert_frame_equal(resumed.history.drop(columns="seconds"), straight.history.drop(columns="seconds"))
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name

    # A finished run reloads without training; files are complete and no temporary file is left.
    again = train_ssl(small_images, config, out_dir=tmp_path / "resumed", progress=False, device="cpu")
    assert again.resumed_from == 2 and len(again.history) == 2
    folder = tmp_path / "resumed"
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "config.json", "history.csv"]
    assert load_checkpoint(folder)["epoch"] == 2
    assert json.loads((folder / "config.json").read_text())["objective"] == "anchor"
    rebuilt = model_from_checkpoint(folder, in_channels=1)
    with torch.no_grad():
        assert torch.equal(rebuilt(small_images[:8]), resumed.model(small_images[:8]))


def test_checkpoints_go_through_the_shared_atomic_writer(small_images, tmp_path, monkeypatch):
    from anchormi.ssl import train as train_module

    written = []

    def spy(path, data):
        written.append(path.name)
        return atomic_write_bytes(path, data)

    monkeypatch.setattr(train_module, "atomic_write_bytes", spy)
    train_ssl(small_images, SSLConfig(objective="anchor", epochs=2, **TINY), out_dir=tmp_path, progress=False, device="cpu")
    assert written == ["checkpoint.pt", "checkpoint.pt"]
    assert load_checkpoint(tmp_path)["epoch"] == 2


def test_resume_refuses_a_different_configuration(small_images, tmp_path):
    train_ssl(small_images, SSLConfig(objective="anchor", epochs=2, **TINY), out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="objective: checkpoint 'anchor', now 'infonce'"):
        train_ssl(small_images, SSLConfig(objective="infonce", epochs=2, **TINY), out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train_ssl(small_images, SSLConfig(objective="anchor", epochs=2, **{**TINY, "batch_size": 32}), out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="already holds 2 epochs"):
        train_ssl(small_images, SSLConfig(objective="anchor", epochs=1, **TINY), out_dir=tmp_path, progress=False)
    assert load_checkpoint(tmp_path)["epoch"] == 2
    # The checkpoint records the resolved loss parameters, so a changed library default is caught too.
    checkpoint = load_checkpoint(tmp_path)
    checkpoint["config"]["loss_params"]["nu"] = 123.0
    torch.save(checkpoint, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="loss_params"):
        train_ssl(small_images, SSLConfig(objective="anchor", epochs=2, **TINY), out_dir=tmp_path, progress=False)


def test_training_rejects_bad_configuration(small_images):
    with pytest.raises(ValueError, match="do not apply"):
        train_ssl(small_images, SSLConfig(objective="infonce", objective_params={"nu": 1.0}, **TINY))
    with pytest.raises(ValueError, match="unknown"):
        train_ssl(small_images, SSLConfig(objective="nope", **TINY))
    with pytest.raises(ValueError, match="fewer than batch_size"):
        train_ssl(small_images[:10], SSLConfig(**TINY))
    with pytest.raises(ValueError, match="temperature"):
        train_ssl(small_images, SSLConfig(temperature=0.0, **TINY))


def test_divergence_stops_with_a_warning_and_keeps_the_last_finite_weights(small_images):
    # At tau = 1e-3 the scores reach 1,000, so NWJ's exp(o - 1) overflows on the first step.
    with pytest.warns(DivergenceWarning, match="nwj diverged: non-finite training loss .* at step 1"):
        run = train_ssl(small_images, SSLConfig(objective="nwj", temperature=1e-3, epochs=3, seed=0, **TINY), progress=False)
    assert run.diverged and len(run.history) == 0
    torch.manual_seed(0)  # the initial weights follow config.seed
    fresh = SimCLRModel(1, TINY["widths"], TINY["projection_dim"])
    for (name, a), (_, b) in zip(fresh.state_dict().items(), run.model.state_dict().items()):
        assert torch.equal(a, b.cpu()), name


def test_divergence_after_an_epoch_end_keeps_that_epochs_weights(small_images, tmp_path):
    # Poisoning the weights at the end of epoch 2 makes the first step of epoch 3 non-finite; the
    # weights of epoch 1's end were the last to give a finite loss, so those are kept.
    kept = {}

    def on_epoch(epoch, model):
        if epoch == 1:
            kept.update({name: value.detach().clone() for name, value in model.named_parameters()})
        if epoch == 2:
            next(model.parameters()).fill_(float("nan"))
        return {}

    config = SSLConfig(objective="anchor", epochs=3, seed=2, **TINY)
    with pytest.warns(DivergenceWarning, match="non-finite training loss"):
        run = train_ssl(small_images, config, out_dir=tmp_path, progress=False, device="cpu", on_epoch=on_epoch)
    assert run.diverged and run.history["epoch"].tolist() == [1, 2] and not run.model.training
    assert load_checkpoint(tmp_path)["epoch"] == 2
    for name, value in run.model.named_parameters():
        assert torch.equal(value, kept[name]), name


def test_training_leaves_the_global_random_state_alone(small_images):
    config = SSLConfig(objective="anchor", epochs=1, seed=5, **TINY)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    first = train_ssl(small_images, config, progress=False, device="cpu")
    assert torch.equal(torch.get_rng_state(), before)
    # The run follows config.seed alone, whatever the global state.
    torch.manual_seed(99)
    second = train_ssl(small_images, config, progress=False, device="cpu")
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_spherical_rule_and_mine_state_train_through_the_registry(small_images, tmp_path):
    spherical = train_ssl(small_images, SSLConfig(objective="anchor", objective_params={"rule": "spherical"}, epochs=1, **TINY), progress=False)
    assert np.isfinite(spherical.history["loss"]).all()
    mine = train_ssl(small_images, SSLConfig(objective="mine", epochs=1, **TINY), out_dir=tmp_path, progress=False)
    assert load_checkpoint(tmp_path)["objective_state"]["log_value"] is not None
    assert np.isfinite(mine.history["loss"]).all()


def test_evaluation_metrics_and_cka(digits):
    train_rows, test_rows = stratified_split(digits.labels.numpy(), 0.3, seed=0)
    assert set(train_rows).isdisjoint(test_rows) and len(train_rows) + len(test_rows) == len(digits.labels)
    torch.manual_seed(0)
    run = train_ssl(digits.images[train_rows[:256]], SSLConfig(epochs=1, **TINY), progress=False)
    metrics = evaluate_representation(run.model, digits.images[train_rows], digits.labels[train_rows],
                                      digits.images[test_rows], digits.labels[test_rows], few_shot=5)
    assert set(metrics) == {"probe_top1", "probe_top1_few", "alignment", "uniformity"}
    assert 0.1 < metrics["probe_top1"] <= 1 and 0 <= metrics["alignment"] <= 4 and -8 <= metrics["uniformity"] <= 0
    assert representation_cka(run.model, run.model, digits.images[test_rows]) == pytest.approx(1.0)
    few = few_shot_indices(digits.labels[train_rows].numpy(), 5)
    assert np.bincount(digits.labels[train_rows].numpy()[few]).tolist() == [5] * 10


class _NoFloat64Tensor(torch.Tensor):
    """Behaves like an MPS tensor for float64: the cast fails until the tensor is on the host."""

    def double(self):
        raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64.")

    def cpu(self):
        return self.as_subclass(torch.Tensor)


class _MPSLikeModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 3)

    def features(self, images):
        return self.linear(images.flatten(1)).as_subclass(_NoFloat64Tensor)

    def head(self, features):
        return 2 * features  # stays a _NoFloat64Tensor


def test_encode_moves_to_the_host_before_widening_to_float64(digits):
    model = _MPSLikeModel()
    features, projections = encode(model, digits.images[:10], batch_size=4)
    assert features.dtype == projections.dtype == np.float64
    with torch.no_grad():
        expected = model.linear(digits.images[:10].flatten(1)).double().numpy()
    # Batches of 4 and one batch of 10 may round the float32 products differently (BLAS paths).
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(projections, 2 * expected, rtol=0, atol=2e-6)


def test_ssl_inputs_go_through_the_one_array_reader():
    from anchormi import _validation
    from anchormi.ssl import data, metrics

    assert metrics._to_numpy is _validation._to_numpy and data._to_numpy is _validation._to_numpy
    features = np.random.default_rng(0).standard_normal((4, 2))
    with pytest.raises(ValueError, match="^train_labels could not be read"):
        linear_probe_accuracy(features, [[0], [1, 1], [0], [1]], features, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"^array could not be read.*\(n, H, W\)"):
        images_from_array([[[0.0]], [[0.0, 1.0]]])


def test_objective_specs_and_table_helpers():
    assert parse_objective("spherical") == ("spherical", "anchor", {"rule": "spherical"})
    assert parse_objective("anchor:nu=16,symmetric=true") == ("anchor:nu=16,symmetric=true", "anchor", {"nu": 16, "symmetric": True})
    assert [s.label for s in parse_objectives("infonce,anchor:nu=2,rule=brier,nce")] == ["infonce", "anchor:nu=2,rule=brier", "nce"]
    with pytest.raises(ValueError, match="not a parameter"):
        parse_objective("infonce:nu=1")
    with pytest.raises(ValueError, match="twice"):
        parse_objectives("anchor,anchor")
    assert mean_sd([1.0, 3.0]) == "2.000 ± 1.414" and mean_sd([0.5], 100, 1) == "50.0" and mean_sd([]) == "—"
    assert markdown_table(pd.DataFrame({"a": [1], "b": ["x"]})).splitlines() == ["| a | b |", "|---|---|", "| 1 | x |"]


def _app() -> typer.Typer:
    app = typer.Typer()
    reproduce = typer.Typer()
    app.add_typer(reproduce, name="reproduce")
    register(reproduce)
    return app


def test_reproduce_ssl_quick_via_cli_and_resume(tmp_path):
    out = tmp_path / "ssl"
    arguments = ["reproduce", "ssl", "--quick", "--epochs", "1", "--max-images", "200", "--out", str(out), "--device", "cpu"]
    result = CliRunner().invoke(_app(), arguments)
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "cka.csv", "history.csv", "summary.md", "curves.png", "align_uniform.png", "settings.json"):
        assert (out / name).stat().st_size > 0, name
    results = pd.read_csv(out / "results.csv")
    assert set(results["objective"]) == {"pixels", "random-init", "infonce", "anchor", "anchor:nu=1", "chi2", "nce", "spherical"}
    assert results["probe_top1"].between(0, 1).all()
    cka = pd.read_csv(out / "cka.csv")
    assert set(cka["a"]) == {"anchor", "anchor:nu=1", "chi2", "nce", "spherical"} and cka["cka"].between(0, 1).all()
    summary = (out / "summary.md").read_text()
    assert "CKA vs InfoNCE" in summary and "| anchor:nu=1 | k=" not in summary
    assert "| spherical | nu=" in summary and "rule=spherical" in summary
    rerun = CliRunner().invoke(_app(), arguments)
    assert rerun.exit_code == 0 and "resumed at epoch 1" in rerun.output


def test_reproduce_ssl_reports_bad_options(tmp_path):
    result = CliRunner().invoke(_app(), ["reproduce", "ssl", "--quick", "--objectives", "anchor,bogus", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "bogus" in result.output


def test_reproduce_ssl_on_user_images_from_an_npz(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((160, 8, 8, 3)) * 255).astype(np.uint8)  # channels-last RGB, as CIFAR ships
    np.savez(tmp_path / "images.npz", images=images, labels=np.repeat(["cat", "dog"], 80))
    arguments = ["reproduce", "ssl", "--quick", "--epochs", "1", "--objectives", "infonce,anchor", "--data",
                 str(tmp_path / "images.npz"), "--out", str(tmp_path / "out"), "--device", "cpu"]
    result = CliRunner().invoke(_app(), arguments)
    assert result.exit_code == 0, result.output
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(results["objective"]) == {"pixels", "random-init", "infonce", "anchor"}
    assert "images.npz" in (tmp_path / "out" / "summary.md").read_text()
