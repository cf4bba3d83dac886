"""Small helpers the reproductions share: objective specs, mean ± sd, atomic figures.

Atomic files and Markdown tables live in ``anchormi.files``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import objectives
from ..files import atomic_write_bytes

__all__ = ["ObjectiveSpec", "parse_objective", "parse_objectives", "resolved_params", "describe_params", "mean_sd", "save_figure"]

# Short names for objective settings the study reports.
ALIASES = {"spherical": "anchor:rule=spherical", "anchor-spherical": "anchor:rule=spherical"}


class ObjectiveSpec(tuple):
    """(label, objective name, loss parameters), e.g. ("spherical", "anchor", {"rule": "spherical"})."""

    def __new__(cls, label: str, name: str, params: dict[str, Any]):
        return super().__new__(cls, (label, name, dict(params)))

    label = property(lambda self: self[0])
    name = property(lambda self: self[1])
    params = property(lambda self: self[2])


def parse_objective(spec: str) -> ObjectiveSpec:
    """Read "name" or "name:key=value,key=value" (or an alias such as "spherical").

    Values are read as int, float, true/false, else kept as text: "anchor:nu=16,rule=brier".
    Unknown objectives and parameters raise ValueError with the choices.
    """
    text = spec.strip()
    if not text:
        raise ValueError("an objective spec is empty; pass names such as 'anchor,infonce'.")
    name, _, rest = ALIASES.get(text, text).partition(":")
    objective = objectives.get(name.strip())
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"objective spec {spec!r}: {item!r} is not key=value.")
        key = key.strip()
        if key not in objective.defaults:
            raise ValueError(
                f"objective spec {spec!r}: {key!r} is not a parameter of {objective.name!r}; it takes "
                f"{sorted(objective.defaults) or 'none'}."
            )
        params[key] = _parse_value(value.strip())
    return ObjectiveSpec(text, objective.name, params)


def resolved_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The loss parameters an objective actually trains with: its registry defaults, then ``params``."""
    merged = {**objectives.get(name).defaults, **params}
    return {key: value for key, value in merged.items() if value is not None}


def describe_params(name: str, params: dict[str, Any]) -> str:
    """"nu=16, rule=log" for the resolved parameters; "—" when the objective takes none."""
    merged = resolved_params(name, params)
    return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in merged.items()) or "—"


def parse_objectives(specs: str | Sequence[str]) -> list[ObjectiveSpec]:
    """A comma list or a sequence of specs: "infonce,anchor,spherical,anchor:nu=16,rule=brier".

    A comma token of the form key=value (without ":") continues the spec before it.
    """
    if isinstance(specs, str):
        parts: list[str] = []
        for token in (t.strip() for t in specs.replace(";", ",").split(",")):
            if "=" in token and ":" not in token and parts:
                parts[-1] += "," + token
            else:
                parts.append(token)
    else:
        parts = list(specs)
    parsed = [parse_objective(part) for part in parts if part.strip()]
    labels = [spec.label for spec in parsed]
    if len(set(labels)) != len(labels):
        raise ValueError(f"objectives lists a name twice: {labels}.")
    if not parsed:
        raise ValueError("no objective given; pass e.g. 'anchor,infonce'.")
    return parsed


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def save_figure(figure: Any, path: str | os.PathLike) -> None:
    """Save a matplotlib figure atomically (format by the suffix of ``path``) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def mean_sd(values: Iterable[float], scale: float = 1.0, digits: int = 3) -> str:
    """"mean ± sd" (sample sd, ddof=1) of the finite values; "mean" alone for one value; "—" for none."""
    array = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64) * scale
    if array.size == 0:
        return "—"
    if array.size == 1:
        return f"{array[0]:.{digits}f}"
    return f"{array.mean():.{digits}f} ± {array.std(ddof=1):.{digits}f}"
