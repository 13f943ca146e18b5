"""Figures and reports (matplotlib, Agg backend; files written atomically)."""

from .figures import plot_contact_sheet, plot_qe, plot_snr_vs_lux

__all__ = ["plot_qe", "plot_snr_vs_lux", "plot_contact_sheet"]
