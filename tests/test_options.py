"""The command-line options the experiment commands share (anchormi.bench.options)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from anchormi.bench.options import RunOptions, parse_seeds, run_options


def test_seeds_are_a_list_never_a_count():
    assert parse_seeds("3") == [3]
    assert parse_seeds("0, 2,5") == [0, 2, 5]
    assert parse_seeds(None) is None
    for bad in ("a", "1,-2", ","):
        with pytest.raises(typer.BadParameter, match="--seeds"):
            parse_seeds(bad)


def test_run_options_hands_the_shared_block_to_the_command():
    received = {}

    @run_options
    def command(name: str = typer.Option("x", help="a command's own option."), run: RunOptions = RunOptions()) -> None:
        received.update(name=name, run=run)

    app = typer.Typer()
    app.command("go")(command)

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the app
        """Placeholder."""

    result = CliRunner().invoke(app, ["go", "--name", "y", "--workers", "0", "--format", "csv", "--no-figures", "--progress"])
    assert result.exit_code == 0, result.output
    assert received == {"name": "y", "run": RunOptions(workers=0, format="csv", figures=False, progress=True)}
    result = CliRunner().invoke(app, ["go"])
    assert result.exit_code == 0 and received["run"] == RunOptions()

    with pytest.raises(TypeError, match="run: RunOptions"):
        run_options(lambda name="x": None)


@pytest.fixture()
def ssl_app() -> typer.Typer:
    from anchormi.ssl.cli import register

    app = typer.Typer()
    reproduce_app = typer.Typer()
    app.add_typer(reproduce_app, name="reproduce")

    @app.command()
    def version() -> None:
        """Placeholder."""

    register(reproduce_app)
    return app


def test_reproduce_ssl_takes_a_list_of_seeds_like_bench(ssl_app, tmp_path, monkeypatch):
    from anchormi.ssl import reproduce_ssl as module

    seen = []
    monkeypatch.setattr(module, "reproduce_ssl", lambda out, settings, **kwargs: seen.append((settings.seeds, kwargs["progress"])))
    runner = CliRunner()
    for text, expected in (("3", (3,)), ("0,2", (0, 2))):
        result = runner.invoke(ssl_app, ["reproduce", "ssl", "--quick", "--seeds", text, "--no-progress", "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert seen[-1] == (expected, False)
    assert runner.invoke(ssl_app, ["reproduce", "ssl", "--quick", "--out", str(tmp_path)]).exit_code == 0
    assert seen[-1] == ((0,), None)
    bad = runner.invoke(ssl_app, ["reproduce", "ssl", "--seeds", "three", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--seeds" in bad.output


def test_reproduce_pmi_command_reaches_the_pairs_reproduction(ssl_app, tmp_path, monkeypatch):
    from anchormi.pairs import reproduce as module

    seen = []
    monkeypatch.setattr(module, "reproduce_pmi", lambda out, settings, **kwargs: seen.append((settings.runs, kwargs["command"])))
    result = CliRunner().invoke(ssl_app, ["reproduce", "pmi", "--quick", "--runs", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen == [(2, "anchormi reproduce pmi")]
