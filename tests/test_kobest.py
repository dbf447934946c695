"""Tests of helpers.kobest: data, prompts, tokenization, the shared-prefix scorer, the cache,
metrics -- and parity with lm-evaluation-harness itself on the tiny stand-in."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from helpers import env, kobest  # noqa: E402

PARITY_LIMIT = 6  # docs per task in the lm-eval parity test (CI has 2 cores)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def standin():
    from helpers import zoo

    loaded = zoo.load("polyglot-ko-1.3b", profile="tiny")
    assert "tiny stand-in" in loaded.info.description
    return loaded.model, loaded.tokenizer


@pytest.fixture(scope="module")
def tok(standin):
    return standin[1]


def _random_model(family: str, tok, context: int = 64):
    """A randomly initialised 2-layer model of another family (other position schemes)."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    ids = {"vocab_size": len(tok), "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
           "pad_token_id": tok.pad_token_id}
    if family == "llama":
        cfg = tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=2, max_position_embeddings=context, **ids)
        return tf.LlamaForCausalLM(cfg).eval()
    cfg = tf.BloomConfig(hidden_size=32, n_layer=2, n_head=4, **ids)
    cfg.n_positions = context  # BLOOM has no position limit of its own; give lm-eval's rule one
    return tf.BloomForCausalLM(cfg).eval()


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("task", kobest.TASKS)
def test_samples_have_schema_sizes_and_balance(task):
    data = kobest.load_task(task, kobest.samples_dir())
    counts = data.counts()
    assert counts["train"] >= 60 and counts["validation"] >= 40 and counts["test"] >= 40
    for split, rows in data.splits.items():
        assert all(list(r) == list(kobest.SCHEMA[task]) for r in rows)
        labels = [r["label"] for r in rows]
        per = {c: labels.count(c) for c in range(kobest.N_CHOICES[task])}
        assert max(per.values()) - min(per.values()) <= 1, (split, per)


def test_no_text_shared_between_train_and_test():
    for task, field in [("boolq", "paragraph"), ("copa", "premise"), ("wic", "context_1"),
                        ("hellaswag", "context"), ("sentineg", "sentence")]:
        data = kobest.load_task(task, kobest.samples_dir())
        assert not {r[field] for r in data.split("train")} & {r[field] for r in data.split("test")}, task


def test_bad_rows_name_file_line_and_field(tmp_path):
    d = tmp_path / "copa"
    d.mkdir()
    good = {"premise": "비가 왔다.", "question": "결과", "alternative_1": "땅이 젖었다.",
            "alternative_2": "땅이 말랐다.", "label": 0}
    lines = [good, {**good, "question": "이유"}]
    (d / "test.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    with pytest.raises(kobest.KoBESTDataError, match=r"test.jsonl: line 2: field 'question': expected '원인' or "
                                                    r"'결과', found '이유'"):
        kobest.load_task("copa", tmp_path)
    (d / "test.jsonl").write_text(json.dumps({**good, "label": 2}), encoding="utf-8")
    with pytest.raises(kobest.KoBESTDataError, match=r"line 1: field 'label': expected 0..1, found 2"):
        kobest.load_task("copa", tmp_path)
    (d / "test.jsonl").write_text(json.dumps({k: v for k, v in good.items() if k != "premise"}), encoding="utf-8")
    with pytest.raises(kobest.KoBESTDataError, match=r"line 1: field 'premise': missing"):
        kobest.load_task("copa", tmp_path)
    (d / "test.jsonl").write_text("{not json", encoding="utf-8")
    with pytest.raises(kobest.KoBESTDataError, match=r"line 1, column 2: .*not valid JSON"):
        kobest.load_task("copa", tmp_path)
    with pytest.raises(ValueError, match="unknown KoBEST task"):
        kobest.load_task("kold")


