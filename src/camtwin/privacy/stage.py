"""The privacy stage of the module: policy decision → optional vault storage → anonymisation.

:func:`privacy_stage` is what runs on each frame before it leaves the module::

    decision = decide(policy, context)              # geofence + consent, fail closed
    if decision allows templates/crops and a vault is given:
        store them encrypted (never in clear, never in a forbidden zone)
    if decision.anonymise:
        frame = anonymise(frame)                    # blur / pixelate / mask with margin

Templates are local-binary-pattern histograms (Ahonen, Hadid & Pietikäinen 2006, "Face
description with local binary patterns", IEEE TPAMI 28(12) 2037–2041: uniform LBP₈,₁ on a
64×64 grey crop, 4×4 cells × 59 bins, each cell L1-normalised) — a classic, model-free face
descriptor; the point here is the data flow, not recognition accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .anonymise import AnonymiseSpec, anonymise, expand_box, find_regions
from .detect import to_uint8
from .policy import Decision, FrameContext, Policy, decide

#: Template layout: crop side [px], cells per side, LBP neighbours and radius.
TEMPLATE_CROP_PX = 64
TEMPLATE_CELLS = 4


def face_template(image: np.ndarray, box) -> np.ndarray:
    """LBP-histogram face template (float32, 4·4·59 = 944 values) of ``box`` ``(x, y, w, h)``
    [px] in ``image``."""
    from skimage.feature import local_binary_pattern

    x, y, w, h = box
    img = to_uint8(image)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    crop = cv2.resize(grey[y:y + h, x:x + w], (TEMPLATE_CROP_PX, TEMPLATE_CROP_PX),
                      interpolation=cv2.INTER_AREA)
    codes = local_binary_pattern(crop, 8, 1, method="nri_uniform")  # 59 labels
    c = TEMPLATE_CROP_PX // TEMPLATE_CELLS
    hists = []
    for i in range(TEMPLATE_CELLS):
        for j in range(TEMPLATE_CELLS):
            cell = codes[i * c:(i + 1) * c, j * c:(j + 1) * c]
            hist = np.bincount(cell.astype(np.int64).ravel(), minlength=59)[:59]
            hists.append(hist / max(1, hist.sum()))
    return np.concatenate(hists).astype(np.float32)


@dataclass(frozen=True)
class StageResult:
    """One frame through the privacy stage."""

    image: object
    decision: Decision
    report: object | None
    stored: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"decision": self.decision.as_dict(),
                "anonymisation": self.report.as_dict() if self.report is not None else None,
                "stored_records": list(self.stored)}


def privacy_stage(image, context: FrameContext, policy: Policy, *,
                  spec: AnonymiseSpec = AnonymiseSpec(), vault=None) -> StageResult:
    """Apply ``policy`` to one frame (array or RenderedImage) taken at ``context``.

    Face templates / crops are computed *only* when the decision allows them, from the
    frame before anonymisation, and go only into ``vault`` (encrypted). A frame inside a
    zone that forbids templates never yields one (not even in memory).
    """
    decision = decide(policy, context)
    stored: list[str] = []
    arr = image.srgb if hasattr(image, "srgb") else np.asarray(image)
    if vault is not None and (decision.store_templates or decision.store_crops):
        dets, _ = find_regions(arr, spec)
        label = {"zones": ",".join(decision.zones) or "none",
                 "frame_time_s": context.time_s, "consent": bool(context.consent)}
        for d in dets:
            box = expand_box(d.box, 0.0, arr.shape)
            if decision.store_templates:
                stored.append(vault.store(face_template(arr, box).tobytes(), kind="template",
                                          label={**label, "detector": d.detector}))
            if decision.store_crops:
                x, y, w, h = expand_box(d.box, spec.margin_fraction, arr.shape)
                crop = np.ascontiguousarray(to_uint8(arr)[y:y + h, x:x + w])
                ok, buf = cv2.imencode(".png", crop[:, :, ::-1] if crop.ndim == 3 else crop)
                if ok:
                    stored.append(vault.store(buf.tobytes(), kind="crop",
                                              label={**label, "detector": d.detector}))
    report = None
    out = image
    if decision.anonymise:
        out, report = anonymise(image, spec)
    return StageResult(out, decision, report, tuple(stored))
