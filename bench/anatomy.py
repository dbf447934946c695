"""Benchmark: the full helpers.instruct.anatomy() report on 50,000 rows.

    .venv/bin/python bench/anatomy.py [--rows 50000] [--source koalpaca_v1_0 ...]

Our samples (tiny profile) are scaled up by deterministic perturbation
(``helpers.instruct.scale``); the report includes character and token lengths, verbs /
Korean predicates (kiwipiepy), ROUGE-L >= 0.7 near-duplicates with blocking, and quality
flags. Prints wall seconds and peak resident memory (MB) per dataset, and the per-stage
split. Targets from issue 5: <= 20 s and <= 2 GB each.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("LLM_SURVEY_PROFILE", "tiny")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _peak_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 1024 / 1024


def _tokenizer():
    try:
        from helpers import zoo

        return zoo.tiny_tokenizer("ko"), 'zoo.tiny_tokenizer("ko")'
    except Exception as e:  # noqa: BLE001 - the lead's zoo may be unavailable
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        from helpers import instruct

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        texts = instruct.load("koalpaca_v1_1")["output"].tolist() + instruct.load("alpaca")["output"].tolist()
        tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        return tok, f"byte-level BPE trained on our samples (zoo unavailable: {type(e).__name__})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--source", nargs="*", default=["alpaca", "koalpaca_v1_0", "koalpaca_v1_1"])
    args = ap.parse_args()
    from helpers import instruct

    tok, tok_desc = _tokenizer()
    print(f"tokenizer: {tok_desc}; rows per dataset: {args.rows:,}; cpus: {os.cpu_count()}")
    rows = []
    for name in args.source:
        df = instruct.scale(instruct.load(name), args.rows, seed=1)
        t = time.perf_counter()
        rep = instruct.anatomy(df, tok, name=name)
        wall = time.perf_counter() - t
        d = rep.duplicates
        rows.append((name, wall, _peak_mb(), d.candidates, d.all_pairs, d.n_duplicate_rows, rep.seconds))
    print()
    print(f"{'dataset':<16}{'wall s':>8}{'peak MB':>9}{'candidates':>12}{'all pairs':>14}{'dup rows':>10}  stages (s)")
    for name, wall, mb, c, allp, nd, sec in rows:
        st = " ".join(f"{k}={v:.1f}" for k, v in sec.items() if k != "total")
        print(f"{name:<16}{wall:>8.1f}{mb:>9.0f}{c:>12,}{allp:>14,}{nd:>10,}  {st}")
    worst = max(r[1] for r in rows)
    print(f"\nmax wall {worst:.1f} s (target <= 20 s); peak RSS {_peak_mb():.0f} MB (target <= 2048 MB)")


if __name__ == "__main__":
    main()