def test_splits_as_csv_tsv_xlsx_with_bom_and_crlf(tmp_path):
    import pandas as pd

    ours = kobest.load_task("copa", kobest.samples_dir())
    d = tmp_path / "copa"
    d.mkdir()
    train = pd.DataFrame(ours.split("train"))
    shuffled = train[list(reversed(train.columns))]  # columns in any order
    (d / "train.csv").write_bytes(shuffled.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig"))
    pd.DataFrame(ours.split("validation")).to_csv(d / "validation.tsv", sep="\t", index=False)
    pd.DataFrame(ours.split("test")).to_excel(d / "test.xlsx", index=False)
    mine = kobest.load_task("copa", tmp_path)
    assert mine.splits == ours.splits  # labels back as integers, fields in the hub's order
    (d / "test.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(kobest.KoBESTDataError, match=r"expected one file per split, found .*test.jsonl.*test.xlsx"):
        kobest.load_task("copa", tmp_path)
    (d / "test.jsonl").unlink()
    pd.DataFrame(ours.split("test")).assign(label="예").to_excel(d / "test.xlsx", index=False)
    with pytest.raises(kobest.KoBESTDataError, match=r"test.xlsx: sheet 'Sheet1', row 2: field 'label': expected an "
                                                    r"integer, found '예'"):
        kobest.load_task("copa", tmp_path)


def test_hub_load_offline_gives_a_clear_message():
    with pytest.raises(env.HubError, match="HF_HUB_OFFLINE is set"):
        kobest.load_task("copa", "hub")


def test_default_source_follows_the_profile_asked(monkeypatch):
    monkeypatch.setenv("LLM_SURVEY_PROFILE", "real")  # the profile argument, not the environment, decides
    assert kobest.load_task("copa", profile="tiny").source == str(kobest.samples_dir())


# --------------------------------------------------------------------------- prompts


def test_prompts_match_the_harness_and_the_old_branch():
    doc = {"premise": "길이 얼었다.", "question": "원인", "alternative_1": "추웠다.", "alternative_2": "더웠다.",
           "label": 0}
    new, old = kobest.prompts("copa", [doc], "harness")[0], kobest.prompts("copa", [doc], "polyglot")[0]
    assert new.text == "길이 얼었다.  왜냐하면" and old.text == "길이 얼었다. 왜냐하면"
    assert new.continuations == (" 추웠다.", " 더웠다.") == old.continuations
    b = kobest.prompts("boolq", [{"paragraph": "P", "question": "Q?", "label": 1}])[0]
    assert b.text == "P 질문: Q? 답변: " and b.continuations == (" 아니오", " 예")
    assert b.solved == "P 질문: Q? 답변:  예"  # the few-shot example: text + delimiter + gold choice
    h = kobest.prompts("hellaswag", [{"context": "C", "ending_1": "a", "ending_2": "b", "ending_3": "c",
                                      "ending_4": "d", "label": 2}])[0]
    assert h.text == "문장: C" and h.gold == 2 and h.choices == ("a", "b", "c", "d")


def test_harness_prompts_are_read_from_lm_evals_own_task_files():
    """Not a copy: the texts come from lm_eval/tasks/kobest (its utils.py functions and Jinja templates)."""
    utils = pytest.importorskip("lm_eval.tasks.kobest.utils")
    for task in kobest.TASKS:
        docs = kobest.load_task(task, kobest.samples_dir()).split("test")[:4]
        ours = kobest.prompts(task, docs)
        assert [p.gold for p in ours] == [d["label"] for d in docs]
        assert all(len(p.choices) == kobest.N_CHOICES[task] for p in ours)
        if task == "copa":
            assert [p.text for p in ours] == [utils.copa_doc_to_text(d) for d in docs]
            assert [list(p.choices) for p in ours] == [utils.copa_doc_to_choice(d) for d in docs]
        if task == "wic":
            assert [p.text for p in ours] == [utils.wic_doc_to_text(d) for d in docs]
    assert kobest.harness_config("boolq").doc_to_text == "{{paragraph}} 질문: {{question}} 답변: "


def test_fewshot_contexts_are_deterministic_and_shaped():
    data = kobest.load_task("sentineg", kobest.samples_dir())
    a = kobest.build_items(data, 5, "harness", limit=5)
    b = kobest.build_items(data, 5, "harness", limit=3)
    assert [x.context for x in a[:3]] == [x.context for x in b]  # a limit does not change earlier prompts
    assert a[0].context.count("\n\n") == 5 and a[0].context.endswith("긍부정:")
    assert a[0].shots != a[1].shots  # one generator consumed doc after doc
    old = kobest.build_items(data, 0, "polyglot")
    assert sorted(x.doc_id for x in old) == list(range(40)) and [x.doc_id for x in old[:5]] != list(range(5))
    with pytest.raises(ValueError, match="needs 61"):
        kobest.build_items(data, 61)
    with pytest.raises(ValueError, match="unknown KoBEST variant"):
        kobest.build_items(data, 0, "old")


def test_encode_pair_moves_trailing_space_like_the_harness(tok):
    ctx, cont = kobest.encode_pair(tok, "문단 답변: ", " 예", "harness")
    assert ctx == tok.encode("문단 답변:", add_special_tokens=False)
    assert ctx + cont == tok.encode("문단 답변:  예", add_special_tokens=False)[: len(ctx) + len(cont)]
    octx, ocont = kobest.encode_pair(tok, "문단 답변: ", " 예", "polyglot")
    assert octx == tok.encode("문단 답변: ", add_special_tokens=False) and octx != ctx
    assert ocont == tok.encode(" 예", add_special_tokens=False)
    pairs = [("문단 답변: ", " 예"), ("문단 답변: ", " 아니오"), ("다른 문단", " 예")]
    for variant in kobest.VARIANTS:  # one batched tokenizer call gives what one call per pair gives
        assert kobest.encode_pairs(tok, pairs, variant) == [kobest.encode_pair(tok, *p, variant) for p in pairs]
    with pytest.raises(ValueError, match="empty context"):
        kobest.encode_pair(tok, "", " 예")


# --------------------------------------------------------------------------- scorer


@pytest.mark.parametrize("family", ["gpt_neox", "llama", "bloom"])
def test_shared_prefix_scorer_equals_one_forward_per_request(family, standin, tok):
    """Covers short prompts, left truncation (64-token window) and uneven batches."""
    model = standin[0] if family == "gpt_neox" else _random_model(family, tok)
    max_len = kobest.max_length(model, tok)
    requests = []
    for task, shots in [("boolq", 1), ("hellaswag", 0), ("copa", 2), ("wic", 0)]:
        for it in kobest.build_items(kobest.load_task(task, kobest.samples_dir()), shots, limit=3):
            requests += [kobest.encode_pair(tok, it.context, c) for c in it.prompt.continuations]
    if family != "gpt_neox":
        assert any(len(c) + len(k) > max_len + 1 for c, k in requests)  # truncation exercised
    plain = kobest.score_requests_plain(model, requests, max_len)
    groups = kobest.group_by_shared_prefix(requests, max_len)
    assert len(groups) < len(requests)  # prefixes are shared
    assert sorted(i for g in groups for i, _ in g.continuations) == list(range(len(requests)))
    fast = kobest.score_prefix_groups(model, groups, batch_size=3, pad_id=tok.pad_token_id)
    assert max(abs(plain[i] - fast[i]) for i in range(len(requests))) < 1e-4


def test_group_by_shared_prefix_cuts_long_contexts_like_the_window():
    groups = kobest.group_by_shared_prefix([([1, 2, 3, 4], [5]), ([1, 2, 3, 4], [6, 7]), ([9, 2, 3, 4], [5])], 4)
    # windows: [1,2,3,4]+[5] -> cut to 5 tokens keeps all; +[6,7] drops token 1; the third differs
    assert [g.prefix for g in groups] == [(1, 2, 3, 4), (2, 3, 4), (9, 2, 3, 4)]
    assert [g.continuations for g in groups] == [[(0, (5,))], [(1, (6, 7))], [(2, (5,))]]
    with pytest.raises(ValueError, match="request 0"):
        kobest.group_by_shared_prefix([([1], [])], 4)


def test_cache_resumes_an_interrupted_run(standin, tmp_path):
    model, tok = standin
    path = tmp_path / "c.jsonl"
    full = kobest.evaluate(model, tok, "copa", n_shot=1, limit=6, cache=path, progress=False)
    assert full.info["from_cache"] == 0 and len(path.read_text().splitlines()) == 12
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5]) + "\n" + lines[5][:10])  # cut mid-line, as a kill would
    again = kobest.evaluate(model, tok, "copa", n_shot=1, limit=6, cache=path, progress=False)
    assert again.info["from_cache"] == 5
    assert (again.samples["pred"] == full.samples["pred"]).all()
    assert (again.samples[["ll_0", "ll_1"]] - full.samples[["ll_0", "ll_1"]]).abs().max().max() < 1e-5
    other = kobest.evaluate(model, tok, "copa", n_shot=2, limit=6, cache=path, progress=False)
    assert other.info["from_cache"] == 0  # other prompts: hashes differ, nothing reused


