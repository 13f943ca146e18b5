"""Market model from the seed reports (issue 12): claims with provenance, forecasts, a
contradiction audit, and the link from report segments to catalog parts.

* :mod:`camtwin.market.data` — the dataset (``camtwin/data/market/claims.yaml``), validated.
* :mod:`camtwin.market.seeds` — visible text and numeric tokens of the seed documents.
* :mod:`camtwin.market.forecast` — implied CAGRs, projections with their range, plots.
* :mod:`camtwin.market.audit` — automatic contradiction checks with citations.
* :mod:`camtwin.market.segments` — catalog sensors/modules placed in the reports' segments.

Examples
--------
>>> from camtwin.market import forecast
>>> fc = forecast("miniature_camera_modules", 2032)
>>> [round(r.cagr_pct, 2) for r in fc.rates]
[5.7, 5.53]
"""

from .audit import CHECKS, AuditReport, Finding, audit
from .data import METRICS, TAGS, Claim, MarketData, load_market_data, market_data_path
from .forecast import (Forecast, forecast, implied_cagr, plot_forecast, project,
                       series_names, years_needed)
from .segments import segment_table

__all__ = ["CHECKS", "METRICS", "TAGS", "AuditReport", "Claim", "Finding", "Forecast",
           "MarketData", "audit", "forecast", "implied_cagr", "load_market_data",
           "market_data_path", "plot_forecast", "project", "segment_table", "series_names",
           "years_needed"]
