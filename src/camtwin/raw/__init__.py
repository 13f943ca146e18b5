"""Raw frames and raw file formats (DNG, TIFF, NPZ)."""

from .dng import read_raw, write_dng
from .files import load_raw, read_npz, read_tiff, save_raw, write_npz, write_tiff
from .frame import CFA_PATTERNS, RawFrame, cfa_channel_index

__all__ = ["CFA_PATTERNS", "RawFrame", "cfa_channel_index", "load_raw", "read_npz", "read_raw",
           "read_tiff", "save_raw", "write_dng", "write_npz", "write_tiff"]
