"""``anchormi reproduce ssl`` and ``anchormi reproduce pmi`` (``anchormi.pairs``): registered on the reproduce sub-app.

    anchormi reproduce ssl [--quick] [--out DIR] [--epochs N] [--seeds 0,1,2] [--objectives LIST] [--data PATH]
    anchormi reproduce pmi [--quick] [--out DIR] [--runs N] [--objectives LIST] [--signal NATS] [--warp cubic]

Objective lists are comma-separated registry names with optional parameters, e.g.
``infonce,anchor,spherical,anchor:nu=1``; "spherical" means ``anchor:rule=spherical``. Tables
show every row's resolved loss parameters (registry defaults merged with the spec). ``--seeds`` and
``--progress`` are the options every experiment command shares (``anchormi.bench.options``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..cli_errors import one_line_errors
from ..bench.options import ProgressOption, SeedsOption, command_line, parse_seeds

__all__ = ["register", "load_user_images"]


def load_user_images(path: Path):
    """Labelled images from a folder (class subfolders), a .npz (``images`` and ``labels``) or a .npy.

    Returns ``anchormi.ssl.data.ImageData``. A .npy holds images only, so its labels are -1 and
    the probe cannot run; use a .npz with labels or class subfolders for the reproduction.
    """
    import numpy as np

    from .data import images_from_array, load_image_folder

    if path.is_dir():
        return load_image_folder(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            image_key = next((k for k in ("images", "x") if k in archive.files), None)
            label_key = next((k for k in ("labels", "y") if k in archive.files), None)
            if image_key is None:
                raise typer.BadParameter(f"{path} holds {archive.files}; save the images as 'images' (and 'labels').")
            return images_from_array(archive[image_key], archive[label_key] if label_key else None)
    if path.suffix == ".npy":
        return images_from_array(np.load(path, allow_pickle=False))
    raise typer.BadParameter(f"{path}: pass a folder of images, a .npz with images and labels, or a .npy of images.")


def register(reproduce_app: typer.Typer) -> None:
    """Add the ``ssl`` and ``pmi`` commands to ``anchormi reproduce``."""

    @reproduce_app.command("ssl")
    def ssl_command(
        out: Path = typer.Option(Path("reproduce_ssl"), help="output folder; rerunning with the same folder resumes."),
        quick: bool = typer.Option(False, "--quick", help="tiny CI run (seconds): 1 seed, 2 epochs, small model, 400 images."),
        epochs: Optional[int] = typer.Option(None, help="epochs per run (full default 100)."),
        seeds: SeedsOption = None,
        objectives: Optional[str] = typer.Option(None, help="comma list (default infonce,anchor,anchor:nu=1,chi2,nce,spherical; anchor uses the library default nu, anchor:nu=1 the paper's)."),
        batch_size: Optional[int] = typer.Option(None, help="images per step (full default 256)."),
        temperature: Optional[float] = typer.Option(None, help="cosine critic tau (default 0.5)."),
        max_images: Optional[int] = typer.Option(None, help="use a stratified subset of this many images."),
        data: Optional[Path] = typer.Option(None, exists=True, help="labelled images: a folder with class subfolders or a .npz with images and labels (default: scikit-learn digits)."),
        device: str = typer.Option("auto", help="auto (GPU when present) | cpu | cuda."),
        progress: ProgressOption = None,
    ) -> None:
        """SimCLR-style training with InfoNCE, anchor, chi2, NCE (K=1) and spherical: probe, CKA, alignment/uniformity."""
        from .reproduce_ssl import SSLSettings, reproduce_ssl

        os.environ.setdefault("MPLBACKEND", "Agg")
        overrides = {"epochs": epochs, "batch_size": batch_size, "temperature": temperature, "max_images": max_images}
        overrides = {k: v for k, v in overrides.items() if v is not None}
        seed_list = parse_seeds(seeds)  # the seeds themselves (default 0,1,2; quick 0), as in bench
        if seed_list is not None:
            overrides["seeds"] = tuple(seed_list)
        if objectives is not None:
            overrides["objectives"] = tuple(_split(objectives))
        with one_line_errors():
            settings = SSLSettings.quick(**overrides) if quick else SSLSettings.full(**overrides)
            images = load_user_images(data) if data is not None else None
            reproduce_ssl(out, settings, data=images, data_name=str(data) if data else "digits", device=device,
                          progress=progress, echo=typer.echo, command=command_line("anchormi reproduce ssl"))

    @reproduce_app.command("pmi")
    def pmi_command(
        out: Path = typer.Option(Path("reproduce_pmi"), help="output folder; rerunning with the same folder resumes."),
        quick: bool = typer.Option(False, "--quick", help="tiny CI run: 3 runs, small data and budget."),
        runs: Optional[int] = typer.Option(None, help="independent runs (full default 20)."),
        objectives: Optional[str] = typer.Option(None, help="comma list (default anchor,anchor:nu=1,nce,chi2,spherical,infonce)."),
        signal: Optional[float] = typer.Option(None, help="I(X;Y) of the latent-variable task in nats (default 2)."),
        warp: Optional[str] = typer.Option(None, help="none | cubic (y -> y^3; PMI unchanged, harder to learn)."),
        n_train: Optional[int] = typer.Option(None, help="training pairs per run (full default 4000)."),
        max_steps: Optional[int] = typer.Option(None, help="training steps per fit (full default 2000)."),
        critic: Optional[str] = typer.Option(None, help="any of anchormi.critics.CRITICS (default: the estimator's default critic)."),
        device: str = typer.Option("auto", help="auto (GPU when present) | cpu | cuda."),
    ) -> None:
        """Score held-out candidate pairs by estimated PMI; AUROC across y and within y, and the offset log Z(y)."""
        from ..pairs.reproduce import PMISettings, reproduce_pmi

        os.environ.setdefault("MPLBACKEND", "Agg")
        overrides = {"runs": runs, "signal": signal, "warp": warp, "n_train": n_train, "max_steps": max_steps, "critic": critic}
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if objectives is not None:
            overrides["objectives"] = tuple(_split(objectives))
        with one_line_errors():
            settings = PMISettings.quick(**overrides) if quick else PMISettings.full(**overrides)
            reproduce_pmi(out, settings, device=device, echo=typer.echo, command=command_line("anchormi reproduce pmi"))


def _split(objectives: str) -> list[str]:
    from .reporting import parse_objectives

    try:
        return [spec.label for spec in parse_objectives(objectives)]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--objectives") from error