def test_evaluate_result_shape(standin):
    model, tok = standin
    r = kobest.evaluate(model, tok, "hellaswag", n_shot=0, limit=8, cache=False, progress=False)
    assert set(r.metrics) == {"acc", "macro_f1", "acc_norm", "n"} and r.metrics["n"] == 8
    assert {"doc", "gold", "pred", "pred_norm", "ll_0", "ll_3"} <= set(r.samples.columns)
    assert (r.samples[["ll_0", "ll_1", "ll_2", "ll_3"]] < 0).all().all()
    for metric in ("acc", "macro_f1", "acc_norm"):
        point, lo, hi = kobest.bootstrap_ci(r.samples, "hellaswag", metric, n_boot=200)
        assert point == pytest.approx(r.metrics[metric]) and lo <= point <= hi


# --------------------------------------------------------------------------- metrics


def test_bootstrap_statistic_is_sklearns_macro_f1_on_every_resample():
    """The vectorised macro F1 used inside scipy's bootstrap equals sklearn's, also on resamples that
    lack a class entirely (sklearn then averages over fewer classes)."""
    import numpy as np
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for k in (2, 4):
        golds, preds = rng.integers(0, k, 30), rng.integers(0, k, 30)
        draws = rng.integers(0, 30, (200, 30))
        draws[0] = 0  # one item repeated: a single class at most twice
        fast = kobest._macro_f1_along(golds[draws], preds[draws])
        assert fast == pytest.approx([f1_score(golds[d], preds[d], average="macro") for d in draws])
    assert kobest.macro_f1([0, 1, 0, 1], [1, 1, 1, 1]) == pytest.approx(1 / 3)  # always "예": F1 0 and 2/3


