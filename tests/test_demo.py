"""anchormi.demo: a readable figure and a warning when one method's held-out estimate blows up.

The estimators are replaced by canned results (the demo's own logic is under test, not training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import anchormi
from anchormi import demo
from anchormi.result import MIResult


def _canned(curves: dict[str, list[float]]):
    def estimate(x, y, method="anchor", **kwargs):
        if method not in curves:
            return MIResult(mi=2.5, stderr=0.01, n_train=0, n_test=len(x), objective=method, readout=method)
        values = curves[method]
        steps = np.arange(1, len(values) + 1) * 100
        history = pd.DataFrame({"step": steps, "train_loss": 1.0, "val_loss": [-77.0] * len(values),
                                "val_estimate": values, "batch_estimate": np.nan})
        return MIResult(mi=values[-1], stderr=0.05, n_train=700, n_test=200, objective=method, readout="plugin",
                        history=history)

    return estimate


@pytest.fixture()
def captured_axes(monkeypatch):
    import matplotlib.figure

    saved = []
    real_savefig = matplotlib.figure.Figure.savefig

    def savefig(self, *args, **kwargs):
        saved.append(self.axes[0])
        return real_savefig(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return saved


def test_demo_clips_the_axis_marks_off_scale_curves_and_warns(tmp_path, monkeypatch, captured_axes):
    curves = {"anchor": [3.0, 4.5, 4.9], "infonce": [3.0, 3.4, 3.5], "nwj": [2.0, -320.0, 4.0], "smile": [4.0, 5.0, 5.2]}
    monkeypatch.setattr(anchormi, "estimate", _canned(curves))
    lines = []
    table = demo.run_demo(out_dir=tmp_path, n=300, dim=2, mi=5.0, echo=lines.append)
    assert list(table["method"]) == list(demo.DEMO_METHODS)

    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and "nwj" in warnings[0] and "-320" in warnings[0] and "kept checkpoint" in warnings[0]

    ax = captured_axes[-1]
    assert demo.plot_range(5.0) == (-0.5, 8.5) and ax.get_ylim() == pytest.approx((-0.5, 8.5))
    assert demo.plot_range(2.0, ceiling=4.16) == pytest.approx((-0.5, 4.66))  # log B stays in view
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(label.startswith("nwj") and "off scale" in label for label in labels)
    assert not any("off scale" in label for label in labels if not label.startswith("nwj"))
    # Only estimates on the nats axis: no line holds the (negated) held-out loss, 77.
    assert not any(np.allclose(np.abs(np.asarray(line.get_ydata(), dtype=float)), 77.0) for line in ax.get_lines())
    assert len([line for line in ax.get_lines() if len(line.get_xdata()) == 3]) == 4
    assert (tmp_path / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_prints_no_warning_when_every_curve_stays_in_range(tmp_path, monkeypatch, captured_axes):
    curves = {name: [3.0, 4.0, 4.8] for name in ("anchor", "infonce", "nwj", "smile")}
    monkeypatch.setattr(anchormi, "estimate", _canned(curves))
    lines = []
    demo.run_demo(out_dir=tmp_path, n=300, dim=2, mi=5.0, echo=lines.append)
    assert not [line for line in lines if line.startswith("warning:")]
    assert not any("off scale" in text.get_text() for text in captured_axes[-1].get_legend().get_texts())
