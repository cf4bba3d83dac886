"""Text specs for tasks and methods: ``family:key=value,...`` and ``method:key=value,...``.

    gaussian:dim=20,mi=[2,6,10]   -> three tasks (a list value sweeps; nest it, [[1,2]], for a literal list)
    digits:k=2                    -> one task
    anchor:rule=brier             -> the anchor objective with the Brier score, labelled "anchor[rule=brier]"

Values are read as JSON where they parse (numbers, true/false, null, lists), else as strings.
TOML configs may give the same as tables: {family = "gaussian", dim = 20, mi = [2, 6]} or
{name = "anchor", rule = "brier"}.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

_PYTHON_LITERALS = {"True": True, "False": False, "None": None}


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def parse_value(text: str) -> Any:
    """'20' -> 20, '0.5' -> 0.5, '[2,4]' -> [2, 4], 'true' -> True, 'brier' -> 'brier'."""
    if text in _PYTHON_LITERALS:
        return _PYTHON_LITERALS[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_spec(text: str, what: str) -> tuple[str, dict[str, Any]]:
    """``name:key=value,...`` -> (name, params). ``what`` names the option in error messages."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what}={text!r} is empty; pass e.g. 'gaussian:dim=20,mi=6' or 'anchor'.")
    name, _, rest = text.strip().partition(":")
    params: dict[str, Any] = {}
    for item in _split_top_level(rest):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(
                f"{what}={text!r}: {item!r} is not key=value; write e.g. '{name}:dim=20,mi=6'."
            )
        params[key.strip()] = parse_value(value.strip())
    return name.strip(), params


def spec_from_entry(entry: Any, what: str, name_keys: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """A string spec or a TOML table with the name under one of ``name_keys``."""
    if isinstance(entry, str):
        return parse_spec(entry, what)
    if isinstance(entry, dict):
        found = [key for key in name_keys if key in entry]
        if len(found) != 1:
            raise ValueError(f"{what} table {entry!r} needs exactly one of the keys {list(name_keys)}.")
        params = dict(entry)
        return str(params.pop(found[0])), params
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], dict):
        return entry[0], dict(entry[1])
    raise ValueError(f"{what} entry {entry!r} is neither a 'name:key=value' string nor a table.")


def expand_lists(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product over list-valued params; [[a, b]] stands for the literal list [a, b]."""
    axes = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            if len(value) == 1 and isinstance(value[0], (list, tuple)):
                axes.append([(key, list(value[0]))])
            else:
                axes.append([(key, item) for item in value])
        else:
            axes.append([(key, value)])
    return [dict(choice) for choice in itertools.product(*axes)]


def format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(item) for item in value) + "]"
    return str(value)


def label(name: str, params: dict[str, Any]) -> str:
    """'anchor' or 'anchor[rule=brier]': the method name as the tables and figures show it."""
    if not params:
        return name
    return name + "[" + ",".join(f"{key}={format_value(params[key])}" for key in sorted(params)) + "]"


def canonical(value: Any) -> Any:
    """JSON-stable form: tuples -> lists, numpy scalars -> Python, dict keys sorted on dump."""
    if isinstance(value, dict):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value
