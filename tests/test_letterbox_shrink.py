"""The detector's downscale (edge.face.geometry.shrink): the same box average as cv2.INTER_AREA, done by halvings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.face.geometry import letterbox, shrink


def _scene(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(w * h)
    smooth = cv2.resize(rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [(1280, 960), (2560, 1920), (640, 480)])
def test_integer_reduction_is_inter_area_within_one_grey_level(size: tuple[int, int]) -> None:
    frame = _scene(*size)
    nw, nh = size[0] // (size[0] // 320), size[1] // (size[0] // 320)
    ours = shrink(frame, nw, nh).astype(int)
    ref = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA).astype(int)
    assert ours.shape == ref.shape == (nh, nw, 3)
    assert np.abs(ours - ref).max() <= 1


@pytest.mark.parametrize("size", [(1296, 972), (1920, 1080), (1001, 777), (321, 321)])
def test_any_reduction_has_the_asked_size_and_stays_close_to_inter_area(size: tuple[int, int]) -> None:
    frame = _scene(*size)
    canvas, scale = letterbox(frame, 320)
    nw, nh = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    ref = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA).astype(int)
    assert canvas.shape == (320, 320, 3)
    assert np.abs(canvas[:nh, :nw].astype(int) - ref).mean() < 3  # both box filters; only the box phase differs
    assert not canvas[nh:].any() and not canvas[:, nw:].any()  # padding stays black


def test_upscaling_is_unchanged() -> None:
    frame = _scene(250, 250)
    canvas, _ = letterbox(frame, 320)
    np.testing.assert_array_equal(canvas, cv2.resize(frame, (320, 320), interpolation=cv2.INTER_LINEAR))
