"""Save a fitted MIEstimator to one file and load it back, without pickling code.

    save_estimator(est, "model.pt")          # one torch.save file, written atomically
    est = load_estimator("model.pt")         # pmi / estimate give the same output as before

The file holds only plain values (numbers, strings, None, lists, tuples, dicts) and tensors, and
is read with ``torch.load(weights_only=True)``, so loading a file cannot run code from it: the
critics are rebuilt by name with :func:`anchormi.critics.make_critic` and their weights loaded
from state dicts, the scalers are rebuilt from their arrays, and the objective is looked up in
the registry by name. Hence a user-supplied ``nn.Module`` critic cannot be saved this way (its
class would have to be imported from the file); ``pickle`` still works for those.

Contents: a magic string, the format number (FORMAT), the anchormi and torch versions, the
estimator's parameters, each fold critic's state dict (and the I(X;Z) critics of a conditional
fit), the per-column maps, the categories of one-hot encoded columns, every plain fitted attribute (objective name, loss and readout
parameters, sizes, ...), the training history and the fitted result as dicts of lists.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .encoding import encoder_from_plain, encoder_to_plain

MAGIC = "anchormi-estimator"
# Bump when the layout changes in a way an older reader cannot follow; load refuses other numbers.
FORMAT = 1

# Fitted attributes with a rule of their own; every other fitted attribute must be plain data.
_CRITIC_LISTS = ("critics_", "critics_z_")
_SCALER_LISTS = ("scalers_", "scalers_z_")
_FRAMES = ("history_", "stream_history_", "heldout_pmi_")
_SPECIAL = (*_CRITIC_LISTS, *_SCALER_LISTS, *_FRAMES, "critic_", "objective_", "device_", "result_", "encoders_")


# ---- plain values -------------------------------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain data that ``torch.load(weights_only=True)`` reads back; ValueError otherwise.

    numpy scalars become Python numbers and numpy arrays become tensors.
    """
    if isinstance(value, np.generic):  # before the Python types: np.float64 is a float subclass
        return value.item()
    if value is None or type(value) in (bool, int, float, str):
        return value
    for kind in (bool, int, float, str):  # subclasses (IntEnum, torch's TorchVersion, ...) as their base type
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value.tolist())]
        return torch.from_numpy(np.array(value))
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {_plain(k, f"{where} key"): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise ValueError(
        f"{where} holds a {type(value).__name__}, which cannot be stored as plain data; "
        "save_estimator stores only numbers, strings, lists, dicts and arrays."
    )


def _frame_to_plain(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "columns": [_plain(c, "column name") for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "data": [_plain(frame[c].tolist(), f"column {c!r}") for c in frame.columns],
    }


def _frame_from_plain(stored: dict[str, Any]) -> pd.DataFrame:
    columns = {}
    for name, dtype, data in zip(stored["columns"], stored["dtypes"], stored["data"]):
        try:
            columns[name] = pd.Series(data, dtype=pd.api.types.pandas_dtype(dtype))
        except (TypeError, ValueError):
            columns[name] = pd.Series(data)
    return pd.DataFrame(columns, columns=list(stored["columns"]))


def _result_to_plain(result: Any) -> dict[str, Any]:
    """Every field of an MIResult: tables as dicts of lists, diagnostics as dicts."""
    from .result import Check

    stored = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, pd.DataFrame):
            stored[field.name] = {"kind": "frame", "value": _frame_to_plain(value)}
        elif isinstance(value, dict) and value and all(isinstance(v, Check) for v in value.values()):
            stored[field.name] = {"kind": "checks", "value": {
                name: _plain(dataclasses.asdict(check), f"result.{field.name}[{name!r}]") for name, check in value.items()
            }}
        else:
            stored[field.name] = {"kind": "plain", "value": _plain(value, f"result.{field.name}")}
    return stored


def _result_from_plain(stored: dict[str, Any]) -> Any:
    from .result import Check, MIResult

    known = {field.name for field in dataclasses.fields(MIResult)}
    values = {}
    for name, entry in stored.items():
        if name not in known:
            continue  # a field this version does not have: the rest of the result stays usable
        if entry["kind"] == "frame":
            values[name] = _frame_from_plain(entry["value"])
        elif entry["kind"] == "checks":
            values[name] = {key: Check(**check) for key, check in entry["value"].items()}
        else:
            values[name] = entry["value"]
    return MIResult(**values)


# ---- scalers and critics --------------------------------------------------------------------------


def _transformer_classes() -> dict[str, type]:
    """The per-column maps a file may hold (anchormi.preprocessing builds them), by class name.

    Loading instantiates only these classes, so a file cannot name arbitrary code to run.
    """
    from sklearn.preprocessing import QuantileTransformer

    from .preprocessing import NormalScores, SortedQuantileTransformer

    return {"StandardScaler": StandardScaler, "QuantileTransformer": QuantileTransformer,
            "SortedQuantileTransformer": SortedQuantileTransformer, "NormalScores": NormalScores}


def _transformer_to_plain(transformer: Any, where: str) -> dict[str, Any]:
    """A fitted marginal map as plain data: class name, constructor parameters, fitted arrays.

    A scikit-learn Pipeline is stored step by step.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(transformer, Pipeline):
        return {"class": "Pipeline", "steps": [
            [name, _transformer_to_plain(step, f"{where} step {name!r}")] for name, step in transformer.steps
        ]}
    class_name = type(transformer).__name__
    if _transformer_classes().get(class_name) is not type(transformer):
        raise ValueError(
            f"{where} is a {class_name}, which save_estimator cannot store; it stores the maps of "
            f"anchormi.preprocessing ({', '.join(_transformer_classes())} and pipelines of them)."
        )
    fitted = {name: _plain(value, f"{where}.{name}") for name, value in vars(transformer).items()
              if name.endswith("_") and not name.startswith("_")}
    return {"class": class_name, "params": _plain(transformer.get_params(deep=False), f"{where} parameters"),
            "fitted": fitted}


def _transformer_from_plain(stored: dict[str, Any]) -> Any:
    from sklearn.pipeline import Pipeline

    if stored["class"] == "Pipeline":
        return Pipeline([(name, _transformer_from_plain(step)) for name, step in stored["steps"]])
    classes = _transformer_classes()
    if stored["class"] not in classes:
        raise ValueError(f"unknown marginal map class {stored['class']!r}")
    transformer = classes[stored["class"]](**stored["params"])
    for name, value in stored["fitted"].items():
        setattr(transformer, name, value.numpy() if isinstance(value, torch.Tensor) else value)
    return transformer


def _critic_to_plain(critic: nn.Module, scalers: tuple[Any, Any]) -> dict[str, Any]:
    from .critics import FiniteSupportCritic

    stored = {
        "state_dict": {name: tensor.detach().cpu().clone() for name, tensor in critic.state_dict().items()},
        "dim_x": int(scalers[0].n_features_in_), "dim_y": int(scalers[1].n_features_in_),
        "training": bool(critic.training),
    }
    if isinstance(critic, FiniteSupportCritic):
        stored["finite_support"] = {"side": critic.side, "offset": critic.offset, "size": int(critic.support.shape[0])}
    return stored


def _critic_from_plain(stored: dict[str, Any], params: dict[str, Any], device: torch.device) -> nn.Module:
    from .critics import make_critic

    from .critics import FiniteSupportCritic

    critic = make_critic(
        params["critic"], stored["dim_x"], stored["dim_y"], hidden=tuple(params["hidden"]),
        embed_dim=params["embed_dim"], temperature=params["temperature"], activation=params["activation"],
        shortcut=params.get("shortcut", False),
    )
    support = stored.get("finite_support")
    if support is not None:  # placeholders of the right shape; load_state_dict fills them
        dim = stored["dim_x"] if support["side"] == "x" else stored["dim_y"]
        critic = FiniteSupportCritic(critic, torch.zeros(support["size"], dim), torch.zeros(support["size"]),
                                     side=support["side"], offset=support["offset"])
    critic.load_state_dict(stored["state_dict"], strict=True)
    critic.train(stored["training"])
    return critic.to(device)


# ---- save and load ----------------------------------------------------------------------------------


def save_estimator(estimator: Any, path: str | os.PathLike) -> Path:
    """Write a fitted :class:`~anchormi.MIEstimator` to ``path`` (one torch.save file, atomically).

    Raises:
        sklearn.exceptions.NotFittedError: the estimator is not fitted.
        ValueError: its critic is a user-supplied ``nn.Module`` (cannot be rebuilt without running
            code; pickle the estimator instead), or a parameter or fitted attribute is not plain data.
    Returns:
        The path written.
    """
    import anchormi

    check_is_fitted(estimator, "critics_")
    raw_params = estimator.get_params(deep=False)
    if isinstance(raw_params.get("critic"), nn.Module):
        from .critics import CRITICS

        raise ValueError(
            f"critic is a user-supplied nn.Module ({type(raw_params['critic']).__name__}); save_estimator stores "
            "only plain data and rebuilds critics by name, so it cannot restore your class without running code "
            "from the file. Use pickle (pickle.dumps(estimator)) or torch.save of est.critics_[i].state_dict() "
            f"and your own constructor, or fit with a named critic (one of {list(CRITICS)})."
        )
    params = {name: _plain(value, f"parameter {name}") for name, value in raw_params.items()}
    attributes = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_") or name in _SPECIAL:
            continue
        attributes[name] = _plain(value, f"fitted attribute {name}")
    fitted = {
        "objective": estimator.objective_.name,
        "device": str(estimator.device_),
        "attributes": attributes,
        "encoders": {name: encoder_to_plain(encoder) for name, encoder in getattr(estimator, "encoders_", {}).items()},
        "frames": {name: _frame_to_plain(getattr(estimator, name)) for name in _FRAMES if hasattr(estimator, name)},
        "result": _result_to_plain(estimator.result_) if hasattr(estimator, "result_") else None,
        # fit() shares one table between history_, stream_history_ and result_.history; keep that.
        "stream_history_is_history": getattr(estimator, "stream_history_", None) is getattr(estimator, "history_", None),
        "result_history_is_history": getattr(getattr(estimator, "result_", None), "history", None)
        is getattr(estimator, "history_", None),
    }
    for critics_name, scalers_name in zip(_CRITIC_LISTS, _SCALER_LISTS):
        if hasattr(estimator, critics_name):
            critics, scalers = getattr(estimator, critics_name), getattr(estimator, scalers_name)
            fitted[critics_name] = [_critic_to_plain(c, s) for c, s in zip(critics, scalers)]
            fitted[scalers_name] = [
                [_transformer_to_plain(s, f"{scalers_name}[{i}][{j}]") for j, s in enumerate(pair)] for i, pair in enumerate(scalers)
            ]
    payload = {
        "magic": MAGIC, "format": FORMAT, "anchormi_version": anchormi.__version__, "torch_version": str(torch.__version__),
        "params": params, "fitted": fitted,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    from .files import atomic_write_bytes

    return atomic_write_bytes(path, buffer.getvalue())


def _read(path: str | os.PathLike) -> dict[str, Any]:
    redo = "Re-save the fitted estimator with anchormi.persistence.save_estimator (est.save), or fit it again."
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # truncated zip, random bytes, a pickle of objects other than plain data, ...
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # torch's weights-only refusal buries the reason ("Unsupported global: ...") in a later line
        reason = next((line for line in lines if line.startswith("WeightsUnpickler error")), lines[0] if lines else "")
        reason = reason.split(" In PyTorch")[0]  # not torch's advice to load unsafely
        raise ValueError(
            f"{os.fspath(path)!r} is not a readable anchormi estimator file: it is corrupt or truncated, or holds "
            f"objects other than plain data and tensors ({type(error).__name__}: {reason[:200]}). {redo}"
        ) from error
    if not isinstance(payload, dict) or payload.get("magic") != MAGIC:
        raise ValueError(f"{os.fspath(path)!r} is a torch file but not an anchormi estimator file. {redo}")
    if payload.get("format") != FORMAT:
        import anchormi

        raise ValueError(
            f"{os.fspath(path)!r} was saved in file format {payload.get('format')!r} by anchormi "
            f"{payload.get('anchormi_version')}, but this anchormi ({anchormi.__version__}) reads format {FORMAT}. "
            f"Load it with anchormi {payload.get('anchormi_version')}, or fit the estimator again with this version."
        )
    return payload


def load_estimator(path: str | os.PathLike) -> Any:
    """Read a file written by :func:`save_estimator` and return the fitted ``MIEstimator``.

    ``pmi`` and ``estimate`` of the result give the same output as the saved estimator's on the
    same machine. A file saved on a GPU loads on a machine without one (on the CPU, with a warning).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is corrupt or truncated, is not an anchormi estimator file, or was
            written in another file format; the message says what to do.
    """
    from . import objectives
    from .estimator import MIEstimator

    payload = _read(path)
    try:
        params, fitted = payload["params"], payload["fitted"]
        try:
            estimator = MIEstimator(**params)
        except TypeError as error:
            raise ValueError(
                f"{os.fspath(path)!r} holds parameters this anchormi version does not know ({error}); load it with "
                f"anchormi {payload.get('anchormi_version')}."
            ) from error
        device = _usable_device(fitted["device"])
        for name, value in fitted["attributes"].items():
            setattr(estimator, name, value)
        estimator.device_ = device
        estimator.objective_ = objectives.get(fitted["objective"])
        for critics_name, scalers_name in zip(_CRITIC_LISTS, _SCALER_LISTS):
            if critics_name in fitted:
                setattr(estimator, critics_name, [_critic_from_plain(c, params, device) for c in fitted[critics_name]])
                setattr(estimator, scalers_name, [tuple(_transformer_from_plain(s) for s in pair) for pair in fitted[scalers_name]])
        estimator.critic_ = estimator.critics_[0]
        estimator.encoders_ = {name: encoder_from_plain(stored) for name, stored in fitted.get("encoders", {}).items()}
        for name, stored in fitted["frames"].items():
            setattr(estimator, name, _frame_from_plain(stored))
        if fitted["stream_history_is_history"] and "stream_history_" in fitted["frames"]:
            estimator.stream_history_ = estimator.history_
        if fitted["result"] is not None:
            estimator.result_ = _result_from_plain(fitted["result"])
            if fitted["result_history_is_history"] and "history_" in fitted["frames"]:
                estimator.result_.history = estimator.history_
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError) as error:
        raise ValueError(
            f"{os.fspath(path)!r} is damaged: its contents do not rebuild a fitted estimator ({type(error).__name__}: "
            f"{error}). Re-save the fitted estimator with save_estimator, or fit it again."
        ) from error
    return estimator


def _usable_device(saved: str) -> torch.device:
    device = torch.device(saved)
    available = (
        device.type == "cpu"
        or (device.type == "cuda" and torch.cuda.is_available())
        or (device.type == "mps" and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
    )
    if available:
        return device
    warnings.warn(f"the estimator was saved on {saved}, which this machine lacks; it is loaded on the CPU.", UserWarning, stacklevel=3)
    return torch.device("cpu")
