"""Benchmark: execute each notebook in the tiny profile; print wall seconds and the kernel's peak memory.

Run with `make bench` or `LLM_SURVEY_PROFILE=tiny HF_HUB_OFFLINE=1 .venv/bin/python bench/notebooks.py [NAMES...]`.
Targets, on 2 CPU cores: the seven notebooks together in at most 60 s, each kernel under 1 GB (DESIGN.md:
about a minute and under 1.5 GB for any one notebook). Nothing is written back into notebooks/.
"""

from __future__ import annotations

import os
import sys

from survey_tools import notebooks

TOTAL_S, PEAK_MB = 60, 1024

if __name__ == "__main__":
    os.environ.setdefault("LLM_SURVEY_PROFILE", "tiny")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runs = [notebooks.execute(p) for p in notebooks.notebooks(sys.argv[1:] or None)]
    print(f"profile: {os.environ['LLM_SURVEY_PROFILE']}, cpus: {os.cpu_count()}")
    print(notebooks.table(runs))
    total, heaviest = sum(r.seconds for r in runs), max(runs, key=lambda r: r.peak_mb)
    print(f"target: together <= {TOTAL_S} s ({total:.1f} s), each < {PEAK_MB} MB "
          f"(heaviest {heaviest.name} {heaviest.peak_mb:.0f} MB)")
    sys.exit(1 if any(r.error for r in runs) else 0)
