"""Every script in examples/ runs to completion (subprocess, bundled sample data)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "make_sample.py")  # make_sample: test_io


def test_every_example_is_listed():
    assert SCRIPTS == ["dask_large_scale.py", "evaluate_yolo_export.py", "postprocess_then_evaluate.py", "rotated_obb.py",
                       "training_loop.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script, tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "MPLBACKEND": "Agg"}, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip()
