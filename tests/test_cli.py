"""The anchormi command line: estimate from every file format, objectives, demo."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from anchormi.cli import app

runner = CliRunner()
FAST = ["--max-steps", "40", "--batch-size", "32"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2))
    return x, x + 0.5 * rng.standard_normal((300, 2))


def test_estimate_npz_human_and_json(tmp_path, data):
    path = tmp_path / "pair.npz"
    np.savez(path, x=data[0], y=data[1])
    human = runner.invoke(app, ["estimate", str(path), *FAST])
    assert human.exit_code == 0, human.output
    assert "nats" in human.output and "95% CI" in human.output
    machine = runner.invoke(app, ["estimate", str(path), "--json", *FAST])
    payload = json.loads(machine.output)
    assert machine.exit_code == 0 and payload["objective"] == "anchor" and np.isfinite(payload["mi"])


def test_estimate_two_npy_with_classical_method(tmp_path, data):
    np.save(tmp_path / "x.npy", data[0])
    np.save(tmp_path / "y.npy", data[1])
    result = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--method", "gaussian", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["objective"] == "gaussian"


def test_estimate_csv_columns_and_errors(tmp_path, data):
    frame = pd.DataFrame({"a": data[0][:, 0], "b": data[0][:, 1], "c": data[1][:, 0]})
    frame.to_csv(tmp_path / "table.csv", index=False)
    ok = runner.invoke(app, ["estimate", str(tmp_path / "table.csv"), "--x-cols", "a,b", "--y-cols", "c", "--method", "ksg"])
    assert ok.exit_code == 0, ok.output
    missing = runner.invoke(app, ["estimate", str(tmp_path / "table.csv"), "--x-cols", "a,z", "--y-cols", "c"])
    assert missing.exit_code != 0 and "z" in missing.output
    frame.loc[3, "a"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    bad = runner.invoke(app, ["estimate", str(tmp_path / "nan.csv"), "--x-cols", "a,b", "--y-cols", "c", "--method", "ksg"])
    assert bad.exit_code == 2 and "NaN" in bad.output


def test_objectives_lists_registry_and_classical():
    result = runner.invoke(app, ["objectives"])
    assert result.exit_code == 0
    for name in ("anchor", "infonce", "nce", "js", "nwj", "dv", "mine", "smile", "chi2", "fdiv", "ksg", "gaussian"):
        assert name in result.output


def test_demo_small_prints_table_and_saves_png(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--n", "600", "--dim", "2", "--mi", "1.0", "--batch-size", "32"])
    assert result.exit_code == 0, result.output
    for method in ("anchor", "infonce", "nwj", "smile", "ksg"):
        assert method in result.output
    assert (tmp_path / "training_curves.png").stat().st_size > 1000
    table = pd.read_csv(tmp_path / "demo_results.csv")
    assert list(table.method) == ["anchor", "infonce", "nwj", "smile", "ksg"]
