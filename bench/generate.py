"""Benchmark: generation speed (new tokens per second) of each model at batch 1 and batch 8.

    .venv/bin/python bench/generate.py [--new-tokens 32] [--threads 1] [--repeat 3] [IDS...]
    .venv/bin/python bench/generate.py --profile real [IDS...]      # on CUDA, the real models

Tiny profile (default): every distinct tiny stand-in of the registry. Each run generates exactly
``--new-tokens`` tokens per prompt (``min_new_tokens = max_new_tokens``, greedy), through
``helpers.generate.side_by_side`` with left-padded batches of our Korean prompts, so batch 1 and batch 8
do the same work per row. tokens/s = all new tokens / generation seconds (best of ``--repeat``;
model loading not included). Tiny numbers measure framework overhead more than arithmetic: they say
nothing about the real models' speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _rate(loaded, prompts, batch: int, new_tokens: int, repeat: int) -> float:
    from helpers import generate

    best = 0.0
    for _ in range(repeat):
        df = generate.side_by_side([loaded], prompts.head(batch), batch_size=batch, max_new_tokens=new_tokens,
                                   min_new_tokens=new_tokens)
        if (df["error"] != "").any():
            raise RuntimeError(df["error"].iloc[0])
        best = max(best, generate.throughput(df)["tokens_per_s"].iloc[0])
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ids", nargs="*", help="registry ids (default: every distinct stand-in / every model)")
    ap.add_argument("--profile", default=os.environ.get("LLM_SURVEY_PROFILE") or "tiny", choices=["tiny", "real"])
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: 1 in the tiny profile, torch's default otherwise)")
    args = ap.parse_args(argv)

    import pandas as pd
    import torch

    from helpers import env, generate, zoo
    from survey_tools import standins

    env.quiet()
    threads = args.threads or (1 if args.profile == "tiny" else None)
    if threads:
        torch.set_num_threads(threads)
    ids = args.ids or list(zoo.specs())
    shares: dict[str, list[str]] = {}  # stand-in's first id -> other ids with the same stand-in
    if args.profile == "tiny" and not args.ids:
        first: dict = {}
        for mid in ids:
            path = standins.tiny_path(mid)
            if path in first:
                shares[first[path]].append(mid)
            else:
                first[path] = mid
                shares[mid] = []
        ids = list(shares)
    prompts = generate.load_prompts()
    if len(prompts) < 8:
        raise SystemExit(f"need 8 prompts for batch 8, {env.data_path(*generate.PROMPTS_FILE)} has {len(prompts)}")
    hw = env.hardware()
    print(f"profile {args.profile}; device {hw.device} ({hw.name}); torch threads {torch.get_num_threads()}; "
          f"{args.new_tokens} new tokens per prompt, greedy; best of {args.repeat}")
    rows = []
    for mid in ids:
        t0 = time.perf_counter()
        try:
            loaded = zoo.load(mid, args.profile)
        except Exception as e:  # noqa: BLE001 - reported, the others go on
            rows.append({"model": mid, "loaded": f"failed: {type(e).__name__}: {str(e)[:60]}"})
            continue
        load_s = time.perf_counter() - t0
        _rate(loaded, prompts, 1, 2, 1)  # warm-up
        b1 = _rate(loaded, prompts, 1, args.new_tokens, args.repeat)
        b8 = _rate(loaded, prompts, 8, args.new_tokens, args.repeat)
        rows.append({"model": loaded.info.label, "config": loaded.info.config_class,
                     "params": f"{loaded.info.params / 1e6:,.2f}M", "load_s": round(load_s, 1),
                     "tok/s batch 1": round(b1, 1), "tok/s batch 8": round(b8, 1),
                     "batch-8 speed-up": round(b8 / b1, 1) if b1 else None,
                     "same stand-in as": ", ".join(shares.get(mid, [])) or "-"})
        del loaded
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
