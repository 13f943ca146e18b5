"""Anonymisation stage: find faces, then blur, pixelate or mask them (with a safety margin).

The stage runs after the ISP (:func:`anonymise_rendered` on a
:class:`~camtwin.isp.RenderedImage`, :func:`render_anonymised` right after
:func:`camtwin.camera.render`) or on any image or sequence of video frames
(:func:`anonymise`, :func:`anonymise_frames`). It is a pure function: the input is never
modified, and every pixel outside the anonymised boxes of the output is bit-identical to
the input (the tests check this).

Methods (:data:`ANONYMISE_METHODS`):

``"mask"``
    Solid fill (``spec.mask_value``, a display grey level). Irreversible; recommended.
``"pixelate"``
    Box-average over blocks so that at most ``spec.pixel_blocks`` blocks span the box's
    shorter side.
``"blur"``
    Gaussian blur with σ = ``spec.blur_sigma_fraction`` × the box's shorter side, computed
    from the box's own pixels only (reflected at the box edge), so no pixel from outside
    leaks in and nothing outside changes.

Blur and pixelation at these strengths defeat the detectors, but they are *not* a
cryptographic guarantee: recognisers trained on obfuscated faces re-identify people from
pixelated and blurred faces far above chance (McPherson, Shokri & Shmatikov 2016,
"Defeating Image Obfuscation with Deep Learning", arXiv:1609.00408). Use ``"mask"`` where
re-identification matters.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterable, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from .._spec import FrozenSpec
from ..errors import ConfigError, unknown_name
from .detect import FACE_DETECTORS, Detection, detect_faces

#: Anonymisation methods by name (the functions work in place on a float copy of a box).
ANONYMISE_METHODS = ("blur", "pixelate", "mask")


class AnonymiseSpec(FrozenSpec):
    """Settings of the anonymisation stage.

    Attributes
    ----------
    method : {"blur", "pixelate", "mask"}
        What is done to each face box.
    detectors : tuple of str
        Detectors run (names of :data:`~camtwin.privacy.detect.FACE_DETECTORS`); the union
        of their boxes is anonymised (more detectors = higher recall).
    margin_fraction : float
        Safety margin added on every side of a detected box, as a fraction of its width /
        height (0.25 turns a 100 px box into 150 px), clipped to the image.
    min_face_px : int
        Smallest face searched [px].
    blur_sigma_fraction : float
        Gaussian σ of ``"blur"`` as a fraction of the box's shorter side.
    pixel_blocks : int
        ``"pixelate"``: number of blocks across the box's shorter side.
    mask_value : float
        ``"mask"``: display grey level in [0, 1] (0 = black).
    hold_frames : int
        Video: boxes of the previous ``hold_frames`` frames are anonymised too, so a face the
        detector misses for a few frames stays hidden.
    """

    method: Literal["blur", "pixelate", "mask"] = "mask"
    detectors: tuple[str, ...] = ("lbp",)
    margin_fraction: float = Field(0.25, ge=0.0, le=2.0)
    min_face_px: int = Field(24, ge=8, le=4096)
    blur_sigma_fraction: float = Field(0.25, gt=0.05, le=2.0)
    pixel_blocks: int = Field(5, ge=2, le=32)
    mask_value: float = Field(0.0, ge=0.0, le=1.0)
    hold_frames: int = Field(0, ge=0, le=300)

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, v):
        if not v:
            raise ValueError("at least one detector is needed")
        for name in v:
            if name not in FACE_DETECTORS:
                raise ValueError(f"unknown detector {name!r}; valid: "
                                 + ", ".join(sorted(FACE_DETECTORS)))
        return tuple(dict.fromkeys(v))


@dataclasses.dataclass(frozen=True)
class AnonymiseReport:
    """What the stage did to one image.

    ``boxes`` are the anonymised regions ``(x, y, w, h)`` after the margin and merging;
    ``detections`` the raw detector hits; ``held`` the boxes carried over from earlier frames.
    """

    method: str
    detectors: tuple[str, ...]
    detections: tuple[Detection, ...]
    boxes: tuple[tuple[int, int, int, int], ...]
    held: tuple[tuple[int, int, int, int], ...]
    image_shape: tuple[int, int]
    seconds: float

    @property
    def n_faces(self) -> int:
        return len(self.boxes)

    @property
    def anonymised_fraction(self) -> float:
        return float(box_mask(self.image_shape, self.boxes).mean()) if self.boxes else 0.0

    def as_dict(self) -> dict:
        counts = {d: sum(1 for x in self.detections if x.detector == d) for d in self.detectors}
        return {"method": self.method, "detectors": list(self.detectors),
                "n_regions": self.n_faces, "detections_per_detector": counts,
                "regions": [dict(zip("xywh", b)) for b in self.boxes],
                "held_from_previous_frames": [dict(zip("xywh", b)) for b in self.held],
                "detections": [d.as_dict() for d in self.detections],
                "anonymised_fraction": round(self.anonymised_fraction, 6),
                "image_shape": list(self.image_shape), "seconds": round(self.seconds, 3)}


def expand_box(box, margin_fraction: float, shape) -> tuple[int, int, int, int]:
    """``box`` ``(x, y, w, h)`` [px] grown by ``margin_fraction`` of its size on every side,
    clipped to ``shape``; returned as ``(x, y, w, h)``."""
    x, y, w, h = box
    mx, my = w * margin_fraction, h * margin_fraction
    x0 = max(0, int(np.floor(x - mx)))
    y0 = max(0, int(np.floor(y - my)))
    x1 = min(shape[1], int(np.ceil(x + w + mx)))
    y1 = min(shape[0], int(np.ceil(y + h + my)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def box_mask(shape, boxes) -> np.ndarray:
    """Boolean (H, W) mask, True inside any of ``boxes`` (each ``(x, y, w, h)`` [px])."""
    m = np.zeros(shape[:2], dtype=bool)
    for x, y, w, h in boxes:
        m[y:y + h, x:x + w] = True
    return m


def merge_boxes(boxes) -> list[tuple[int, int, int, int]]:
    """Merge overlapping boxes ``(x, y, w, h)`` [px] into their bounding boxes until none
    overlap.

    Disjoint boxes make the anonymisation independent of processing order (a blurred box
    never re-blurs part of another)."""
    cur = [tuple(int(v) for v in b) for b in boxes if b[2] > 0 and b[3] > 0]
    changed = True
    while changed:
        changed = False
        out: list[tuple[int, int, int, int]] = []
        for b in cur:
            for i, o in enumerate(out):
                if (b[0] < o[0] + o[2] and o[0] < b[0] + b[2]
                        and b[1] < o[1] + o[3] and o[1] < b[1] + b[3]):
                    x0, y0 = min(b[0], o[0]), min(b[1], o[1])
                    x1 = max(b[0] + b[2], o[0] + o[2])
                    y1 = max(b[1] + b[3], o[1] + o[3])
                    out[i] = (x0, y0, x1 - x0, y1 - y0)
                    changed = True
                    break
            else:
                out.append(b)
        cur = out
    return sorted(cur, key=lambda b: (b[1], b[0]))


def _blur(patch: np.ndarray, spec: AnonymiseSpec) -> np.ndarray:
    sigma = max(1.0, spec.blur_sigma_fraction * min(patch.shape[:2]))
    out = cv2.GaussianBlur(patch, (0, 0), sigmaX=sigma, sigmaY=sigma,
                           borderType=cv2.BORDER_REFLECT)
    return out.reshape(patch.shape)


def _pixelate(patch: np.ndarray, spec: AnonymiseSpec) -> np.ndarray:
    h, w = patch.shape[:2]
    block = max(1, int(np.ceil(min(h, w) / spec.pixel_blocks)))
    out = np.empty_like(patch)
    for y in range(0, h, block):
        for x in range(0, w, block):
            cell = patch[y:y + block, x:x + block]
            out[y:y + block, x:x + block] = cell.reshape(-1, *patch.shape[2:]).mean(axis=0)
    return out


def _fill(patch: np.ndarray, value: float) -> np.ndarray:
    return np.full_like(patch, value)


def _apply(image: np.ndarray, boxes, spec: AnonymiseSpec, *, mask_value: float,
           scale: float) -> np.ndarray:
    """Copy of ``image`` with ``boxes`` anonymised; ``scale`` = value of display white."""
    out = image.copy()
    for x, y, w, h in boxes:
        patch = image[y:y + h, x:x + w].astype(np.float32)
        if spec.method == "blur":
            new = _blur(patch, spec)
        elif spec.method == "pixelate":
            new = _pixelate(patch, spec)
        elif spec.method == "mask":
            new = _fill(patch, mask_value * scale)
        else:  # pragma: no cover - the spec validates the name
            raise unknown_name("anonymisation method", spec.method, ANONYMISE_METHODS)
        if np.issubdtype(out.dtype, np.integer):
            info = np.iinfo(out.dtype)
            new = np.clip(np.round(new), info.min, info.max)
        out[y:y + h, x:x + w] = new.astype(out.dtype)
    return out


def _white(image: np.ndarray) -> float:
    if image.dtype == np.uint8:
        return 255.0
    if image.dtype == np.uint16:
        return 65535.0
    if np.issubdtype(image.dtype, np.floating):
        return 1.0
    raise ConfigError(f"image dtype {image.dtype} is not supported (use uint8, uint16 or float "
                      "display values in [0, 1])")


def _check_image(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ConfigError(f"image must be (H, W) or (H, W, 3) RGB, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ConfigError(f"image is empty: shape {img.shape}")
    _white(img)
    return img


def find_regions(image: np.ndarray, spec: AnonymiseSpec = AnonymiseSpec(),
                 ) -> tuple[list[Detection], list[tuple[int, int, int, int]]]:
    """(detections of all of ``spec.detectors``, merged boxes with margin) for ``image``."""
    img = _check_image(image)
    dets: list[Detection] = []
    for name in spec.detectors:
        kw = {"min_face_px": spec.min_face_px}
        dets.extend(detect_faces(img, name, **kw))
    boxes = merge_boxes(expand_box(d.box, spec.margin_fraction, img.shape) for d in dets)
    return dets, boxes


def anonymise(image, spec: AnonymiseSpec = AnonymiseSpec(), *, extra_boxes=(),
              ) -> tuple[np.ndarray, AnonymiseReport]:
    """Detect faces in ``image`` and anonymise them.

    Parameters
    ----------
    image : ndarray or RenderedImage
        (H, W) or (H, W, 3) RGB, uint8 / uint16 / float display values in [0, 1]; a
        :class:`~camtwin.isp.RenderedImage` is handled by :func:`anonymise_rendered` (its
        ``srgb`` and ``linear`` arrays are both anonymised, the result is a RenderedImage).
    spec : AnonymiseSpec
        Method, detectors, margin.
    extra_boxes : iterable of (x, y, w, h), keyword-only
        Regions anonymised in addition to the detected ones (e.g. held from earlier frames).

    Returns
    -------
    (image, AnonymiseReport)
        A new array of the input's dtype and shape (or a new RenderedImage). Outside
        ``report.boxes`` it is bit-identical to the input.
    """
    from ..isp import RenderedImage

    if isinstance(image, RenderedImage):
        return anonymise_rendered(image, spec, extra_boxes=extra_boxes)
    t0 = time.perf_counter()
    img = _check_image(image)
    dets, boxes = find_regions(img, spec)
    held = [tuple(int(v) for v in b) for b in extra_boxes]
    all_boxes = merge_boxes(list(boxes) + held)
    out = _apply(img, all_boxes, spec, mask_value=spec.mask_value, scale=_white(img))
    report = AnonymiseReport(spec.method, spec.detectors, tuple(dets), tuple(all_boxes),
                             tuple(held), tuple(img.shape[:2]), time.perf_counter() - t0)
    return out, report


def _srgb_decode(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def anonymise_rendered(rendered, spec: AnonymiseSpec = AnonymiseSpec(), *, extra_boxes=()):
    """Anonymise a :class:`~camtwin.isp.RenderedImage`: detect on ``srgb``, then anonymise
    the same boxes in ``srgb`` *and* ``linear`` (both carry the face). Returns
    ``(RenderedImage, AnonymiseReport)``; the note ``"privacy: …"`` is appended."""
    t0 = time.perf_counter()
    dets, boxes = find_regions(rendered.srgb, spec)
    held = [tuple(int(v) for v in b) for b in extra_boxes]
    all_boxes = merge_boxes(list(boxes) + held)
    srgb = _apply(np.asarray(rendered.srgb), all_boxes, spec, mask_value=spec.mask_value,
                  scale=1.0)
    linear_mask = _srgb_decode(spec.mask_value)  # display grey → linear (sRGB curve)
    linear = _apply(np.asarray(rendered.linear), all_boxes, spec, mask_value=linear_mask,
                    scale=1.0)
    note = f"privacy: {len(all_boxes)} region(s) anonymised by {spec.method}"
    out = dataclasses.replace(rendered, srgb=srgb, linear=linear,
                              notes=tuple(rendered.notes) + (note,))
    report = AnonymiseReport(spec.method, spec.detectors, tuple(dets), tuple(all_boxes),
                             tuple(held), tuple(rendered.srgb.shape[:2]),
                             time.perf_counter() - t0)
    return out, report


def render_anonymised(module, raw, *, spec: AnonymiseSpec = AnonymiseSpec(), ccm=None):
    """:func:`camtwin.camera.render` followed by the anonymisation stage: the rendered image
    never exists outside this call without its faces anonymised."""
    from ..camera import render

    return anonymise_rendered(render(module, raw, ccm=ccm), spec)


def anonymise_frames(frames: Iterable, spec: AnonymiseSpec = AnonymiseSpec()):
    """Anonymise a sequence of video frames (arrays or RenderedImages), lazily.

    Yields ``(frame, report)`` per input frame. Boxes found in the previous
    ``spec.hold_frames`` frames are anonymised too (a face missed by the detector for a
    few frames stays hidden); frames must all have the same size.
    """
    history: list[tuple[tuple[int, int, int, int], ...]] = []
    shape = None
    for i, frame in enumerate(frames):
        arr = frame.srgb if hasattr(frame, "srgb") else np.asarray(frame)
        if shape is None:
            shape = arr.shape[:2]
        elif arr.shape[:2] != shape:
            raise ConfigError(f"frame {i} is {arr.shape[1]}×{arr.shape[0]} px, frame 0 was "
                              f"{shape[1]}×{shape[0]} px")
        held = [b for boxes in history[-spec.hold_frames:] for b in boxes] \
            if spec.hold_frames else []
        out, report = anonymise(frame, spec, extra_boxes=held)
        history.append(tuple(merge_boxes(expand_box(d.box, spec.margin_fraction, shape)
                                         for d in report.detections)))
        yield out, report
