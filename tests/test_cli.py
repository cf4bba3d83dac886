"""The anchormi command line: estimate from every file format, objectives, demo; one-line errors."""

import inspect
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import anchormi
import anchormi.api
import anchormi.estimator
from anchormi.classical import gaussian
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


def test_estimate_prints_the_interval_at_the_level_asked_for(tmp_path, data):
    path = tmp_path / "pair.npz"
    np.savez(path, x=data[0], y=data[1])
    machine = runner.invoke(app, ["estimate", str(path), "--json", "--level", "0.99", *FAST])
    assert machine.exit_code == 0, machine.output
    payload = json.loads(machine.output)
    # 'ci' stays the 95 % interval; 'interval' is the one asked for, and holds it.
    assert payload["interval"]["level"] == 0.99
    assert payload["interval"]["lo"] <= payload["ci"][0] and payload["ci"][1] < payload["interval"]["hi"]
    human = runner.invoke(app, ["estimate", str(path), "--level", "0.9", *FAST])
    assert human.exit_code == 0 and "90% CI" in human.output and "95% CI" not in human.output
    for bad in ("1.5", "0", "-0.2"):
        refused = runner.invoke(app, ["estimate", str(path), "--level", bad, *FAST])
        assert refused.exit_code == 2 and "--level" in refused.output and "Traceback" not in refused.output


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


def test_demo_small_prints_table_and_saves_png(tmp_path, monkeypatch):
    calls, real_estimate = [], anchormi.estimate

    def spy(x, y, **kwargs):
        calls.append(kwargs)
        return real_estimate(x, y, **kwargs)

    monkeypatch.setattr(anchormi, "estimate", spy)
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--n", "600", "--dim", "2", "--mi", "1.0", "--batch-size", "32",
                                 "--max-steps", "300"])
    assert result.exit_code == 0, result.output
    # The cap reaches every neural method and no classical one (KSG has no training steps).
    assert [call.get("max_steps") for call in calls] == [300, 300, 300, 300, None]
    for method in ("anchor", "infonce", "nwj", "smile", "ksg"):
        assert method in result.output
    assert (tmp_path / "training_curves.png").stat().st_size > 1000
    table = pd.read_csv(tmp_path / "demo_results.csv")
    assert list(table.method) == ["anchor", "infonce", "nwj", "smile", "ksg"]


