"""`make demo` end to end: it must succeed and produce its table and charts."""

import subprocess
import sys

from tests.conftest import ROOT


def test_demo_prints_predictions_and_writes_charts():
    completed = subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    rows = [line.split()[0] for line in completed.stdout.splitlines() if line.split()[:1] in (["corn"], ["wheat"], ["soybeans"])]
    assert rows == ["corn", "wheat", "soybeans"]
    for line in completed.stdout.splitlines():
        if line.split()[:1] in (["corn"], ["wheat"], ["soybeans"]):
            assert line.count("[") == 2 and (" model " in line or " naive " in line), f"method and intervals shown: {line}"
    assert "verified: 3 items" in completed.stdout
    for commodity in rows:
        chart = ROOT / "demo-output" / f"{commodity}.png"
        assert chart.stat().st_size > 10_000 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
