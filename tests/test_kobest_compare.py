"""kobest.compare: two runs of one task matched doc by doc (notebook 06's shots and variants tables)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import kobest


def run(docs, lls, gold=0):
    samples = pd.DataFrame([{"doc": d, "gold": gold, "pred": max(range(len(ll)), key=ll.__getitem__),
                             **{f"ll_{k}": v for k, v in enumerate(ll)}} for d, ll in zip(docs, lls)])
    return kobest.EvalResult("copa", 0, "harness", kobest.metrics_from_samples(samples, "copa"), samples, {})


def test_moves_smaller_than_half_the_margin_change_no_prediction():
    a = run([0, 1, 2], [[-1.0, -5.0], [-2.0, -3.0], [-4.0, -1.0]])
    b = run([0, 1, 2], [[-1.2, -5.1], [-2.4, -3.3], [-4.2, -1.1]])
    got = kobest.compare(a, b)
    assert got["docs"] == 3 and got["preds_differ"] == 0
    assert got["max_abs_ll_change"] == pytest.approx(0.4) and got["min_margin"] == pytest.approx(1.0)
    assert (got["a_answers"], got["b_answers"]) == (2, 2)


def test_a_flip_is_counted_and_docs_are_matched_by_id_not_by_row():
    a = run([0, 1, 2], [[-1.0, -5.0], [-2.0, -2.5], [-4.0, -1.0]])
    b = run([2, 1, 7], [[-4.0, -1.0], [-3.0, -2.0], [-1.0, -9.0]])  # doc 1 flips; doc 0 and doc 7 are not shared
    got = kobest.compare(a, b)
    assert got["docs"] == 2 and got["preds_differ"] == 1
    assert got["max_abs_ll_change"] == pytest.approx(1.0) and got["min_margin"] == pytest.approx(0.5)


def test_one_answer_for_every_doc():
    a = run([0, 1], [[-1.0, -9.0], [-2.0, -8.0]])
    assert kobest.compare(a, a) == {"docs": 2, "preds_differ": 0, "max_abs_ll_change": 0.0, "min_margin": 6.0,
                                    "a_answers": 1, "b_answers": 1}
