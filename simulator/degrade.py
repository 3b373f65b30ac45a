"""Image degradations for the simulated camera: pure functions of (image, rng).

Each takes an RGB uint8 image (HxWx3) and a ``numpy.random.Generator`` and returns a new
image of the same size. They stand in for what a field camera really sees: motion blur,
a dark tent, sensor noise, a hand or scarf over the face, a second person in frame, and
presentation attacks (a printed photo, a phone/tablet screen held up to the camera, a cut-out
printed face).

The attack simulations are **synthetic** and have no tell-tale frame edge (no white paper border,
no black bezel: the photo or screen fills the frame, as when held close). They exercise the claim
flow with harder-looking attacks; they are not an evaluation of the liveness check (real attack
photographs are, docs/LIVENESS.md).
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


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    return yy.astype(np.float32), xx.astype(np.float32)


def _paper(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Print look without any frame edge: squeezed dynamic range (ink never reaches black, paper
    never pure white), a warm paper tint, a fine halftone screen and paper-fibre texture."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    lo, hi = float(rng.uniform(25, 40)), float(rng.uniform(215, 235))
    f = lo + f * (hi - lo) / 255.0
    f *= np.array([1.03, 1.0, 0.93], np.float32)
    yy, xx = _grid(h, w)
    angle = np.deg2rad(float(rng.uniform(15, 75)))
    period = float(rng.uniform(2.2, 3.2))
    u, v = xx * np.cos(angle) + yy * np.sin(angle), -xx * np.sin(angle) + yy * np.cos(angle)
    f += (np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period) * 7.0)[..., None]
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2) * 6.0
    f += fibre[..., None]
    return np.clip(f, 0, 255).astype(np.uint8)


def _sheen(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A soft specular reflection (light source or window) across a glossy surface."""
    h, w = img.shape[:2]
    yy, xx = _grid(h, w)
    cx, cy = float(rng.uniform(0.1, 0.9)) * w, float(rng.uniform(0.0, 0.5)) * h
    r = float(rng.uniform(0.25, 0.5)) * max(h, w)
    spot = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) * strength
    f = img.astype(np.float32)
    f = f + (255.0 - f) * spot[..., None] / 255.0
    return np.clip(f, 0, 255).astype(np.uint8)


def printed_photo(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Synthetic stand-in for a printed photo held close to the lens (fills the frame, no border):
    paper dynamic range and tint, halftone, fibre texture, a slight bend and a glossy sheen."""
    h, w = img.shape[:2]
    out = _paper(img, rng)
    # paper bend: a gentle horizontal compression towards one side, edges replicated (no border colour)
    k = float(rng.uniform(0.02, 0.05))
    yy, xx = _grid(h, w)
    map_x = (xx + k * w * np.sin(np.pi * xx / max(w - 1, 1))).astype(np.float32)
    out = cv2.remap(out, map_x, yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return _sheen(out, rng, float(rng.uniform(40, 90)))


def screen_replay(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Synthetic stand-in for a photo on a phone/tablet screen held to fill the frame (no bezel):
    display gamma and raised black level, resampling to the screen's pixel grid, moiré from the
    grid beating with the sensor, a cool white point and a reflection of the room on the glass."""
    h, w = img.shape[:2]
    f = img.astype(np.float32) / 255.0
    gamma = float(rng.uniform(0.75, 0.9))
    f = 0.06 + 0.9 * np.power(f, gamma)
    f *= np.array([0.93, 1.0, 1.08], np.float32)
    out = np.clip(f * 255.0, 0, 255).astype(np.uint8)
    pitch = float(rng.uniform(0.45, 0.7))  # screen pixel pitch relative to the camera's
    small = cv2.resize(out, (max(8, int(w * pitch)), max(8, int(h * pitch))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    yy, xx = _grid(h, w)
    theta = np.deg2rad(float(rng.uniform(-8, 8)))
    beat = float(rng.uniform(0.08, 0.16))
    moire = np.sin(2 * np.pi * beat * (xx * np.cos(theta) + yy * np.sin(theta))) * float(rng.uniform(5, 9))
    f = out.astype(np.float32) + moire[..., None]
    ghost = cv2.GaussianBlur(img[::-1, :].astype(np.float32), (0, 0), 6.0)  # a blurred reflection on the glass
    f = f * 0.9 + ghost * 0.1
    return _sheen(np.clip(f, 0, 255).astype(np.uint8), rng, float(rng.uniform(30, 70)))


def cutout_mask(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Synthetic stand-in for a printed face cut out and held in front of the real scene: print
    effects inside an ellipse around the centre face only, with a thin shadow at the cut."""
    h, w = img.shape[:2]
    printed = _paper(img, rng)
    mask = np.zeros((h, w), np.float32)
    centre = (int(w * rng.uniform(0.47, 0.53)), int(h * rng.uniform(0.45, 0.5)))
    axes = (int(w * rng.uniform(0.22, 0.27)), int(h * rng.uniform(0.3, 0.36)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    edge = cv2.GaussianBlur(mask, (0, 0), 1.0)
    shadow = np.clip(cv2.GaussianBlur(mask, (0, 0), 4.0) - mask, 0, 1) * 0.5
    f = img.astype(np.float32) * (1 - edge[..., None]) + printed.astype(np.float32) * edge[..., None]
    f *= (1 - shadow[..., None])
    return np.clip(f, 0, 255).astype(np.uint8)


DEGRADATIONS: dict[str, Degradation] = {
    "blur": blur,
    "dark": dark,
    "noise": noise,
    "occlusion": occlusion,
    "second_face": second_face,
    "printed_photo": printed_photo,
    "screen_replay": screen_replay,
    "cutout_mask": cutout_mask,
}


def apply(img: np.ndarray, names: list[str] | tuple[str, ...], rng: np.random.Generator, other: np.ndarray | None = None) -> np.ndarray:
    """Apply the named degradations in order; ``other`` is the second person for ``second_face``."""
    out = img
    for name in names:
        fn = DEGRADATIONS[name]
        out = second_face(out, rng, other) if name == "second_face" else fn(out, rng)
    return out
