"""Notebook 05 (draw a digit) runs with papermill: with a saved model, and refusing bad parameters.

The quick-training path is what the committed notebook shows (nbval re-runs it) and what the
browser test draws on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import leftover_files, require_data

pytest.importorskip("anywidget", reason="notebook 05 needs the 'widgets' extra: pip install -e '.[widgets]'")
papermill = pytest.importorskip("papermill")

from rnn_helpers import DataNotFoundError, load_data  # noqa: E402

NB05 = Path(__file__).resolve().parents[1] / "notebooks" / "05_draw_a_digit.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module", autouse=True)
def needs_mnist():
    try:
        load_data("test", download=False)
    except DataNotFoundError:
        if require_data():
            raise
        pytest.skip("MNIST is not available on this machine (see docs/data.md)")


def run(tmp_path: Path, **parameters) -> dict:
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(
        NB05, executed, parameters=parameters, kernel_name="python3", cwd=str(NB05.parent), progress_bar=False
    )
    return json.loads(executed.read_text())


def printed(nb: dict) -> str:
    return "".join(
        "".join(output.get("text", ""))
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
    )


def test_a_saved_model_is_used_instead_of_training(tmp_path):
    from rnn_helpers.model import RNN

    saved = tmp_path / "run01"
    saved.mkdir()
    RNN(28, 28, 128, 10, seed=1).save(saved / "model.keras")
    before = leftover_files(saved)
    nb = run(tmp_path, model_dir=str(saved))
    text = printed(nb)
    assert "Using the model trained by notebook 01" in text
    assert "epoch 1:" not in text and "quick model" not in text
    widget = [
        output
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for output in cell["outputs"]
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert len(widget) == 1, "the widget is displayed once"
    assert leftover_files(saved) == before, "the notebook writes nothing"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"epochs": 0}, "epochs = 0"),
        ({"model_dir": 5}, "model_dir"),
    ],
)
def test_bad_parameters_stop_before_any_training(tmp_path, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError, match=message) as failure:
        run(tmp_path, **parameters)
    assert "ParameterError" in str(failure.value)