def test_bootstrap_interval_is_over_items():
    import pandas as pd

    perfect = pd.DataFrame({"gold": [0, 1] * 10, "pred": [0, 1] * 10})
    assert kobest.bootstrap_ci(perfect, "copa", "macro_f1", n_boot=100) == (1.0, 1.0, 1.0)
    half = pd.DataFrame({"gold": [0, 1] * 20, "pred": [0, 0, 1, 1] * 10})
    point, lo, hi = kobest.bootstrap_ci(half, "copa", "acc", n_boot=500, level=0.95)
    assert point == 0.5 and 0.3 < lo < 0.45 and 0.55 < hi < 0.7  # about +-1.96 * sqrt(.25 / 40)


def test_committed_lm_eval_yamls_are_current(tmp_path):
    """data/kobest/lm_eval/ is what survey_tools.kobest_tasks writes from kobest.lm_eval_group today."""
    from survey_tools import kobest_tasks

    kobest_tasks.write(tmp_path)
    committed = env.data_path("kobest", "lm_eval")
    assert sorted(f.name for f in committed.iterdir()) == sorted(f.name for f in tmp_path.iterdir())
    for f in sorted(tmp_path.iterdir()):
        assert (committed / f.name).read_text(encoding="utf-8") == f.read_text(encoding="utf-8"), f.name


# --------------------------------------------------------------------------- parity with lm-eval


@pytest.mark.slow
@pytest.mark.parametrize("n_shot", [0, 5])
def test_parity_with_lm_evaluation_harness(standin, n_shot):
    """lm-eval 0.4 (HFLM on the same model object, our local task YAMLs) and our scorer:
    same contexts, same predictions, log-likelihoods within 1e-4, same metrics."""
    pytest.importorskip("lm_eval")
    model, tok = standin
    ref = kobest.run_lm_eval(model, tok, kobest.TASKS, n_shot=n_shot, limit=PARITY_LIMIT, batch_size=4)
    for task in kobest.TASKS:
        ours = kobest.evaluate(model, tok, task, n_shot=n_shot, limit=PARITY_LIMIT, cache=False, progress=False)
        items = kobest.build_items(kobest.load_task(task), n_shot, limit=PARITY_LIMIT)
        assert [it.context for it in items] == ref[task]["contexts"], task
        assert list(ours.samples["doc"]) == ref[task]["docs"]
        cols = [f"ll_{j}" for j in range(kobest.N_CHOICES[task])]
        for row, theirs in zip(ours.samples[cols].values.tolist(), ref[task]["lls"], strict=True):
            assert max(abs(a - b) for a, b in zip(row, theirs, strict=True)) < 1e-4, (task, row, theirs)
            assert row.index(max(row)) == theirs.index(max(theirs))
        assert ours.metrics["acc"] == pytest.approx(ref[task]["metrics"]["acc"])
        assert ours.metrics["macro_f1"] == pytest.approx(ref[task]["metrics"]["f1"])
        if task == "hellaswag":
            assert ours.metrics["acc_norm"] == pytest.approx(ref[task]["metrics"]["acc_norm"])


