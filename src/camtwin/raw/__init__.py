"""Raw frames and raw file formats (DNG, TIFF, NPZ)."""

from .dng import read_raw, write_dng
from .files import load_raw, read_npz, read_tiff, save_raw, write_npz, write_tiff
from .cfa import CFA_LAYOUTS, CFA_PATTERNS, CFALayout, cfa_channel_index, cfa_layout
from .frame import RawFrame

__all__ = ["CFA_LAYOUTS", "CFALayout", "cfa_layout", "CFA_PATTERNS", "RawFrame", "cfa_channel_index", "load_raw", "read_npz", "read_raw",
           "read_tiff", "save_raw", "write_dng", "write_npz", "write_tiff"]
