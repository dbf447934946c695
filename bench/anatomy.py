"""Benchmark: the full helpers.instruct.anatomy() report at 5k / 10k / 50k rows.

    .venv/bin/python bench/anatomy.py [--rows 5000 10000 50000] [--source alpaca koalpaca_v1_0 ...]
    /usr/bin/time -v .venv/bin/python bench/anatomy.py --rows 50000 --source alpaca   # whole-process check

What is measured: ``instruct.anatomy(df, tokenizer)`` — character lengths, token lengths
(``zoo.tiny_tokenizer("ko")``, the byte-level BPE of the tiny profile), English leading
verbs / Korean main predicates (kiwipiepy, its model load included), ROUGE-L >= 0.7
near-duplicates (exact-duplicate short-circuit, MinHash LSH blocking, bit-set bounds,
exact bit-parallel LCS) and the quality flags. Each (dataset, rows) runs in a fresh
subprocess, so peaks and one-time costs (Kiwi's model) are honest. Per stage it prints
wall seconds, CPU seconds (process time, all threads: the fair figure when other jobs share
the CPU) and the peak resident memory during the stage (Linux VmHWM, reset per stage).

The data: our hand-written samples (tiny profile) grown by ``instruct.scale(df, n, seed=1)``.
The first ``len(sample)`` rows are the sample; every further row is an exact copy of an
earlier row (1 %), a near-duplicate of one (3 %: one word replaced, one dropped), or a new
row of a sample row's word length made of the opening of one sample row (20-40 % of its
words: the leading verb survives), words drawn from the column's word-frequency distribution,
and the ending of another (20-30 %: the Korean predicate survives), 25 % of kept words
replaced. So the 50k rows have the sample's lengths, languages, openings and predicates and a
controlled duplicate share (about 6-8 % of rows flagged, including chance near-duplicates
between short texts), not 300 copies of each sample row. The text is word salad: fine for
timing and memory, meaningless as content.

Targets from issue 5: <= 20 s and <= 2 GB for 50,000 rows on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("LLM_SURVEY_PROFILE", "tiny")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def one(name: str, rows: int) -> dict:
    """Run one report in this process and return its figures (used by the child process)."""
    import time

    from helpers import instruct, zoo

    tok = zoo.tiny_tokenizer("ko")
    df = instruct.scale(instruct.load(name, profile="tiny"), rows, seed=1)
    w, c = time.perf_counter(), time.process_time()
    rep = instruct.anatomy(df, tok, name=name)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    d = rep.duplicates
    return {"dataset": name, "rows": rows, "wall_s": wall, "cpu_s": cpu,
            "stages": rep.stages.to_dict("records"), "method": d.method, "proposals": d.candidates,
            "scored": d.scored, "dup_pairs": len(d.pairs), "dup_rows": d.n_duplicate_rows,
            "capped": d.capped_buckets, "peak_mb": float(rep.stages["peak_mb"].max())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[5_000, 10_000, 50_000])
    ap.add_argument("--source", nargs="*", default=["alpaca", "koalpaca_v1_0", "koalpaca_v1_1"])
    ap.add_argument("--child", nargs=2, metavar=("NAME", "ROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(args.child[0], int(args.child[1]))))
        return
    print(f"tokenizer: zoo.tiny_tokenizer('ko'); cpus: {os.cpu_count()}; "
          f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results = []
    for name in args.source:
        for n in args.rows:
            out = subprocess.run([sys.executable, __file__, "--child", name, str(n)], check=True,
                                 capture_output=True, text=True, env=os.environ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            r = results[-1]
            print(f"\n{name} x {n:,} rows: wall {r['wall_s']:.1f} s, cpu {r['cpu_s']:.1f} s, "
                  f"peak {r['peak_mb']:.0f} MB | duplicates ({r['method']}): {r['proposals']:,} "
                  f"proposals, {r['scored']:,} scored exactly, {r['dup_pairs']:,} pairs, "
                  f"{r['dup_rows']:,} rows flagged, {r['capped']:,} capped buckets")
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
