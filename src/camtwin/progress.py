"""Stage timing and a quiet progress display for long commands (``capture``, ``demo``).

:class:`StageTimer` records the wall time of each named stage and the process's peak
memory. With ``show=True`` a Rich progress line appears for a stage only once it has run
for :data:`SHOW_AFTER_S` seconds (a fast run prints nothing); ``advance(done, total)``
moves its bar.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

#: A stage gets a progress line once it has run this long [s].
SHOW_AFTER_S = 1.0


class StageTimer:
    """Seconds per stage (``times``), peak RSS, and an optional delayed Rich progress."""

    def __init__(self, *, show: bool = False, console=None):
        self.times: dict[str, float] = {}
        self._show = show
        self._console = console
        self._progress = None
        self._task = None
        self._timer = None
        self._stage = None
        self._t0 = 0.0
        self._lock = threading.Lock()

    def __enter__(self):
        # a progress display only on a terminal: piped or captured stderr keeps exactly the
        # one error line (Rich's Progress.stop prints an empty line when not interactive)
        if self._show and (self._console is None or self._console.is_interactive):
            from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn)

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      TimeElapsedColumn(), console=self._console,
                                      transient=False)
            self._progress.start()
        return self

    def __exit__(self, *exc):
        self.finish()
        if self._progress is not None:
            self._progress.stop()
        return False

    def _reveal(self):
        with self._lock:
            if self._task is not None and self._progress is not None:
                self._progress.update(self._task, visible=True)

    def start(self, stage: str) -> None:
        """End the running stage (if any) and start ``stage``."""
        self.finish()
        self._stage, self._t0 = stage, time.perf_counter()
        if self._progress is not None:
            with self._lock:
                self._task = self._progress.add_task(stage, total=None, visible=False)
            self._timer = threading.Timer(SHOW_AFTER_S, self._reveal)
            self._timer.daemon = True
            self._timer.start()

    def advance(self, done: int, total: int | None) -> None:
        """Progress of the running stage (``done`` of ``total`` steps)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total)

    def finish(self) -> None:
        """End the running stage and record its time."""
        if self._stage is None:
            return
        dt = time.perf_counter() - self._t0
        self.times[self._stage] = self.times.get(self._stage, 0.0) + dt
        if self._timer is not None:
            self._timer.cancel()
        if self._progress is not None and self._task is not None:
            with self._lock:
                task = self._progress.tasks[-1] if self._progress.tasks else None
                total = task.total if task is not None and task.total else 1
                self._progress.update(self._task, completed=total, total=total,
                                      description=f"{self._stage} ({dt:.1f} s)")
        self._stage, self._task, self._timer = None, None, None

    @contextmanager
    def stage(self, name: str):
        self.start(name)
        try:
            yield self
        finally:
            self.finish()

    def callback(self, stage: str, done: int, total: int | None) -> None:
        """``progress(stage, done, total)`` hook for :func:`camtwin.camera.shoot`."""
        if stage != self._stage:
            self.start(stage)
        self.advance(done, total)

    def report(self) -> dict:
        """``{"stage_s": {stage: seconds}, "peak_memory_mib": …}`` for ``--json``."""
        from .memory import peak_rss_bytes

        return {"stage_s": {k: round(v, 4) for k, v in self.times.items()},
                "peak_memory_mib": round(peak_rss_bytes() / 2**20, 1)}