def assert_one_line_error(result, code: int = 2) -> str:
    """The command failed with ``code`` and wrote exactly one ``error: ...`` line, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_demo_bad_input_is_one_line_error(tmp_path):
    message = assert_one_line_error(runner.invoke(app, ["demo", "--out", str(tmp_path), "--n", "0"]))
    assert "n=0" in message and "positive" in message
    assert not (tmp_path / "demo_results.csv").exists()


GARBAGE = bytes(range(256)) * 2


@pytest.mark.parametrize(
    "files, content, extra, expected",
    [
        (["empty.csv"], b"", ["--x-cols", "a", "--y-cols", "b"], "empty: no header and no data rows"),
        (["header.csv"], b"a,b,c\n", ["--x-cols", "a", "--y-cols", "b"], "no data rows"),
        (["x.npy", "y.npy"], GARBAGE, [], "x.npy is not a valid .npy array file"),
        (["bad.parquet"], GARBAGE, ["--x-cols", "a", "--y-cols", "b"], "not a valid Parquet file"),
        (["x.npy"], None, [], "needs two files: x.npy y.npy"),
        (["absent.npz"], None, [], "no such file"),
        (["overlap.csv"], b"a,b,c\n1,2,3\n", ["--x-cols", "a,b", "--y-cols", "b,c"], "columns ['b'] are in both x_cols (--x-cols) and y_cols"),
    ],
)
def test_bad_input_files_give_one_error_line(tmp_path, files, content, extra, expected):
    np.save(tmp_path / "x.npy", np.zeros((30, 2)))
    np.save(tmp_path / "y.npy", np.zeros((30, 2)))
    if content is not None:
        (tmp_path / files[0]).write_bytes(content)
    result = runner.invoke(app, ["estimate", *[str(tmp_path / name) for name in files], *extra])
    line = assert_one_line_error(result)
    assert expected in line
    assert "pickled" not in line and "unknown format" not in line and "dtype object" not in line


def test_cuda_on_a_machine_without_it_is_one_error_line(tmp_path, data, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    np.savez(tmp_path / "pair.npz", x=data[0], y=data[1])
    line = assert_one_line_error(runner.invoke(app, ["estimate", str(tmp_path / "pair.npz"), "--device", "cuda", *FAST]))
    assert "cuda" in line.lower() and "cpu" in line


def test_an_unexpected_exception_is_one_line_unless_a_traceback_is_asked_for(tmp_path, data, monkeypatch):
    def broken(self, x, y, z=None):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(anchormi.estimator.MIEstimator, "fit", broken)
    np.savez(tmp_path / "pair.npz", x=data[0], y=data[1])
    args = ["estimate", str(tmp_path / "pair.npz")]
    line = assert_one_line_error(runner.invoke(app, args), code=1)
    assert "RuntimeError: boom second line" in line and "ANCHORMI_TRACEBACK=1" in line
    shown = runner.invoke(app, args, env={"ANCHORMI_TRACEBACK": "1"})
    assert isinstance(shown.exception, RuntimeError)


@pytest.fixture()
def recorded_kwargs(monkeypatch):
    """Replace the library calls (classical methods, MIEstimator) by ones that record their keyword
    arguments and answer instantly."""
    calls = []

    def record(x, y, z=None, method="anchor", **kwargs):
        calls.append({"method": method, **kwargs})
        return gaussian(x, y)

    class Recorder:
        def __init__(self, objective="anchor", **kwargs):
            calls.append({"method": objective, **kwargs})

        def fit(self, x, y, z=None):
            self.result_ = gaussian(x, y)
            return self

    Recorder.__init__.__signature__ = inspect.signature(anchormi.estimator.MIEstimator.__init__)  # what the CLI checks
    monkeypatch.setattr(anchormi.api, "estimate", record)
    monkeypatch.setattr(anchormi.estimator, "MIEstimator", Recorder)
    return calls


def test_options_that_do_not_apply_to_a_classical_method_are_named(tmp_path, data, recorded_kwargs):
    np.savez(tmp_path / "pair.npz", x=data[0], y=data[1])
    path = str(tmp_path / "pair.npz")
    line = assert_one_line_error(runner.invoke(app, ["estimate", path, "--method", "ksg", "--nu", "3"]))
    assert "--nu does not apply to method ksg" in line and "--seed" in line and "unexpected keyword" not in line
    line = assert_one_line_error(runner.invoke(app, ["estimate", path, "--method", "gaussian", "--seed", "1"]))
    assert "--seed does not apply to method gaussian" in line and "takes no options" in line
    line = assert_one_line_error(runner.invoke(app, ["estimate", path, "--method", "ksg", "--plot", str(tmp_path / "p.png")]))
    assert "--plot does not apply to method ksg" in line
    assert recorded_kwargs == []  # all refused before any work
    ok = runner.invoke(app, ["estimate", path, "--method", "ksg", "--seed", "4"])
    assert ok.exit_code == 0, ok.output
    assert recorded_kwargs == [{"method": "ksg", "seed": 4}]


def test_only_given_options_and_params_reach_the_estimator(tmp_path, data, recorded_kwargs):
    np.savez(tmp_path / "pair.npz", x=data[0], y=data[1])
    path = str(tmp_path / "pair.npz")
    ok = runner.invoke(app, ["estimate", path, "--lr", "0.001", "--folds", "3", "--n-permutations", "0", "--param", "patience=7",
                             "--param", "hidden=[16,16]", "--param", "marginals=none"])
    assert ok.exit_code == 0, ok.output
    assert recorded_kwargs == [{"method": "anchor", "lr": 0.001, "folds": 3, "n_permutations": 0, "patience": 7,
                                "hidden": [16, 16], "marginals": "none"}]
    for flag in ("--n-threads", "--threads"):  # --threads is the short spelling of the same option
        ok = runner.invoke(app, ["estimate", path, flag, "2"])
        assert ok.exit_code == 0, ok.output
        assert recorded_kwargs.pop() == {"method": "anchor", "n_threads": 2}
    line = assert_one_line_error(runner.invoke(app, ["estimate", path, "--param", "no_such_thing=1"]))
    assert "--param no_such_thing" in line and "does not apply to method anchor" in line and "patience" in line
    line = assert_one_line_error(runner.invoke(app, ["estimate", path, "--nu", "2", "--param", "nu=3"]))
    assert "give it once" in line
    line = assert_one_line_error(runner.invoke(app, ["estimate", path, "--param", "patience"]))
    assert "name=value" in line
    assert len(recorded_kwargs) == 1


def test_semicolon_csv_is_sniffed_and_sep_overrides(tmp_path, data):
    frame = pd.DataFrame({"a": data[0][:, 0], "b": data[0][:, 1], "c": data[1][:, 0]})
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    args = ["estimate", str(tmp_path / "semi.csv"), "--x-cols", "a,b", "--y-cols", "c", "--method", "gaussian", "--json"]
    sniffed = runner.invoke(app, args)
    assert sniffed.exit_code == 0, sniffed.output
    explicit = runner.invoke(app, [*args, "--sep", ";"])
    assert json.loads(explicit.stdout)["mi"] == json.loads(sniffed.stdout)["mi"]
    line = assert_one_line_error(runner.invoke(app, [*args, "--sep", ","]))
    assert "['a;b;c']" in line and "--sep" in line


def test_help_shows_json_as_a_plain_flag_and_the_sep_option():
    result = runner.invoke(app, ["estimate", "--help"], terminal_width=160)
    assert result.exit_code == 0
    json_lines = [line for line in result.output.splitlines() if "--json" in line]
    assert len(json_lines) == 1 and not re.search(r"--json\s+<", json_lines[0]), json_lines
    assert "--sep" in result.output


LIGHT_CLI = """
import sys, types
# The experiment subpackages register their own commands; stand them in so that this measures
# only what anchormi and anchormi.cli import.
for name in ("anchormi.bench.cli", "anchormi.ssl.cli"):
    stub = types.ModuleType(name)
    stub.register = lambda *apps: None
    sys.modules[name] = stub
