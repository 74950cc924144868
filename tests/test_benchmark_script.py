"""The benchmark script still runs (tiny sizes; timings are not asserted here)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_runs_and_prints_a_table():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "benchmark.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "case" in out and "ratio" in out
    for case in ("scalar MLP", "tanh MLP", "sin(x)", "memory"):
        assert case in out
    assert out.count("gradtrace") >= 4
