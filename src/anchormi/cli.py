"""The ``anchormi`` command line (typer).

    anchormi estimate data.npz [--method anchor] [--json]     (or x.npy y.npy, or table.csv --x-cols a --y-cols b [--sep ";"])
    anchormi estimate table.csv --x-cols a --y-cols b --z-cols c --save model.pt --pmi pairs.parquet
    anchormi pmi model.pt new.npz --out scores.parquet
    anchormi objectives
    anchormi demo
    anchormi bench ...            (anchormi.bench)
    anchormi reproduce staircase|images|ssl|pmi ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

from .cli_errors import one_line_errors

# Only typer and the standard library at module level: `anchormi --help` must not pay for numpy,
# pandas or torch. Each command imports what it needs.

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Mutual-information estimation done right: InfoNCE-anchor and friends.")
reproduce_app = typer.Typer(no_args_is_help=True, help="Reproduce the study's experiments.")
app.add_typer(reproduce_app, name="reproduce")

# estimate's options that are estimator parameters: command-line flag -> parameter name.
ESTIMATOR_OPTIONS = {
    "--critic": "critic", "--batch-size": "batch_size", "--max-steps": "max_steps", "--lr": "lr", "--nu": "nu",
    "--rule": "rule", "--k": "k", "--readout": "readout", "--seed": "seed", "--device": "device",
    "--n-neighbors": "n_neighbors", "--folds": "folds", "--n-permutations": "n_permutations",
    "--n-threads": "n_threads", "--discrete-x": "discrete_x", "--discrete-y": "discrete_y", "--discrete-z": "discrete_z",
}
TABLE_OUTPUTS = (".parquet", ".pq", ".csv")


class InputError(ValueError):
    """A command-line input that cannot work; shown as one ``error:`` line with exit code 2."""


def parse_params(items: Optional[List[str]]) -> Dict[str, Any]:
    """``["patience=500", "hidden=[64,64]"]`` -> {"patience": 500, "hidden": [64, 64]}.

    Values are read as JSON where they parse (numbers, true/false, null, lists), else as strings.
    """
    import json

    params: Dict[str, Any] = {}
    for item in items or []:
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name:
            raise InputError(f"--param {item!r} is not name=value; write e.g. --param patience=500.")
        text = text.strip()
        literals = {"True": True, "False": False, "None": None}
        if text in literals:
            params[name] = literals[text]
            continue
        try:
            params[name] = json.loads(text)
        except json.JSONDecodeError:
            params[name] = text
    return params


def _flag(name: str) -> str:
    flags = {parameter: flag for flag, parameter in ESTIMATOR_OPTIONS.items()}
    return flags.get(name, f"--param {name}=...")


def method_kwargs(method: str, given: Dict[str, Any], plot: bool) -> Dict[str, Any]:
    """Check that every given option applies to ``method``; return the keyword arguments for it.

    ``given`` maps parameter names to the values the user passed (defaults left out). Raises
    InputError naming the option and the options that do apply, before any work starts.
    """
    import inspect

    from .classical import CLASSICAL

    if method in CLASSICAL:
        signature = inspect.signature(CLASSICAL[method]).parameters
        accepted = [name for name in signature if name not in ("x", "y")]
        # keyword-only parameters are deprecated aliases: accepted, not advertised
        shown = [name for name in accepted if signature[name].kind is not inspect.Parameter.KEYWORD_ONLY]
        takes = f"{method} takes {', '.join(_flag(name) for name in shown)}" if shown else f"{method} takes no options"
        for name in given:
            if name not in accepted:
                raise InputError(
                    f"{_flag(name)} does not apply to method {method} (a classical estimator, no training); "
                    f"{takes}. Leave {_flag(name).split('=')[0]} out, or pick a trained method (`anchormi objectives`)."
                )
        if plot:
            raise InputError(f"--plot does not apply to method {method}: it has no training curves; leave --plot out.")
        return dict(given)

    from . import objectives
    from .estimator import MIEstimator

    if method not in objectives.available():
        raise InputError(
            f"--method {method!r} is unknown; choose one of {sorted([*objectives.available(), *CLASSICAL])} "
            "(`anchormi objectives` describes them)."
        )
    accepted = [name for name in inspect.signature(MIEstimator.__init__).parameters if name not in ("self", "objective")]
    unknown = [name for name in given if name not in accepted]
    if unknown:
        raise InputError(
            f"{_flag(unknown[0])} does not apply to method {method}: MIEstimator has no parameter {unknown[0]!r}; "
            f"it has {accepted}."
        )
    return dict(given)


def _given_options(ctx: typer.Context, values: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    """Estimator options the user set on the command line (not left at their defaults), plus --param."""
    # Compared by name: recent typer vendors its own click, whose ParameterSource is another enum.
    given = {name: value for name, value in values.items()
             if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")}
    twice = sorted(set(given) & set(params))
    if twice:
        raise InputError(f"{_flag(twice[0])} and --param {twice[0]}=... both set {twice[0]}; give it once.")
    return {**given, **params}


@app.command()
def estimate(
    ctx: typer.Context,
    files: List[Path] = typer.Argument(..., help="one .npz with arrays x and y (and z for I(X;Y|Z)), two or three .npy files (x.npy y.npy [z.npy]), or one .csv/.tsv/.parquet table with --x-cols and --y-cols (and --z-cols)."),
    method: str = typer.Option("anchor", help="objective name, or a classical estimator: 'ksg', 'gaussian', 'gaussian_copula', 'discrete' (see `anchormi objectives`)."),
    x_cols: Optional[str] = typer.Option(None, "--x-cols", help="table input: comma-separated columns of x."),
    y_cols: Optional[str] = typer.Option(None, "--y-cols", help="table input: comma-separated columns of y."),
    z_cols: Optional[str] = typer.Option(None, "--z-cols", help="table input: columns of z, to estimate the conditional MI I(X;Y|Z)."),
    discrete_x: Optional[bool] = typer.Option(None, "--discrete-x/--continuous-x", help="x is categorical (one-hot encoded) / numeric (default: by column type; text, category and bool columns are categorical)."),
    discrete_y: Optional[bool] = typer.Option(None, "--discrete-y/--continuous-y", help="y is categorical / numeric, e.g. --discrete-y for integer class labels."),
    discrete_z: Optional[bool] = typer.Option(None, "--discrete-z/--continuous-z", help="z is categorical / numeric."),
    sep: Optional[str] = typer.Option(None, "--sep", help="CSV delimiter, e.g. ';' or '\\t' (default: sniffed from the file: , ; tab or |)."),
    critic: Optional[str] = typer.Option(None, help="soft_bounded (the default: separable with s*e/sqrt(1+e^2) embeddings) | separable (unbounded) | bounded (s*tanh embeddings) | joint | bilinear | cosine."),
    batch_size: Optional[int] = typer.Option(None, help="pairs per training step."),
    max_steps: Optional[int] = typer.Option(None, help="step budget (default: chosen from the data size)."),
    lr: Optional[float] = typer.Option(None, help="learning rate (AdamW)."),
    nu: Optional[float] = typer.Option(None, help="anchor weight (anchor objective)."),
    rule: Optional[str] = typer.Option(None, help="scoring rule for anchor: log | brier | spherical | pseudo_spherical."),
    k: Optional[int] = typer.Option(None, "--k", help="anchor family: negatives per positive, K (default: batch size - 1)."),
    n_neighbors: Optional[int] = typer.Option(None, "--n-neighbors", help="ksg: neighbour count (default 3)."),
    readout: Optional[str] = typer.Option(None, help="how the estimate is read: plugin | infonce | nwj | dv | smile."),
    folds: Optional[int] = typer.Option(None, help="cross-fitting folds: F >= 2 holds every pair out once and the interval covers the spread between critics; 1 is one train/val/test split (default 5, fewer below 200 samples)."),
    n_permutations: Optional[int] = typer.Option(None, help="permutations for the p-value of X independent of Y; 0 skips it (default 200)."),
    n_threads: Optional[int] = typer.Option(None, "--n-threads", "--threads", help="torch threads while training (default: start on one, use more only while timed steps show them faster)."),
    param: Optional[List[str]] = typer.Option(None, "--param", help="any other estimator parameter as name=value, repeatable, e.g. --param patience=500 --param hidden=[64,64]."),
    seed: int = typer.Option(0, help="random seed; the same seed gives the same estimate."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="print the result as JSON."),
    plot: Optional[Path] = typer.Option(None, help="save the training curves to this PNG/SVG."),
    save: Optional[Path] = typer.Option(None, "--save", help="save the fitted estimator to this file (reuse it with `anchormi pmi`)."),
    pmi: Optional[Path] = typer.Option(None, "--pmi", help="write one row per held-out pair (row, fold, pmi in nats) to this .parquet or .csv."),
    level: float = typer.Option(0.95, "--level", help="coverage of the printed interval, e.g. 0.9 or 0.99 (JSON: 'interval'; 'ci' stays the 95 % one)."),
) -> None:
    """Estimate I(X;Y), or I(X;Y|Z) with z, from a file of paired samples."""
    values = {"critic": critic, "batch_size": batch_size, "max_steps": max_steps, "lr": lr, "nu": nu, "rule": rule,
              "k": k, "n_neighbors": n_neighbors, "readout": readout, "folds": folds, "n_permutations": n_permutations,
              "n_threads": n_threads, "seed": seed, "device": device,
              "discrete_x": discrete_x, "discrete_y": discrete_y, "discrete_z": discrete_z}
    with one_line_errors():
        _estimate(files, method, (x_cols, y_cols, z_cols), sep, _given_options(ctx, values, parse_params(param)),
                  as_json, plot, save, pmi, level)


def _check_output(path: Optional[Path], option: str, suffixes: tuple = ()) -> None:
    """Fail before any work when an output path cannot be written: no folder, or the wrong suffix."""
    if path is None:
        return
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{option} {path}: the suffix must be one of {', '.join(suffixes)}.")
    if not path.parent.exists():
        raise InputError(f"{option} {path}: folder {path.parent} does not exist; create it first.")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; pass a file name.")


def _estimate(files: List[Path], method: str, columns: tuple, sep: Optional[str], given: Dict[str, Any],
              as_json: bool, plot: Optional[Path], save: Optional[Path], pmi: Optional[Path], level: float = 0.95) -> None:
    import json

    from ._validation import fraction, validate_params
    from .classical import CLASSICAL
    from .io import load_data

    kwargs = method_kwargs(method, given, plot is not None)  # before loading: option mistakes fail fast
    validate_params({"--level": level}, {"--level": fraction})  # MIResult.interval's own rule, before any work
    if method in CLASSICAL and (save is not None or pmi is not None):
        option = "--save" if save is not None else "--pmi"
        raise InputError(f"{option} needs a trained critic; method {method} is classical. Leave {option} out, or use --method anchor.")
    _check_output(save, "--save")
    _check_output(pmi, "--pmi", TABLE_OUTPUTS)
    x, y, z = load_data(files, *columns, sep=sep)
    if method in CLASSICAL:
        from .api import estimate as estimate_mi

        result = estimate_mi(x, y, z=z, method=method, **kwargs)
    else:
        from .estimator import MIEstimator
        from .files import atomic_write_table

        fitted = MIEstimator(objective=method, **kwargs).fit(x, y, z=z)
        result = fitted.result_
        if save is not None:
            fitted.save(save)
            typer.echo(f"saved the fitted estimator to {save}", err=True)
        if pmi is not None:
            atomic_write_table(pmi, fitted.heldout_pmi_)
            typer.echo(f"wrote {len(fitted.heldout_pmi_)} held-out pairs (row, fold, pmi) to {pmi}", err=True)
    if plot is not None:
        result.plot(path=str(plot))
    if as_json:
        payload = result.to_dict(level)
        payload.pop("history", None)
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(result.summary(level))


@app.command("pmi")
def pmi_command(
    model: Path = typer.Argument(..., help="a file written by `anchormi estimate --save` (or MIEstimator.save)."),
    files: List[Path] = typer.Argument(..., help="the pairs to score, in the same form as for estimate (with z when the model is conditional)."),
    out: Path = typer.Option(..., "--out", help="where to write one row per pair (row, pmi in nats): .parquet or .csv."),
    x_cols: Optional[str] = typer.Option(None, "--x-cols", help="table input: columns of x."),
    y_cols: Optional[str] = typer.Option(None, "--y-cols", help="table input: columns of y."),
    z_cols: Optional[str] = typer.Option(None, "--z-cols", help="table input: columns of z (conditional models)."),
    sep: Optional[str] = typer.Option(None, "--sep", help="CSV delimiter (default: sniffed)."),
) -> None:
    """Score new pairs with a saved estimator: the pointwise log ratio log p(x,y)/(p(x)p(y)) per pair."""
    with one_line_errors():
        _check_output(out, "--out", TABLE_OUTPUTS)
        import pandas as pd

        from .estimator import MIEstimator
        from .files import atomic_write_table
        from .io import load_data

        if not model.exists():
            raise InputError(f"{model}: no such model file; write one with `anchormi estimate ... --save {model}`.")
        fitted = MIEstimator.load(model)
        x, y, z = load_data(files, x_cols, y_cols, z_cols, sep=sep)
        values = fitted.pmi(x, y, z=z)
        atomic_write_table(out, pd.DataFrame({"row": range(len(values)), "pmi": values}))
        typer.echo(f"wrote {len(values)} pairs to {out}: mean pmi {values.mean():.4f} nats")


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
    max_steps: Optional[int] = typer.Option(None, min=1, help="cap on the neural methods' training steps (default: their own budget)."),
) -> None:
    """Anchor, InfoNCE, NWJ, SMILE and KSG on a Gaussian with known MI: a table and a figure."""
    from .demo import run_demo

    with one_line_errors():
        run_demo(out_dir=out, n=n, dim=dim, mi=mi, batch_size=batch_size, seed=seed, max_steps=max_steps, echo=typer.echo)


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