def test_figures_draw_what_they_are_given(standin):
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    from helpers import catalog, plots

    plots.use_korean_font()
    model, tok = standin
    item = kobest.build_items(kobest.load_task("copa", kobest.samples_dir()), limit=1)[0]
    per_choice = [kobest.token_logprobs(model, tok, item.context, c) for c in item.prompt.continuations]
    fig = kobest.token_logprob_figure(per_choice, gold=1, title="t")
    assert [len(ax.patches) for ax in fig.axes] == [len(f) for f in per_choice]
    assert fig.axes[1].patches[0].get_facecolor() != fig.axes[0].patches[0].get_facecolor()  # gold stands out
    assert "(정답)" in fig.axes[1].get_title() and "(정답)" not in fig.axes[0].get_title()
    ci = pd.DataFrame({"macro_f1": [0.5, 0.7], "low": [0.3, 0.6], "high": [0.6, 0.9]}, index=["boolq", "copa"])
    fig = kobest.interval_figure(ci, "macro_f1")
    bars = fig.axes[0].collections[0].get_segments()  # one vertical error bar per task
    assert [(seg[0][1], seg[1][1]) for seg in bars] == [(0.3, 0.6), (0.6, 0.9)]
    pub = catalog.survey("polyglot_ko_kobest")
    fig = kobest.published_figure(pub, "copa")
    copa = pub[pub["task"] == "copa"]
    assert len(fig.axes[0].get_lines()) == copa["n_shot"].nunique()
    assert len(fig.axes[1].get_lines()) == copa["model"].nunique()
    with pytest.raises(ValueError, match="no rows"):
        kobest.published_figure(pub, "no-such-task")


# --------------------------------------------------------------------------- compare (06's shots and variants)


def two_choice_run(docs, lls, gold=0):
    samples = pd.DataFrame([{"doc": d, "gold": gold, "pred": max(range(len(ll)), key=ll.__getitem__),
                             **{f"ll_{k}": v for k, v in enumerate(ll)}} for d, ll in zip(docs, lls)])
    return kobest.EvalResult("copa", 0, "harness", kobest.metrics_from_samples(samples, "copa"), samples, {})


def test_moves_smaller_than_half_the_margin_change_no_prediction():
    a = two_choice_run([0, 1, 2], [[-1.0, -5.0], [-2.0, -3.0], [-4.0, -1.0]])
    b = two_choice_run([0, 1, 2], [[-1.2, -5.1], [-2.4, -3.3], [-4.2, -1.1]])
    got = kobest.compare(a, b)
    assert got["docs"] == 3 and got["preds_differ"] == 0
    assert got["max_abs_ll_change"] == pytest.approx(0.4) and got["min_margin"] == pytest.approx(1.0)
    assert (got["a_answers"], got["b_answers"]) == (2, 2)


def test_a_flip_is_counted_and_docs_are_matched_by_id_not_by_row():
    a = two_choice_run([0, 1, 2], [[-1.0, -5.0], [-2.0, -2.5], [-4.0, -1.0]])
    # doc 1 flips; doc 0 and doc 7 are not shared
    b = two_choice_run([2, 1, 7], [[-4.0, -1.0], [-3.0, -2.0], [-1.0, -9.0]])
    got = kobest.compare(a, b)
    assert got["docs"] == 2 and got["preds_differ"] == 1
    assert got["max_abs_ll_change"] == pytest.approx(1.0) and got["min_margin"] == pytest.approx(0.5)


def test_one_answer_for_every_doc():
    a = two_choice_run([0, 1], [[-1.0, -9.0], [-2.0, -8.0]])
    assert kobest.compare(a, a) == {"docs": 2, "preds_differ": 0, "max_abs_ll_change": 0.0, "min_margin": 6.0,
                                    "a_answers": 1, "b_answers": 1}
