"""Face detectors whose models ship inside pip packages (nothing is downloaded at run time).

Two independent families are available, by name (:data:`FACE_DETECTORS`):

``"lbp"`` (default, always available)
    The multi-block LBP frontal-face cascade of OpenCV (``lbpcascade_frontalface.xml``,
    Liao et al. 2007 features, Viola–Jones boosted cascade) as shipped *inside
    scikit-image* (``skimage.data.lbp_frontal_face_cascade_filename()``) and run by
    scikit-image's own cascade evaluator (:class:`skimage.feature.Cascade`). OpenCV 5 no
    longer ships Haar/LBP cascades nor ``cv2.CascadeClassifier`` in its wheels, and YuNet's
    ONNX file ships in no pip package we could find, so this is the detector camtwin runs by
    default.
``"hog"`` (optional: ``pip install dlib-bin``)
    dlib's frontal-face detector: a HOG feature pyramid with a linear SVM (Dalal & Triggs
    2005; King 2009 "Dlib-ml", J. Mach. Learn. Res. 10), whose weights are compiled into the
    dlib binary. A different feature family, training set and implementation from ``"lbp"``,
    which is why the tests use it as the second, independent detector.

Both are *frontal* detectors: profiles, strongly rotated, tiny (below ``min_face_px``),
occluded or very dark faces are missed. See the threat model in :mod:`camtwin.privacy`.

Boxes are ``(x, y, w, h)`` integers in pixels of the image passed in (x = column of the
left edge, y = row of the top edge).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..errors import ConfigError, unknown_name


@dataclass(frozen=True)
class Detection:
    """One face found by a detector: box ``(x, y, w, h)`` [px], detector name and score."""

    box: tuple[int, int, int, int]
    detector: str
    score: float

    def as_dict(self) -> dict:
        x, y, w, h = self.box
        return {"x": x, "y": y, "w": w, "h": h, "detector": self.detector,
                "score": round(float(self.score), 4)}


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) image → uint8 of the same layout.

    Float images are display values in [0, 1] (clipped, rounded); uint16 is scaled by
    1/257; uint8 is returned as is.
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        return np.round(np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ConfigError(f"image dtype {img.dtype} is not supported (use uint8, uint16 or float "
                      "display values in [0, 1])")


def _grey_u8(image: np.ndarray) -> np.ndarray:
    img = to_uint8(image)
    if img.ndim == 3:
        return cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)
    return img


def _detection_scale(shape, max_side_px: int) -> float:
    side = max(shape[:2])
    return 1.0 if side <= max_side_px else max_side_px / side


@lru_cache(maxsize=1)
def _lbp_cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def detect_faces_lbp(image: np.ndarray, *, min_face_px: int = 24, max_side_px: int = 640,
                     scale_factor: float = 1.1, min_neighbours: int = 4) -> list[Detection]:
    """Frontal faces by the MB-LBP cascade shipped in scikit-image.

    Parameters
    ----------
    image : ndarray, (H, W) or (H, W, 3) RGB
        uint8, uint16 or float display values in [0, 1].
    min_face_px : int, keyword-only
        Smallest face searched, in pixels of ``image``.
    max_side_px : int, keyword-only
        Images with a longer side are searched on a copy downscaled to this size (boxes are
        scaled back); keeps the run time bounded.
    scale_factor : float, keyword-only
        Window growth per pyramid level (> 1).
    min_neighbours : int, keyword-only
        Overlapping raw hits needed to accept a face (lower = more sensitive).

    Returns
    -------
    list of Detection
        Score = 1 (the cascade gives no confidence).
    """
    grey = _grey_u8(image)
    s = _detection_scale(grey.shape, max_side_px)
    small = grey if s == 1.0 else cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    min_px = max(int(round(min_face_px * s)), 20)  # the cascade's own window is 24 px
    max_px = int(min(small.shape))
    if max_px < min_px:
        return []
    hits = _lbp_cascade().detect_multi_scale(
        img=small.astype(np.float64) / 255.0, scale_factor=float(scale_factor), step_ratio=1.0,
        min_size=(min_px, min_px), max_size=(max_px, max_px),
        min_neighbor_number=int(min_neighbours), intersection_score_threshold=0.5)
    out = []
    for d in hits:
        box = (d["c"] / s, d["r"] / s, d["width"] / s, d["height"] / s)
        out.append(Detection(tuple(int(round(v)) for v in box), "lbp", 1.0))
    return _sorted(out)


def hog_available() -> bool:
    """True if dlib (the ``"hog"`` detector) can be imported."""
    try:
        import dlib  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _hog_detector():
    try:
        import dlib
    except ImportError:
        raise ConfigError("face detector 'hog' needs dlib: pip install dlib-bin") from None
    return dlib.get_frontal_face_detector()


def detect_faces_hog(image: np.ndarray, *, min_face_px: int = 40, max_side_px: int = 1280,
                     threshold: float = 0.0) -> list[Detection]:
    """Frontal faces by dlib's HOG + linear-SVM detector (weights compiled into dlib).

    The detector's window is 80 px; faces smaller than that are found by upsampling the
    image (×2 per level) until ``min_face_px`` faces reach 80 px. ``threshold`` shifts the
    SVM decision value (negative = more sensitive).
    """
    det = _hog_detector()
    grey = _grey_u8(image)
    s = _detection_scale(grey.shape, max_side_px)
    up = 0
    while min_face_px * s * 2 ** up < 80 and up < 2:
        up += 1
    small = grey if s == 1.0 else cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    rects, scores, _ = det.run(np.ascontiguousarray(small), up, float(threshold))
    out = []
    for r, sc in zip(rects, scores):
        box = (r.left() / s, r.top() / s, (r.right() - r.left() + 1) / s,
               (r.bottom() - r.top() + 1) / s)
        out.append(Detection(tuple(int(round(v)) for v in box), "hog", float(sc)))
    return _sorted(out)


def _sorted(dets: list[Detection]) -> list[Detection]:
    return sorted(dets, key=lambda d: (d.box[1], d.box[0], d.box[2], d.box[3]))


#: Face detectors by name.
FACE_DETECTORS = {"lbp": detect_faces_lbp, "hog": detect_faces_hog}


def detect_faces(image: np.ndarray, method: str = "lbp", **kwargs) -> list[Detection]:
    """Dispatch to a detector of :data:`FACE_DETECTORS` by name.

    Raises
    ------
    UnknownNameError
        Unknown ``method`` (the message lists the valid ones).
    ConfigError
        ``"hog"`` without dlib installed.
    """
    if method not in FACE_DETECTORS:
        raise unknown_name("face detector", method, FACE_DETECTORS)
    return FACE_DETECTORS[method](image, **kwargs)
