"""Pure parts of the liveness check: the upstream crop rule, score fusion, the decision."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.errors import ImageError
from edge.face.liveness import crop_box, decide, fuse_burst, live_probability, scaled_crop
from edge.face.types import LivenessResult


def coordinate_frame(width: int, height: int) -> np.ndarray:
    """A frame whose pixel (y, x) holds (x, y, 7), so a crop reveals where it came from."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs, ys, np.full_like(xs, 7)], axis=-1).astype(np.int32)


@pytest.mark.parametrize(
    ("box", "scale", "size", "expected"),
    [
        # fits: enlarged about the centre, nothing else
        ((100, 100, 150, 160), 2.0, (640, 480), (75, 70, 175, 190)),
        # upstream spoof sample F1 (480x640 portrait): scale shrunk to (W-1)/bw, then shifted down into the frame
        ((187, 109, 383, 349), 2.7, (480, 640), (0, 0, 479, 586)),
        # face box running off the top-left corner: shifted right/down, not clipped
        ((-20, -10, 40, 60), 2.7, (640, 480), (0, 0, 162, 189)),
        # near the bottom-right corner: shifted left/up
        ((600, 440, 630, 470), 2.0, (640, 480), (579, 419, 639, 479)),
    ],
)
def test_crop_box_follows_upstream_rule(box, scale, size, expected):
    """crop_box reproduces upstream CropImage._get_new_box on hand-worked examples."""
    assert crop_box(box, scale, *size) == expected


@settings(max_examples=300, deadline=None)
@given(
    width=st.integers(8, 2000),
    height=st.integers(8, 2000),
    fx=st.floats(0, 1),
    fy=st.floats(0, 1),
    fw=st.floats(0.02, 1),
    fh=st.floats(0.02, 1),
    scale=st.floats(1.0, 5.0),
)
def test_crop_box_stays_in_frame_and_covers_face(width, height, fx, fy, fw, fh, scale):
    """The crop always lies inside the frame, keeps the face box's aspect ratio and contains the face box."""
    bw, bh = max(fw * (width - 1), 1.0), max(fh * (height - 1), 1.0)
    x0, y0 = fx * (width - 1 - bw), fy * (height - 1 - bh)
    box = (x0, y0, x0 + bw, y0 + bh)
    left, top, right, bottom = crop_box(box, scale, width, height)
    assert 0 <= left <= right <= width - 1
    assert 0 <= top <= bottom <= height - 1
    # the face box is inside the frame, so the (possibly reduced) scale is >= 1 and the crop covers it
    assert left <= x0 + 1 and right >= x0 + bw - 1
    assert top <= y0 + 1 and bottom >= y0 + bh - 1
    s = min((height - 1) / bh, (width - 1) / bw, scale)
    assert abs((right - left) - s * bw) <= 2 and abs((bottom - top) - s * bh) <= 2


def test_crop_box_centred_when_it_fits():
    """When the enlarged box fits, its centre is the face box centre (to the pixel)."""
    left, top, right, bottom = crop_box((300, 200, 380, 300), 2.7, 1280, 960)
    assert abs((left + right) / 2 - 340) <= 1 and abs((top + bottom) / 2 - 250) <= 1
    assert abs((right - left) - 216) <= 1 and abs((bottom - top) - 270) <= 1


@pytest.mark.parametrize(
    ("box", "size"),
    [((10, 10, 10, 50), (100, 100)), ((10, 50, 40, 20), (100, 100)), ((200, 200, 260, 260), (100, 100)),
     ((-80, -80, -10, -10), (100, 100)), ((0, 0, float("nan"), 10), (100, 100)), ((0, 0, 10, 10), (1, 100))],
)
def test_crop_box_rejects_unusable_boxes(box, size):
    """Empty, inverted, off-frame or non-finite boxes are refused with a message naming the box or frame."""
    with pytest.raises(ValueError, match="box|frame"):
        crop_box(box, 2.7, *size)


