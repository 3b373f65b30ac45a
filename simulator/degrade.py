"""Image degradations for the simulated camera: pure functions of (image, rng).

Each takes an RGB uint8 image (HxWx3) and a ``numpy.random.Generator`` and returns a new
image of the same size. They stand in for what a field camera really sees: motion blur,
a dark tent, sensor noise, a hand or scarf over the face, a second person in frame, and
presentation attacks (a printed photo, a phone/tablet screen held up to the camera).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Degradation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Strong defocus plus a little motion blur: fails a sharpness gate."""
    k = int(rng.integers(4, 7)) * 2 + 1
    out = cv2.GaussianBlur(img, (k, k), 0)
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    return cv2.filter2D(out, -1, kernel)


def dark(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Underexposed frame: mean luminance drops to roughly a sixth."""
    gain = float(rng.uniform(0.12, 0.2))
    return np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heavy Gaussian sensor noise (sigma about 35 grey levels)."""
    sigma = float(rng.uniform(30, 40))
    noisy = img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def occlusion(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark block over the lower-middle of the frame, where the labelled face's mouth and nose are."""
    h, w = img.shape[:2]
    out = img.copy()
    x0 = int(w * rng.uniform(0.25, 0.32))
    x1 = int(w * rng.uniform(0.68, 0.75))
    y0 = int(h * rng.uniform(0.42, 0.48))
    y1 = int(h * 0.80)
    shade = rng.integers(20, 60, size=3, dtype=np.int64)
    out[y0:y1, x0:x1] = shade.astype(np.uint8)
    return out


def second_face(img: np.ndarray, rng: np.random.Generator, other: np.ndarray | None = None) -> np.ndarray:
    """Widen the scene and put a second person (another photo, or a mirrored copy) beside the claimant."""
    h, w = img.shape[:2]
    other = img[:, ::-1] if other is None else other
    other = cv2.resize(other, (w, h), interpolation=cv2.INTER_AREA)
    pair = np.concatenate([img, other], axis=1) if rng.random() < 0.5 else np.concatenate([other, img], axis=1)
    # Keep the claimant's face size: the canvas grows instead of the faces shrinking.
    return np.ascontiguousarray(pair)


def _border(img: np.ndarray, width: int, colour: tuple[int, int, int]) -> np.ndarray:
    out = img.copy()
    out[:width, :] = colour
    out[-width:, :] = colour
    out[:, :width] = colour
    out[:, -width:] = colour
    return out


def printed_photo(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stand-in for a printed photo held up: flattened contrast, warm paper tint, halftone dots, white border."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    f = 128.0 + (f - 128.0) * float(rng.uniform(0.55, 0.7))
    f *= np.array([1.04, 1.0, 0.9], np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    dots = (np.sin(xx * 1.9) * np.sin(yy * 1.9)).astype(np.float32) * 10.0
    f += dots[..., None]
    out = np.clip(f, 0, 255).astype(np.uint8)
    out = _border(out, max(3, w // 16), (236, 232, 220))
    # Slight tilt of the paper.
    angle = float(rng.uniform(-6, 6))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 0.92)
    return cv2.warpAffine(out, m, (w, h), borderValue=(90, 85, 80))


def screen_replay(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stand-in for a phone/tablet screen replay: moire bands, a glare streak, cool tint, black bezel."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    freq = float(rng.uniform(0.55, 0.75))
    moire = np.sin((xx * 0.8 + yy) * freq) * 14.0
    f += moire[..., None]
    f *= np.array([0.92, 1.0, 1.1], np.float32)
    cx = float(rng.uniform(0.2, 0.8)) * w
    glare = np.exp(-((xx - cx - (yy - h / 2) * 0.5) ** 2) / (2 * (w * 0.06) ** 2)) * 90.0
    f += glare[..., None]
    out = np.clip(f, 0, 255).astype(np.uint8)
    return _border(out, max(4, w // 12), (12, 12, 14))


DEGRADATIONS: dict[str, Degradation] = {
    "blur": blur,
    "dark": dark,
    "noise": noise,
    "occlusion": occlusion,
    "second_face": second_face,
    "printed_photo": printed_photo,
    "screen_replay": screen_replay,
}


def apply(img: np.ndarray, names: list[str] | tuple[str, ...], rng: np.random.Generator, other: np.ndarray | None = None) -> np.ndarray:
    """Apply the named degradations in order; ``other`` is the second person for ``second_face``."""
    out = img
    for name in names:
        fn = DEGRADATIONS[name]
        out = second_face(out, rng, other) if name == "second_face" else fn(out, rng)
    return out