import anchormi
heavy = sorted(m for m in ("torch", "numpy", "pandas", "scipy") if m in sys.modules)
assert not heavy, f"import anchormi loaded {heavy}"
from anchormi.cli import app
from typer.testing import CliRunner
assert CliRunner().invoke(app, ["estimate", "--help"]).exit_code == 0
heavy = sorted(m for m in ("torch", "numpy", "pandas", "scipy") if m in sys.modules)
assert not heavy, f"anchormi.cli and its help loaded {heavy}"
assert anchormi.MIEstimator.__name__ == "MIEstimator" and callable(anchormi.estimate)
assert "torch" in sys.modules
"""


def test_import_and_help_do_not_load_torch_numpy_or_pandas():
    done = subprocess.run([sys.executable, "-c", LIGHT_CLI], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_estimate_saves_the_model_and_writes_held_out_pmi_then_pmi_scores_new_pairs(tmp_path):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 400)
    frame = pd.DataFrame({"a": rng.standard_normal(400) + labels, "b": rng.standard_normal(400),
                          "label": np.array(["u", "v", "w"])[labels]})
    frame.to_csv(tmp_path / "table.csv", index=False)
    table = [str(tmp_path / "table.csv"), "--x-cols", "a,b", "--y-cols", "label"]
    model, pairs = tmp_path / "model.pt", tmp_path / "pairs.parquet"
    fitted = runner.invoke(app, ["estimate", *table, *FAST, "--save", str(model), "--pmi", str(pairs), "--json"])
    assert fitted.exit_code == 0, fitted.output
    written = pd.read_parquet(pairs)
    assert list(written.columns) == ["row", "fold", "pmi"] and sorted(written.row) == list(range(400))
    assert set(written.fold) == set(range(5))
    estimate = json.loads(fitted.stdout[fitted.stdout.index("{"):])["mi"]
    assert written.pmi.mean() == pytest.approx(estimate, abs=1e-9)  # the plug-in is the mean held-out PMI
    scores = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["pmi", str(model), *table, "--out", str(scores)])
    assert scored.exit_code == 0, scored.output
    again = pd.read_csv(scores)
    assert len(again) == 400 and np.isfinite(again.pmi).all()
    wrong = assert_one_line_error(runner.invoke(app, ["pmi", str(model), str(tmp_path / "table.csv"), "--x-cols", "a",
                                                      "--y-cols", "label", "--out", str(scores)]))
    assert "fitted on 2" in wrong
    assert "suffix" in assert_one_line_error(runner.invoke(app, ["estimate", *table, "--pmi", str(tmp_path / "p.txt")]))
    assert "needs a trained critic" in assert_one_line_error(
        runner.invoke(app, ["estimate", *table[:1], "--x-cols", "a", "--y-cols", "b", "--method", "ksg", "--save", str(model)]))
    assert "not a readable anchormi estimator" in assert_one_line_error(
        runner.invoke(app, ["pmi", str(tmp_path / "table.csv"), *table, "--out", str(scores)]))


def test_estimate_with_z_cols_estimates_the_conditional_mi(tmp_path, data):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": data[0][:, 0], "b": data[1][:, 0], "c": rng.standard_normal(300)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = runner.invoke(app, ["estimate", str(tmp_path / "t.csv"), "--x-cols", "a", "--y-cols", "b", "--z-cols", "c",
                                 "--method", "ksg", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["quantity"] == "I(X;Y|Z)"


def test_experiment_commands_share_the_one_line_error_policy(tmp_path, monkeypatch):
    """bench, reproduce pmi and reproduce ssl report bad input (rc 2) and bugs (rc 1) as one line."""
    line = assert_one_line_error(runner.invoke(app, ["reproduce", "pmi", "--quick", "--runs", "0", "--out", str(tmp_path / "p")]))
    assert "runs=0 is invalid" in line and not (tmp_path / "p").exists()
    # An output folder that cannot be created is bad input, not a crash.
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = assert_one_line_error(runner.invoke(app, ["reproduce", "pmi", "--quick", "--out", str(blocker / "sub")]))
    assert str(blocker) in line

    import anchormi.bench.runner
    import anchormi.ssl.reproduce_ssl

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(anchormi.bench.runner, "run_sweep", broken)
    monkeypatch.setattr(anchormi.ssl.reproduce_ssl, "reproduce_ssl", broken)
    for args in (["bench", "--task", "gaussian:dim=2,mi=1", "--out", str(tmp_path / "b")],
                 ["reproduce", "images", "--quick", "--out", str(tmp_path / "i")],
                 ["reproduce", "ssl", "--quick", "--out", str(tmp_path / "s")]):
        line = assert_one_line_error(runner.invoke(app, args), code=1)
        assert "RuntimeError: boom second line" in line and "ANCHORMI_TRACEBACK=1" in line, args
