"""Run a snippet in a fresh interpreter for peak-memory tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def fresh_json(code: str, timeout: float = 300):
    """Run ``code`` with this Python in a new process whose environment has no ``MALLOC_*``
    settings (the heap slack the CLI's allocator tuning keeps would hide a call's growth)
    and return the JSON value on the last line it prints; a failure shows its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])
