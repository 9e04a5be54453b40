"""The draw-a-digit widget's Python side: what it computes for a drawing, its figure, its model."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anywidget", reason="the widget needs the 'widgets' extra: pip install -e '.[widgets]'")

from conftest import require_data  # noqa: E402
from rnn_helpers.drawing import draw_strokes, mnist_style  # noqa: E402
from rnn_helpers.inside import stepwise_probabilities  # noqa: E402
from rnn_helpers.model import RNN  # noqa: E402
from rnn_helpers.widget import (  # noqa: E402
    DigitReader,
    load_or_train_model,
    plot_reading,
    read_drawing,
    read_image,
)
from rnn_helpers.widget.board import STATIC  # noqa: E402

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
ONE = [[[140, 30], [142, 140], [143, 250]]]  # a vertical stroke


@pytest.fixture(scope="module")
def model():
    return RNN(28, 28, 16, 10, seed=0)  # untrained: enough to check the plumbing


def test_drawing_strokes_fills_image_probabilities_and_answer(model):
    widget = DigitReader(model, note="a test model")
    assert widget.prediction == -1 and widget.image == [] and widget.note == "a test model"
    assert repr(widget).startswith("DigitReader (nothing drawn yet)")
    widget.strokes = ONE
    assert repr(widget).startswith(f"DigitReader (reads {widget.prediction})")
    image = np.array(widget.image)
    probabilities = np.array(widget.probabilities)
    expected_image = mnist_style(draw_strokes(ONE, size=280, line_width=22))
    np.testing.assert_allclose(image, expected_image, atol=1e-3)
    assert probabilities.shape == (28, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    expected = stepwise_probabilities(model, expected_image[None])[0]
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert widget.prediction == int(expected[-1].argmax())
    assert widget.confidence == pytest.approx(float(expected[-1].max()), abs=1e-4)
    assert widget.error == ""
    widget.strokes = []  # "Clear"
    assert widget.prediction == -1 and widget.image == [] and widget.probabilities == []


def test_a_bad_stroke_is_reported_in_the_widget(model):
    widget = DigitReader(model)
    widget.strokes = ONE
    widget.strokes = [[[1, float("nan")]]]
    assert widget.prediction == -1
    assert "ValueError" in widget.error and "two finite numbers" in widget.error
    widget.strokes = ONE
    assert widget.error == "" and widget.prediction >= 0


def test_the_last_row_agrees_with_the_keras_model(model):
    reading = read_drawing(model, draw_strokes([[[60, 60], [220, 60], [120, 250]]]))  # a "7"
    logits = np.asarray(model.predict_on_batch(reading.image[None]))[0]
    assert reading.prediction == int(logits.argmax())
    assert read_image(model, reading.image.ravel()).prediction == reading.prediction


def test_only_the_vanilla_rnn_and_matching_class_names_are_accepted(model):
    with pytest.raises(ValueError, match="vanilla RNN"):
        DigitReader(RNN(28, 28, 8, 10, seed=0, cell="gru"))
    with pytest.raises(ValueError, match="3 class names for a model with 10 classes"):
        DigitReader(model, class_names=["a", "b", "c"])
    assert DigitReader(model, class_names="abcdefghij").class_names == list("abcdefghij")


def test_the_javascript_ships_with_the_package_and_fetches_nothing():
    files = sorted(STATIC.iterdir())
    assert {f.name for f in files} >= {"digit_reader.js", "digit_reader.css"}
    script = (STATIC / "digit_reader.js").read_text()
    assert "export default" in script
    assert not re.search(r"^\s*import\b|import\(|https?://|fetch\(", script, re.MULTILINE), (
        "the widget must not load anything at run time (offline classrooms)"
    )
    assert "url(" not in (STATIC / "digit_reader.css").read_text()
    # a regular (non-editable) install must carry the files: pyproject's package-data covers them
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for file in files:
        name = str(file.relative_to(STATIC.parent))
        assert any(fnmatch.fnmatch(name, p) for p in patterns["rnn_helpers.widget"]), (
            f"{name} is not in package-data"
        )


def test_plot_reading_shows_the_widgets_panels(model):
    drawing = draw_strokes(ONE)
    reading = read_drawing(model, drawing)
    fig = plot_reading(reading, drawing=drawing, row=20, title="a one")
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1] == "what the network receives: row 20 of 28"
    after = reading.probabilities[19]
    assert titles[3] == f"after row 20: {after.argmax()} ({after.max():.0%})"
    assert len(plot_reading(reading).axes) == 3
    with pytest.raises(ValueError, match="row = 29"):
        plot_reading(reading, row=29)


def test_a_saved_model_is_used_and_a_wrong_one_refused(tmp_path, model):
    model.save(tmp_path / "model.keras")
    loaded, note = load_or_train_model(tmp_path, log=None)
    image = read_drawing(model, draw_strokes(ONE)).image
    np.testing.assert_allclose(
        stepwise_probabilities(loaded, image[None]), stepwise_probabilities(model, image[None]), atol=1e-6
    )
    assert note.startswith("Using the model trained by notebook 01")
    (tmp_path / "gru").mkdir()
    RNN(28, 28, 8, 10, seed=0, cell="gru").save(tmp_path / "gru" / "model.keras")
    with pytest.raises(ValueError, match="vanilla RNN"):
        load_or_train_model(tmp_path / "gru", log=None)


@pytest.mark.slow
@pytest.mark.realdata
def test_without_a_saved_model_a_quick_one_is_trained_and_said_so(tmp_path):
    from rnn_helpers import DataNotFoundError

    lines = []
    try:
        trained, note = load_or_train_model(
            tmp_path / "nothing here", epochs=1, n_train=2000, log=lines.append
        )
    except DataNotFoundError:
        if require_data():
            raise
        pytest.skip("MNIST not found (set RNN_HELPERS_DATA)")
    assert note.startswith("No saved model in") and "quick model trained here (1 epochs" in note
    assert len(lines) == 1 and lines[0].startswith("epoch 1: validation accuracy")
    accuracy = float(re.search(r"([\d.]+)% validation", note).group(1))
    assert accuracy > 30, f"even 2,000 images for one epoch should beat chance (10%); got {accuracy}%"
    assert not (tmp_path / "nothing here").exists(), "nothing is written where the model was looked for"