def test_scaled_crop_takes_the_computed_region():
    """scaled_crop resizes exactly the crop_box region: its corners carry that region's corner coordinates."""
    frame = coordinate_frame(640, 480)
    box = (200, 150, 260, 230)
    left, top, right, bottom = crop_box(box, 2.0, 640, 480)
    patch = scaled_crop(frame.astype(np.float32), box, 2.0, out=80)
    assert patch.shape == (80, 80, 3) and patch.dtype == np.float32
    assert abs(patch[0, 0, 0] - left) <= 2 and abs(patch[0, 0, 1] - top) <= 2
    assert abs(patch[-1, -1, 0] - right) <= 2 and abs(patch[-1, -1, 1] - bottom) <= 2
    assert np.all(patch[:, :, 2] == 7)  # channel order untouched


def test_scaled_crop_keeps_uint8_and_channel_order():
    """A uint8 frame gives a uint8 crop with channels in the same order."""
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[..., 0] = 200
    patch = scaled_crop(frame, (60, 40, 100, 90), 2.7)
    assert patch.dtype == np.uint8 and patch.shape == (80, 80, 3)
    assert np.all(patch[..., 0] == 200) and np.all(patch[..., 1:] == 0)


@pytest.mark.parametrize("shape", [(100, 100), (100, 100, 4), (100, 100, 1)])
def test_scaled_crop_rejects_non_colour_frames(shape):
    """Grey or RGBA frames are refused with an ImageError naming the shape."""
    with pytest.raises(ImageError, match="3-channel"):
        scaled_crop(np.zeros(shape, np.uint8), (10, 10, 50, 50), 2.7)


def test_live_probability_is_softmax_of_class_one():
    """live_probability is the softmax probability of index 1 and is stable for large logits."""
    assert live_probability(np.array([0.0, 0.0, 0.0])) == pytest.approx(1 / 3)
    assert live_probability(np.array([[1.0, 3.0, -2.0]])) == pytest.approx(np.exp(3) / (np.exp(1) + np.exp(3) + np.exp(-2)))
    assert live_probability(np.array([-1000.0, 1000.0, 0.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        live_probability(np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        live_probability(np.array([1.0, np.nan, 0.0]))


def test_decide_takes_the_lower_model_score_by_default():
    """Default fusion is the lower of the two models' probabilities: live only when both say so."""
    assert decide({"a": 0.9, "b": 0.3}, threshold=0.3).live_score == pytest.approx(0.3)
    assert not decide({"a": 0.9, "b": 0.02}, threshold=0.027).is_live  # the printed-photo sample's pattern


def test_decide_averages_models_and_applies_threshold():
    """With mean fusion (upstream's) the fused score is the mean; at the threshold a face counts as live."""
    live = decide({"a": 0.9, "b": 0.3}, threshold=0.6, fusion="mean")
    assert live.live_score == pytest.approx(0.6) and live.is_live and live.threshold == 0.6
    attack = decide({"a": 0.9, "b": 0.2}, threshold=0.6, fusion="mean")
    assert not attack.is_live and "photo or screen" in attack.reason
    assert isinstance(live, LivenessResult) and live.per_model == {"a": 0.9, "b": 0.3}
    with pytest.raises(ValueError):
        decide({}, threshold=0.5)


def test_fuse_burst_takes_the_median_frame():
    """A burst's score is the median of its frames: one attack-looking frame among live ones does not fail it."""
    frames = [decide({"a": p, "b": p}, 0.5) for p in (0.95, 0.9, 0.1, 0.85, 0.92)]
    fused = fuse_burst(frames)
    assert fused.is_live and fused.live_score == pytest.approx(0.9) and fused.per_model == {"a": 0.9, "b": 0.9}
    assert not fuse_burst([decide({"a": p}, 0.5) for p in (0.2, 0.9, 0.3)]).is_live


def test_fuse_burst_refuses_empty_or_mixed_thresholds():
    """An empty burst or frames judged with different thresholds cannot be fused."""
    with pytest.raises(ValueError, match="no liveness"):
        fuse_burst([])
    with pytest.raises(ValueError, match="thresholds"):
        fuse_burst([decide({"a": 0.9}, 0.5), decide({"a": 0.9}, 0.6)])
