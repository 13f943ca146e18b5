"""Design-space sweeps: a YAML grid of module variants × measurement conditions, run on
``dask.distributed``, stored as Parquet with a DuckDB view, resumable.

* :func:`load_sweep` / :func:`compile_sweep` — the spec and its validated points
  (:mod:`.spec`); the measurements (:mod:`.measurements`);
* :func:`run_sweep` — the Dask run (:mod:`.runner`);
* :class:`SweepStore`, :func:`query` — the results store (:mod:`.store`);
* :func:`write_sweep_report` — plots, Pareto front and summary table (:mod:`.report`).
"""

from ..extras import require as _require

_require("sweep", "camtwin.sweep")

from .measurements import EMVA_FIGURES, Measurement
from .runner import SweepOutcome, run_sweep
from .spec import CompiledSweep, Point, SweepSpec, compile_sweep, load_sweep
from .store import SweepStore, open_store, query

__all__ = ["EMVA_FIGURES", "Measurement", "SweepOutcome", "run_sweep", "CompiledSweep",
           "Point", "SweepSpec", "compile_sweep", "load_sweep", "SweepStore", "open_store",
           "query"]
