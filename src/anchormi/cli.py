"""The ``anchormi`` command line (typer).

    anchormi estimate data.npz [--method anchor] [--json]
    anchormi objectives
    anchormi demo
    anchormi bench ...            (anchormi.bench)
    anchormi reproduce staircase|images|ssl|pmi ...
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Mutual-information estimation done right: InfoNCE-anchor and friends.")
reproduce_app = typer.Typer(no_args_is_help=True, help="Reproduce the study's experiments.")
app.add_typer(reproduce_app, name="reproduce")


def _columns(frame, names: Optional[str], option: str):
    if not names:
        raise typer.BadParameter(f"CSV/Parquet input needs {option} with comma-separated column names.")
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise typer.BadParameter(f"{option}: columns {missing} not in the file; it has {list(frame.columns)}.")
    return frame[wanted].to_numpy()


def load_pair(files: List[Path], x_cols: Optional[str] = None, y_cols: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """Read x and y from one .npz (arrays x and y), two .npy files, or one CSV/Parquet with columns."""
    if len(files) == 2:
        if not all(f.suffix == ".npy" for f in files):
            raise typer.BadParameter("two files must both be .npy (x first, then y).")
        return np.load(files[0], allow_pickle=False), np.load(files[1], allow_pickle=False)
    if len(files) != 1:
        raise typer.BadParameter("pass one .npz/.csv/.parquet file or two .npy files.")
    path = files[0]
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x", "y"} - set(archive.files)
            if missing:
                raise typer.BadParameter(f"{path} lacks arrays {sorted(missing)}; it has {archive.files}. Save with np.savez(path, x=..., y=...).")
            return archive["x"], archive["y"]
    if path.suffix in (".csv", ".parquet", ".pq"):
        import pandas as pd

        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        return _columns(frame, x_cols, "--x-cols"), _columns(frame, y_cols, "--y-cols")
    raise typer.BadParameter(f"{path}: unknown format {path.suffix!r}; use .npz, .npy, .csv or .parquet.")


@app.command()
def estimate(
    files: List[Path] = typer.Argument(..., exists=True, dir_okay=False, help=".npz with x and y, two .npy files, or a CSV/Parquet file."),
    method: str = typer.Option("anchor", help="objective name, 'ksg' or 'gaussian' (see `anchormi objectives`)."),
    x_cols: Optional[str] = typer.Option(None, "--x-cols", help="CSV/Parquet: comma-separated columns of x."),
    y_cols: Optional[str] = typer.Option(None, "--y-cols", help="CSV/Parquet: comma-separated columns of y."),
    critic: Optional[str] = typer.Option(None, help="separable | joint | bilinear | cosine."),
    batch_size: Optional[int] = typer.Option(None, help="pairs per training step."),
    max_steps: Optional[int] = typer.Option(None, help="step budget (default: chosen from the data size)."),
    nu: Optional[float] = typer.Option(None, help="anchor weight (anchor objective)."),
    rule: Optional[str] = typer.Option(None, help="scoring rule for anchor: log | brier | spherical | pseudo_spherical."),
    seed: int = typer.Option(0, help="random seed; the same seed gives the same estimate."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON."),
    plot: Optional[Path] = typer.Option(None, help="save the training curves to this PNG/SVG."),
) -> None:
    """Estimate I(X;Y) from a file of paired samples."""
    import anchormi

    x, y = load_pair(files, x_cols, y_cols)
    options = {"critic": critic, "batch_size": batch_size, "max_steps": max_steps, "nu": nu, "rule": rule}
    kwargs = {name: value for name, value in options.items() if value is not None}
    if method not in ("ksg", "gaussian"):
        kwargs.update(seed=seed, device=device)
    try:
        result = anchormi.estimate(x, y, method=method, **kwargs)
    except (ValueError, TypeError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2)
    if plot is not None:
        result.plot(path=str(plot))
    if as_json:
        payload = result.to_dict()
        payload.pop("history")
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(str(result))


@app.command()
def objectives() -> None:
    """List every method: the objective registry and the classical estimators."""
    import anchormi

    for name, description in anchormi.methods().items():
        typer.echo(f"{name:10s} {description}")


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_output"), help="folder for the training-curve PNG."),
    n: int = typer.Option(10_000, help="samples drawn from the built-in Gaussian."),
    dim: int = typer.Option(10, help="dimension of x and of y."),
    mi: float = typer.Option(5.0, help="true MI in nats."),
    batch_size: int = typer.Option(64, help="batch size; InfoNCE cannot exceed log(batch_size)."),
    seed: int = typer.Option(0),
) -> None:
    """Anchor, InfoNCE, NWJ, SMILE and KSG on a Gaussian with known MI: a table and a figure."""
    from .demo import run_demo

    run_demo(out_dir=out, n=n, dim=dim, mi=mi, batch_size=batch_size, seed=seed, echo=typer.echo)


def _register_experiments() -> None:
    # Experiments live in their own subpackages and add their commands here.
    from .bench.cli import register as register_bench
    from .ssl.cli import register as register_ssl

    register_bench(app, reproduce_app)
    register_ssl(reproduce_app)


_register_experiments()


def main() -> None:  # pragma: no cover - console entry
    os.environ.setdefault("MPLBACKEND", "Agg")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
