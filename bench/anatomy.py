"""Benchmark: the full helpers.instruct.anatomy() report at 5k / 10k / 50k rows.

    .venv/bin/python bench/anatomy.py [--rows 5000 10000 50000] [--source alpaca koalpaca_v1_0 ...]
    /usr/bin/time -v .venv/bin/python bench/anatomy.py --rows 50000 --source alpaca   # whole-process check

What is measured: ``instruct.anatomy(df, tokenizer)`` — character lengths, token lengths
(``zoo.tiny_tokenizer("ko")``, the byte-level BPE of the tiny profile, one batched
``encode_batch_fast`` call per field), English leading verbs / Korean main predicates (kiwipiepy,
its model load included), ROUGE-L >= 0.7 near-duplicates (exact-duplicate short-circuit, datasketch
MinHash LSH blocking, exact LCS from rapidfuzz) and the quality flags. Each (dataset, rows) runs in
a fresh subprocess, so peaks and one-time costs (Kiwi's model) are honest. Per stage it prints wall
seconds, CPU seconds (process time, all threads: the fair figure when other jobs share the CPU) and
the peak resident memory during the stage (Linux VmHWM, reset per stage), measured by
:class:`StageClock`, which ``anatomy(..., clock=)`` enters around each stage.

The data: our hand-written samples (tiny profile) grown by ``datagen.scale(df, n, seed=1)``
(``bench/datagen.py``). The first ``len(sample)`` rows are the sample; every further row is an exact
copy of an earlier row (1 %), a near-duplicate of one (3 %: one word replaced, one dropped), or a
new row of a sample row's word length made of the opening of one sample row (20-40 % of its words:
the leading verb survives), words drawn from the column's word-frequency distribution, and the
ending of another (20-30 %: the Korean predicate survives), 25 % of kept words replaced. So the 50k
rows have the sample's lengths, languages, openings and predicates and a controlled duplicate share
(about 6-8 % of rows flagged, including chance near-duplicates between short texts), not 300 copies
of each sample row. The text is word salad: fine for timing and memory, meaningless as content.

The tokenizer uses both cores unless ``TOKENIZERS_PARALLELISM=false`` is set (the notebooks and
tests set it; the target is for a 2-core machine, so the benchmark lets it use both).

Targets: <= 20 s and <= 2 GB for 50,000 rows on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("LLM_SURVEY_PROFILE", "tiny")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class StageClock:
    """Times stages: wall seconds, CPU seconds of the process (all threads) and the peak
    resident memory during the stage (Linux: the high-water mark is reset at each stage
    start through ``/proc/self/clear_refs``; elsewhere the process peak so far)."""

    def __init__(self):
        self.rows: list[dict] = []

    @staticmethod
    def _reset_peak() -> None:
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")

    @staticmethod
    def _peak_mb() -> float:
        with contextlib.suppress(OSError), open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r / 1024 / (1024 if sys.platform == "darwin" else 1)

    @contextlib.contextmanager
    def __call__(self, stage: str):
        self._reset_peak()
        w, c = time.perf_counter(), time.process_time()
        yield
        self.rows.append({"stage": stage, "wall_s": time.perf_counter() - w,
                          "cpu_s": time.process_time() - c, "peak_mb": self._peak_mb()})


def one(name: str, rows: int) -> dict:
    """Run one report in this process and return its figures (used by the child process)."""
    from datagen import scale

    from helpers import instruct, zoo

    tok = zoo.tiny_tokenizer("ko")
    df = scale(instruct.load(name, profile="tiny"), rows, seed=1)
    clock = StageClock()
    w, c = time.perf_counter(), time.process_time()
    rep = instruct.anatomy(df, tok, name=name, clock=clock)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    d = rep.duplicates
    return {"dataset": name, "rows": rows, "wall_s": wall, "cpu_s": cpu, "stages": clock.rows,
            "method": d.method, "candidates": d.candidates, "all_pairs": d.all_pairs,
            "dup_pairs": len(d.pairs), "dup_rows": d.n_duplicate_rows,
            "peak_mb": max(s["peak_mb"] for s in clock.rows)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[5_000, 10_000, 50_000])
    ap.add_argument("--source", nargs="*", default=["alpaca", "koalpaca_v1_0", "koalpaca_v1_1"])
    ap.add_argument("--child", nargs=2, metavar=("NAME", "ROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(args.child[0], int(args.child[1]))))
        return
    print(f"tokenizer: zoo.tiny_tokenizer('ko'); TOKENIZERS_PARALLELISM="
          f"{os.environ.get('TOKENIZERS_PARALLELISM', '(unset: both cores)')}; cpus: {os.cpu_count()}; "
          f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results = []
    for name in args.source:
        for n in args.rows:
            out = subprocess.run([sys.executable, __file__, "--child", name, str(n)], check=True,
                                 capture_output=True, text=True, env=os.environ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            r = results[-1]
            print(f"\n{name} x {n:,} rows: wall {r['wall_s']:.1f} s, cpu {r['cpu_s']:.1f} s, "
                  f"peak {r['peak_mb']:.0f} MB | duplicates ({r['method']}): {r['candidates']:,} of "
                  f"{r['all_pairs']:,} pairs scored, {r['dup_pairs']:,} pairs, {r['dup_rows']:,} rows flagged")
            print(f"  {'stage':<12}{'rows':>8}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}")
            for s in r["stages"]:
                print(f"  {s['stage']:<12}{n:>8,}{s['wall_s']:>9.2f}{s['cpu_s']:>8.2f}{s['peak_mb']:>9.0f}")
    big = [r for r in results if r["rows"] >= 50_000]
    if big:
        print("\nat 50,000 rows (targets: <= 20 s, <= 2048 MB):")
        for r in big:
            print(f"  {r['dataset']:<16} wall {r['wall_s']:5.1f} s  cpu {r['cpu_s']:5.1f} s  "
                  f"peak {r['peak_mb']:5.0f} MB")


if __name__ == "__main__":
    main()
