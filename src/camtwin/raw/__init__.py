"""Raw frames and raw file formats (DNG, TIFF, NPZ)."""

from .frame import CFA_PATTERNS, RawFrame, cfa_channel_index

__all__ = ["CFA_PATTERNS", "RawFrame", "cfa_channel_index"]
