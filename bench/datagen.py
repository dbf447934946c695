"""Benchmark data: grow an instruction sample to any number of rows (for ``bench/anatomy.py``).

Not part of ``helpers``: students never need it. Usage::

    from datagen import scale                      # bench/ is on sys.path when a bench script runs
    big = scale(instruct.load("alpaca", profile="tiny"), 50_000, seed=1)
"""

from __future__ import annotations


def scale(df, n: int, seed: int = 0, swap: float = 0.25, near_dup: float = 0.03,
          exact_dup: float = 0.01):
    """Grow ``df`` to ``n`` rows by deterministic perturbation (for benchmarks).

    The first ``len(df)`` rows are ``df`` itself. Every further row is one of:

    * an **exact duplicate** of an earlier row (probability ``exact_dup``);
    * a **near duplicate** of an earlier row (``near_dup``): one word of each text replaced
      and, in texts of 6+ words, one word dropped (ROUGE-L about 0.8-0.9 to its source);
    * otherwise a **new row** of the word length of a random base row: the opening of base
      row ``a`` (its first 20-40 % of words, so the leading verb / opening phrase survives),
      a middle of words drawn from the column's own word-frequency distribution (so common
      words stay common), and the ending of base row ``b`` (its last 20-30 %, so the final
      Korean predicate survives); the opening and ending keep each word with probability
      ``1 - swap``. No new row takes more than 40 % of its words from one base row.

    Lengths, languages, openings and predicates stay those of the sample and the shares of
    duplicates are set by the parameters (chance near-duplicates between new rows remain,
    as in real data, mostly short texts sharing an opening and an ending). A plain
    copy-and-swap would instead make clusters of ``n / len(df)`` variants of every row, a
    duplicate structure no real dataset has.
    Other columns (url, category, ...) come from the opening's base row. The same ``seed``
    always gives the same frame.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    base = df.reset_index(drop=True)
    nb = len(base)
    if n <= nb:
        out = base.iloc[:n].copy()
        out.attrs = dict(base.attrs)
        return out
    kind = rng.random(n)
    kind[:nb] = 1.0
    src = np.arange(n) % nb
    src[nb:] = rng.integers(0, nb, n - nb)
    other = rng.integers(0, nb, n)
    cut_a = rng.uniform(0.2, 0.4, n)
    cut_b = rng.uniform(0.2, 0.3, n)
    like = rng.integers(0, nb, n)  # the base row whose length a new row takes
    earlier = (rng.random(n) * np.arange(n)).astype(np.int64)
    exact = kind < exact_dup
    near = (kind >= exact_dup) & (kind < exact_dup + near_dup)
    row_of = src.copy()
    row_of[exact | near] = -1  # filled from earlier rows below
    cols = [c for c in ("instruction", "input", "output") if c in base]
    words = {c: [t.split() for t in base[c].fillna("").astype(str)] for c in cols}
    pool = {c: np.array([w for ws in words[c] for w in ws] or [""], dtype=object) for c in cols}
    vals = {c: base[c].fillna("").astype(str).tolist() + [""] * (n - nb) for c in cols}
    base_row = np.concatenate([np.arange(nb), np.zeros(n - nb, dtype=np.int64)])
    for k in range(nb, n):
        if exact[k] or near[k]:
            j = earlier[k]
            base_row[k] = base_row[j]
            for c in cols:
                ws = vals[c][j].split()
                if near[k] and ws:
                    ws = list(ws)
                    ws[int(rng.integers(len(ws)))] = str(pool[c][rng.integers(len(pool[c]))])
                    if len(ws) >= 6:
                        del ws[int(rng.integers(1, len(ws) - 1))]
                vals[c][k] = " ".join(ws) if near[k] else vals[c][j]
            continue
        a, b = src[k], other[k]
        base_row[k] = a
        for c in cols:
            wa, wb = words[c][a], words[c][b]
            if c == "input" and not wa:
                continue  # rows without input stay without input
            size = len(words[c][like[k]]) or len(wa)
            ia = min(size, max(1, int(round(size * cut_a[k]))))
            ib = min(size - ia, int(round(size * cut_b[k])))
            head = wa[:ia]
            tail = wb[len(wb) - ib:] if ib else []
            mid = pool[c][rng.integers(0, len(pool[c]), max(0, size - len(head) - len(tail)))].tolist()
            ws = head + mid + tail
            if len(ws) > 2:
                hit = np.flatnonzero(rng.random(len(ws) - 2) < swap) + 1
                if len(hit):
                    for h, w in zip(hit, pool[c][rng.integers(0, len(pool[c]), len(hit))]):
                        ws[h] = str(w)
            vals[c][k] = " ".join(ws)
    out = base.iloc[base_row].reset_index(drop=True).copy()
    for c in cols:
        out[c] = vals[c]
    out.attrs = {**base.attrs, "source": f"{base.attrs.get('source', 'dataset')} scaled to {n}"}
    return out
