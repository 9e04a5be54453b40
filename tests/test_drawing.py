"""MNIST-style preparation of drawn digits: drawing strokes, cropping, scaling, centring."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_data
from rnn_helpers.drawing import EmptyDrawingError, centre_of_mass, draw_strokes, ink_box, mnist_style


def oval(cx: float, cy: float, rx: float, ry: float, points: int = 60) -> list[list[float]]:
    """One closed stroke around an ellipse, as a mouse would draw a "0"."""
    angles = np.linspace(0, 2 * np.pi, points)
    return np.column_stack([cx + rx * np.sin(angles), cy - ry * np.cos(angles)]).tolist()


def box_size(image: np.ndarray, threshold: float = 0.05) -> tuple[int, int]:
    top, bottom, left, right = ink_box(image, threshold)
    return bottom - top, right - left


# --- draw_strokes ---------------------------------------------------------------------


def test_a_horizontal_stroke_has_the_pen_width_and_length():
    canvas = draw_strokes([[(50, 100), (150, 100)]], size=200, line_width=10)
    assert canvas.shape == (200, 200) and canvas.dtype == np.float32
    assert canvas.min() == 0 and canvas.max() == 1
    full = canvas > 0.99
    rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
    assert 9 <= len(rows) <= 11, f"pen width 10 drew {len(rows)} full rows"
    assert 45 <= cols[0] <= 46 and 153 <= cols[-1] <= 154, "round ends reach half a pen width past the points"
    assert canvas[100, 20] == 0 and canvas[20, 100] == 0


def test_a_single_point_is_a_dot_and_strokes_add_up():
    dot = draw_strokes([[(30, 30)]], size=60, line_width=8)
    assert 40 <= (dot > 0.5).sum() <= 60  # a disc of radius 4: pi * 16 = 50 pixels
    two = draw_strokes([[(30, 30)], [(10, 50), (50, 50)]], size=60, line_width=8)
    assert np.all(two >= dot) and two[50, 30] == 1 and dot[50, 30] == 0


@pytest.mark.parametrize(
    ("strokes", "kwargs", "message"),
    [
        ([[]], {}, "stroke 0 has no points"),
        ([[(1, 2, 3)]], {}, "two finite numbers"),
        ([[(1, 2)], [(float("nan"), 2)]], {}, "stroke 1"),
        ([[(1, 2)]], {"size": 0}, "size = 0"),
        ([[(1, 2)]], {"line_width": -1}, "line_width = -1"),
    ],
)
def test_draw_strokes_refuses_bad_input(strokes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw_strokes(strokes, **kwargs)


# --- mnist_style ----------------------------------------------------------------------


def test_an_off_centre_oversized_digit_comes_out_centred_and_scaled_like_mnist():
    # a "0" 240 pixels tall, pushed into the top-left corner of a 280×280 canvas
    drawing = draw_strokes([oval(70, 125, 60, 115)], size=280, line_width=22)
    assert centre_of_mass(drawing)[1] < 80
    image = mnist_style(drawing)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() == 0 and image.max() == pytest.approx(1.0)
    height, width = box_size(image)
    assert height == 20, f"the longer side should be scaled to 20 pixels, got {height}"
    assert 10 <= width <= 12, f"the proportions (about 1:1.8) should be kept, got {width} wide"
    row, col = centre_of_mass(image)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5, f"centre of mass at ({row:.2f}, {col:.2f})"
    # MNIST's zeros have a hole in the middle: so must this one
    assert image[14, 14] < 0.1 and image[14, 8:20].max() > 0.9


def test_a_vertical_stroke_becomes_a_thin_twenty_pixel_one():
    drawing = draw_strokes([[(200, 40), (205, 250)]], size=280, line_width=22)
    image = mnist_style(drawing)
    height, width = box_size(image)
    assert height == 20 and 2 <= width <= 4
    assert abs(centre_of_mass(image)[1] - 14) <= 0.5


def test_a_tiny_digit_is_enlarged_to_the_box():
    drawing = np.zeros((100, 100))
    drawing[10:16, 80:84] = 1.0  # 6 × 4 pixels
    image = mnist_style(drawing)
    assert box_size(image) == (20, 13)  # 20 / 6 × 4 = 13.3


def test_the_scale_of_the_ink_does_not_matter_and_the_input_is_left_alone():
    drawing = draw_strokes([[(60, 40), (120, 200)], [(60, 40), (150, 40)]], size=240, line_width=18)
    as_bytes = np.round(drawing * 255).astype(np.uint8)
    kept = as_bytes.copy()
    np.testing.assert_allclose(mnist_style(as_bytes), mnist_style(as_bytes / 255.0), atol=1e-6)
    assert np.array_equal(as_bytes, kept)


def test_box_and_size_are_parameters():
    drawing = draw_strokes([oval(100, 100, 60, 30)], size=200, line_width=10)  # 130 wide, 70 tall
    image = mnist_style(drawing, box=10, size=16)
    assert image.shape == (16, 16) and box_size(image) == (5, 10)


def test_faint_specks_do_not_stretch_the_box():
    drawing = draw_strokes([[(100, 50), (100, 200)]], size=280, line_width=20)
    drawing[270, 5] = 0.01  # a speck far away, below 2% of the darkest ink
    assert box_size(mnist_style(drawing)) == box_size(mnist_style(draw_strokes([[(100, 50), (100, 200)]])))


@pytest.mark.parametrize(
    ("drawing", "error", "message"),
    [
        (np.zeros((280, 280)), EmptyDrawingError, "Nothing is drawn"),
        (np.ones((2, 28, 28)), ValueError, "2-D array"),
        (np.ones((0, 28)), ValueError, "2-D array"),
        (np.full((28, 28), np.nan), ValueError, "NaN or infinite"),
        (-np.ones((28, 28)), ValueError, "negative ink"),
    ],
)
def test_mnist_style_refuses_bad_drawings(drawing, error, message):
    with pytest.raises(error, match=message):
        mnist_style(drawing)


def test_mnist_style_refuses_a_box_larger_than_the_image():
    with pytest.raises(ValueError, match="box = 30, size = 28"):
        mnist_style(np.ones((5, 5)), box=30)


def test_an_empty_drawing_is_a_value_error_too():
    # callers that only know ValueError still catch it
    assert issubclass(EmptyDrawingError, ValueError)
    with pytest.raises(EmptyDrawingError):
        centre_of_mass(np.zeros((3, 3)))


@pytest.mark.realdata
def test_an_enlarged_shifted_mnist_digit_comes_back_as_it_was():
    """MNIST digits blown up ×8 and moved to a corner are restored to (nearly) the original."""
    from rnn_helpers import DataNotFoundError, load_data

    try:
        x_test, _ = load_data("test", flatten=False, one_hot=False)
    except DataNotFoundError:
        if require_data():
            raise
        pytest.skip("MNIST not found (set RNN_HELPERS_DATA)")
    similarities = []
    for digit in x_test[:50]:
        canvas = np.zeros((300, 300), np.float32)
        canvas[5 : 5 + 224, 60 : 60 + 224] = np.kron(digit, np.ones((8, 8), np.float32))
        restored = mnist_style(canvas)
        assert abs(centre_of_mass(restored)[0] - 14) <= 0.5
        similarities.append(np.corrcoef(restored.ravel(), digit.ravel())[0, 1])
    # MNIST's own digits are within a pixel or so of this placement; the images agree closely
    assert np.median(similarities) > 0.9, f"median correlation {np.median(similarities):.3f}"
    assert min(similarities) > 0.6, f"lowest correlation {min(similarities):.3f}"
