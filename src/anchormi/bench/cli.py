"""Commands ``anchormi bench``, ``anchormi reproduce staircase`` and ``anchormi reproduce images``.

``register(app, reproduce_app)`` adds them to the main typer app and its ``reproduce`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..cli_errors import one_line_errors
from .options import RunOptions, SeedsOption, command_line, comma_list, parse_seeds, run_options
from .specs import parse_spec


def _estimator_overrides(base: dict, batch_size: Optional[int], max_steps: Optional[int], lr: Optional[float],
                         params: Optional[List[str]]) -> Optional[dict]:
    overrides = {"batch_size": batch_size, "max_steps": max_steps, "lr": lr}
    extra = {}
    for item in params or []:
        _, parsed = parse_spec(f"param:{item}", "--param")
        extra.update(parsed)
    merged = {**base, **{k: v for k, v in overrides.items() if v is not None}, **extra}
    return merged if merged != base else None


def _run(config, run: RunOptions, name: str) -> None:
    from .executors import interrupt_on_sigterm
    from .report import console_table, stream_tables
    from .runner import run_sweep

    try:
        # SIGTERM (kill, a batch scheduler) ends the sweep like Ctrl-C: the workers are stopped,
        # finished cells stay on disk, and a rerun resumes.
        with one_line_errors(), interrupt_on_sigterm():
            outcome = run_sweep(config, executor=run.executor(), progress=run.progress, figures=run.figures,
                                command=command_line(name), echo=typer.echo)
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: finished cells are kept in {config.out}/cells; rerun the same command to resume.", err=True)
        raise typer.Exit(code=130)
    if not outcome.rmse.empty:
        typer.echo("\nRMSE (nats):")
        typer.echo(console_table(outcome.rmse, index=True))
    if not outcome.summary.empty:
        typer.echo("\nSummary:")
        if config.mode == "stream":
            typer.echo(console_table(stream_tables(outcome.summary)[0]))
        else:
            typer.echo(console_table(outcome.summary.drop(columns=["family"])))
    typer.echo(f"\n{outcome.ran} cells run, {outcome.skipped} reused, {len(outcome.failures)} failed in {outcome.seconds:.1f} s.")
    for name, path in outcome.files.items():
        typer.echo(f"  {name}: {path}")
    if outcome.failures:
        for cell, failure in outcome.failures:
            typer.echo(f"FAILED {cell.describe()}: {failure.strip().splitlines()[-1]}", err=True)
        typer.echo("rerun the same command to retry the failed cells; finished cells are kept.", err=True)
        raise typer.Exit(code=1)


@run_options
def bench(
    config: Optional[Path] = typer.Option(None, "--config", "-c", exists=True, dir_okay=False, help="TOML sweep configuration (see docs/bench.md); flags override it."),
    task: Optional[List[str]] = typer.Option(None, "--task", "-t", help="task spec, repeatable: 'gaussian:dim=20,mi=[2,6,10]', 'cubic:dim=20,mi=6', 'digits:k=2'. Stream mode: 'gaussian:dim=20'."),
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="method spec, repeatable: 'anchor', 'anchor:rule=brier', 'ksg:n_neighbors=5' (see `anchormi objectives`)."),
    critic: Optional[List[str]] = typer.Option(None, "--critic", help="critic, repeatable: separable | joint | bilinear | cosine | bounded | soft_bounded (default: the estimator's default critic)."),
    seeds: SeedsOption = None,
    n: Optional[str] = typer.Option(None, "--n", help="comma-separated sample sizes N (fixed mode), e.g. 2000,10000."),
    mode: Optional[str] = typer.Option(None, help="fixed (N samples, anchormi.estimate) | stream (staircase, a fresh batch per step)."),
    levels: Optional[str] = typer.Option(None, help="stream mode: comma-separated MI levels in nats, e.g. 2,4,6,8,10."),
    steps_per_level: Optional[int] = typer.Option(None, help="stream mode: training steps per level."),
    burn_in: Optional[float] = typer.Option(None, help="stream mode: share of each level left out of the statistics (default 0.5)."),
    batch_size: Optional[int] = typer.Option(None, help="estimator batch size B."),
    max_steps: Optional[int] = typer.Option(None, help="estimator step budget (fixed mode)."),
    lr: Optional[float] = typer.Option(None, help="estimator learning rate."),
    param: Optional[List[str]] = typer.Option(None, "--param", help="any MIEstimator argument, repeatable: hidden=[64,64], weight_decay=0.1."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default bench_output); finished cells there are reused."),
    title: Optional[str] = typer.Option(None, help="report title."),
    run: RunOptions = RunOptions(),
) -> None:
    """Sweep tasks x methods x critics x seeds x N; write results, summary, figures and report.md."""
    from .config import SweepConfig, load_config

    with one_line_errors():
        base = load_config(config) if config is not None else SweepConfig()
        sweep = base.replace(
            tasks=list(task) if task else None, methods=list(method) if method else None,
            critics=list(critic) if critic else None, seeds=parse_seeds(seeds), n=comma_list(n, int, "--n"),
            mode=mode, levels=comma_list(levels, float, "--levels"), steps_per_level=steps_per_level, burn_in=burn_in,
            estimator=_estimator_overrides(base.estimator, batch_size, max_steps, lr, param),
            out=str(out) if out is not None else None, format=run.format, title=title,
        )
    _run(sweep, run, "anchormi bench")


def _reproduce(name, config, out, seeds, methods, critics, run: RunOptions, **changes) -> None:
    with one_line_errors():
        config = config.replace(
            out=str(out) if out is not None else None, seeds=parse_seeds(seeds), methods=comma_list(methods, str, "--methods"),
            critics=comma_list(critics, str, "--critics"), format=run.format, **changes,
        )
    _run(config, run, name)


@run_options
def reproduce_staircase(
    quick: bool = typer.Option(False, "--quick", help="CI-sized run: separable critic, 100 steps per level."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default reproduce_output/staircase[-quick])."),
    steps_per_level: Optional[int] = typer.Option(None, help="override the steps per level (full: 4000)."),
    families: Optional[str] = typer.Option(None, help="comma-separated task families (default gaussian,cubic)."),
    dim: int = typer.Option(20, help="dimension of x and of y."),
    seeds: SeedsOption = None,
    methods: Optional[str] = typer.Option(None, help="comma-separated methods (default: the nine estimators and anchor:nu=1)."),
    critics: Optional[str] = typer.Option(None, help="comma-separated critics (default separable,joint; quick: separable)."),
    run: RunOptions = RunOptions(),
) -> None:
    """The staircase: MI 2 -> 10 nats in R^20, Gaussian and cubic, B=64, separable and joint critics, all estimators."""
    from .reproduce import staircase_config

    family_list = comma_list(families, str, "--families")
    _reproduce("anchormi reproduce staircase" + (" --quick" if quick else ""), staircase_config(quick, steps_per_level),
               out, seeds, methods, critics, run,
               tasks=[f"{family}:dim={dim}" for family in (family_list or ["gaussian", "cubic"])])


@run_options
def reproduce_images(
    quick: bool = typer.Option(False, "--quick", help="CI-sized run: N=2000, 300 steps, one seed."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default reproduce_output/images[-quick])."),
    ks: Optional[str] = typer.Option(None, "--ks", help="comma-separated numbers of image pairs k (default 1,2,3,4)."),
    n: Optional[str] = typer.Option(None, "--n", help="comma-separated sample sizes (default 10000; quick 2000)."),
    max_steps: Optional[int] = typer.Option(None, help="estimator step budget (default: anchormi.estimate's; quick 300)."),
    seeds: SeedsOption = None,
    methods: Optional[str] = typer.Option(None, help="comma-separated methods (default: the nine estimators, anchor:nu=1 and gaussian)."),
    critics: Optional[str] = typer.Option(None, help="comma-separated critics (default: the estimator's default critic)."),
    run: RunOptions = RunOptions(),
) -> None:
    """Same-class digit-image pairs, k = 1..4 (I = k H(C), about 2.3 -> 9.2 nats), through anchormi.estimate."""
    from .reproduce import images_config

    config = images_config(quick)
    k_list = comma_list(ks, int, "--ks")
    estimator = dict(config.estimator, **({"max_steps": max_steps} if max_steps is not None else {}))
    _reproduce("anchormi reproduce images" + (" --quick" if quick else ""), config, out, seeds, methods, critics, run,
               tasks=[f"digits:k=[{','.join(map(str, k_list))}]"] if k_list else None, n=comma_list(n, int, "--n"),
               estimator=estimator)


def register(app: typer.Typer, reproduce_app: typer.Typer) -> None:
    """Add ``bench`` to ``app`` and ``staircase`` / ``images`` to the ``reproduce`` group."""
    app.command("bench")(bench)
    reproduce_app.command("staircase")(reproduce_staircase)
    reproduce_app.command("images")(reproduce_images)
