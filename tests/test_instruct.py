"""Tests for helpers.instruct: templates, rendering, loaders, ROUGE-L, statistics."""

from __future__ import annotations

import json
import random

import pytest

from helpers import instruct as I

REC = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


# --- templates and rendering -------------------------------------------------
def test_templates_listed_and_complete():
    names = set(I.templates()["name"])
    assert {"stanford_alpaca", "alpaca_lora", "koalpaca_v1_0", "koalpaca_v1_1", "vicuna_v1_1"} <= names
    for n in names:
        t = I.template(n)
        assert t["source"].startswith("https://")


def test_render_stanford_vs_alpaca_lora_differ_only_by_newline():
    p1, a1 = I.render(REC, "stanford_alpaca", eos_token="</s>")
    p2, a2 = I.render(REC, "alpaca_lora", eos_token="</s>")
    assert p1.endswith("### Response:") and p2 == p1 + "\n"
    assert a1 == a2 == "Blue.</s>"


def test_render_uses_input_variant_only_when_input_present():
    p, _ = I.render({**REC, "input": "sky"}, "stanford_alpaca")
    assert "### Input:\nsky" in p and "paired with an input" in p
    p, _ = I.render({**REC, "input": "   "}, "stanford_alpaca")
    assert "### Input" not in p


def test_render_koalpaca_templates():
    p, a = I.render({"instruction": "딥러닝이 뭐야?", "output": "기계 학습의 한 분야입니다."}, "koalpaca_v1_1")
    assert p == "### 질문: 딥러닝이 뭐야?\n\n### 답변:" and a == " 기계 학습의 한 분야입니다."
    p, _ = I.render({"instruction": "요약하세요.", "input": "본문", "output": "x"}, "koalpaca_v1_1")
    assert "### 맥락: 본문" in p
    p, _ = I.render(REC, "koalpaca_v1_0")
    assert "### Instruction(명령어):\nName a colour." in p and p.endswith("### Response(응답):")


def test_render_unknown_template_and_missing_field():
    with pytest.raises(KeyError, match="unknown template"):
        I.render(REC, "nope")
    with pytest.raises(KeyError, match="instruction"):
        I.render({"output": "x"}, "stanford_alpaca")


def test_render_conversation_segments_and_loss_flags():
    segs = I.render_conversation([("user", "hi"), ("assistant", "hello"), ("prompter", "more?"),
                                  ("assistant", "sure")])
    assert [s.loss for s in segs] == [False, False, True, False, True]
    text = I.conversation_text(segs)
    assert text.endswith("USER: more? ASSISTANT: sure</s>")
    assert "ASSISTANT: hello</s>USER:" in text
    # a single record rendered as a one-turn conversation equals render()
    p, a = I.render({"instruction": "hi", "output": "hello"}, "vicuna_v1_1")
    assert p + a == I.conversation_text(I.render_conversation([("user", "hi"), ("assistant", "hello")]))


def test_render_conversation_rejects_bad_order():
    with pytest.raises(ValueError, match="turn 1: field 'role'"):
        I.render_conversation([("user", "a"), ("user", "b")])
    with pytest.raises(ValueError, match="not a conversation template"):
        I.render_conversation([("user", "a")], "stanford_alpaca")


# --- loaders -------------------------------------------------------------------
@pytest.mark.parametrize("name,schema,min_rows", [
    ("alpaca", "alpaca", 150), ("koalpaca_v1_0", "alpaca", 150), ("koalpaca_v1_1", "koalpaca_v1_1", 150),
    ("self_instruct_seed", "self_instruct", 40), ("dolly", "dolly", 100), ("oasst1", "oasst1", 40)])
def test_known_samples_load(name, schema, min_rows):
    df = I.load(name, profile="tiny")
    assert df.attrs["schema"] == schema
    assert len(df) >= min_rows
    assert list(df.columns[:3]) == ["instruction", "input", "output"]
    assert df.attrs["load_report"].skipped == []


def test_dolly_has_all_categories_and_v11_urls_are_ours():
    assert set(I.load("dolly", profile="tiny")["category"]) == set(I.DOLLY_CATEGORIES)
    assert I.load("koalpaca_v1_1", profile="tiny")["url"].str.contains(r"\.invalid/").all()


def test_detect_schema_from_files(tmp_path):
    cases = {
        "a.json": ([REC], "alpaca"),
        "b.jsonl": ([{"instruction": "q", "output": "a", "url": "u"}], "koalpaca_v1_1"),
        "c.jsonl": ([{"instruction": "q", "context": "", "response": "a", "category": "open_qa"}], "dolly"),
        "d.jsonl": ([{"id": "s0", "name": "n", "instruction": "q", "instances": [{"input": "", "output": "a"}],
                      "is_classification": False}], "self_instruct"),
    }
    for fn, (rows, schema) in cases.items():
        p = tmp_path / fn
        if fn.endswith(".json"):
            p.write_text(json.dumps(rows))
        else:
            p.write_text("\n".join(json.dumps(r) for r in rows))
        assert I.load(p).attrs["schema"] == schema


def test_parquet_loads(tmp_path):
    import pandas as pd

    p = tmp_path / "x.parquet"
    pd.DataFrame([REC, {**REC, "instruction": "Other"}]).to_parquet(p)
    df = I.load(p)
    assert len(df) == 2 and df["src_where"].tolist() == ["row 0", "row 1"]


def test_malformed_json_names_file_line_field(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('[\n  {"instruction": "a", "input": "", "output": "b"},\n'
                 '  {"instruction": "c", "input": 3, "output": "d"}\n]')
    with pytest.raises(I.InstructFormatError) as e:
        I.load(p)
    assert e.value.field == "input" and "line 3" in e.value.where and str(p) in str(e.value)
    p.write_text('[\n  {"instruction": "a", "input": "", "output": "b"},\n  {"instruction": "c" "input": ""}\n]')
    with pytest.raises(I.InstructFormatError, match=r"record 1 \(line 3, column \d+\): not valid JSON"):
        I.load(p)


def test_malformed_jsonl_missing_field_and_skip_report(tmp_path):
    p = tmp_path / "bad.jsonl"
    good = {"instruction": "q", "output": "a", "url": "u"}
    p.write_text(json.dumps(good) + "\n" + json.dumps({"instruction": "q2", "url": "u"}) + "\n"
                 + json.dumps(good) + "\n")
    with pytest.raises(I.InstructFormatError, match=r"bad.jsonl: line 2: field 'output': missing"):
        I.load(p, schema="koalpaca_v1_1")
    df = I.load(p, schema="koalpaca_v1_1", skip_errors=True)
    rep = df.attrs["load_report"]
    assert len(df) == 2 and rep.records == 3 and len(rep.skipped) == 1 and "line 2" in rep.skipped[0]


def test_dolly_bad_category_and_seed_bad_instance(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"instruction": "q", "context": "", "response": "a", "category": "chat"}))
    with pytest.raises(I.InstructFormatError, match="field 'category'"):
        I.load(p)
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"id": "s", "name": "n", "instruction": "q", "is_classification": False,
                             "instances": [{"input": ""}]}))
    with pytest.raises(I.InstructFormatError, match=r"instances\[0\]\.output"):
        I.load(p)


def test_oasst_orphan_parent_and_threads(tmp_path):
    good = [json.loads(x) for x in (I.instruct_dir() / "samples/oasst1_sample.jsonl").read_text().splitlines()]
    bad = good[:5] + [{**good[5], "parent_id": "no-such-id"}]
    p = tmp_path / "o.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in bad))
    with pytest.raises(I.InstructFormatError, match="line 6: field 'parent_id'"):
        I.load(p)
    threads = I.oasst_threads("oasst1", profile="tiny")
    assert len(threads) >= 24
    for th in threads:
        assert [t["role"] for t in th] == ["user", "assistant"] * (len(th) // 2)
    assert len(I.oasst_threads("oasst1", best_only=False, profile="tiny")) > len(threads)


def test_unknown_source_and_unpinned_real():
    with pytest.raises(FileNotFoundError, match="not a known dataset name"):
        I.load("no_such_dataset")
    with pytest.raises(ValueError, match="no pinned revision"):
        I.load("koalpaca_v1_1", profile="real")


# --- ROUGE-L and duplicates ------------------------------------------------------
def test_rouge_l_matches_rouge_score_library():
    from rouge_score import rouge_scorer, tokenize

    sc = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random(0)
    words = "the a cat dog sat lay on under mat rug red blue big".split()
    for _ in range(200):
        a = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        b = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        assert I.rouge_l(a, b) == pytest.approx(sc.score(a, b)["rougeL"].fmeasure)
        ta, tb = tokenize.tokenize(a, None), tokenize.tokenize(b, None)
        assert I.lcs_length(ta, tb) * 2 / (len(ta) + len(tb)) == pytest.approx(I.rouge_l(a, b))


def test_rouge_l_korean_with_library_and_unicode_tokenizer():
    from rouge_score import rouge_scorer

    class Tok:
        def tokenize(self, text):
            return I.rouge_tokens(text)

    sc = rouge_scorer.RougeScorer(["rougeL"], tokenizer=Tok())
    a, b = "다음 문장을 영어로 번역하세요", "다음 문장을 일본어로 번역하세요"
    assert I.rouge_l(a, b) == pytest.approx(sc.score(a, b)["rougeL"].fmeasure) == pytest.approx(0.75)


def _brute(texts, t=0.7):
    return {(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))
            if texts[i] != texts[j] and I.rouge_l(texts[i], texts[j]) >= t}


@pytest.mark.parametrize("method", ["prefix", "minhash"])
def test_near_duplicates_blocking_loses_no_pair_vs_brute_force(method):
    rng = random.Random(1)
    words = "explain describe list the a photosynthesis budget volcano water cycle in simple terms".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for _ in range(150)]
    # near-duplicates at and just above the threshold: one or two words changed
    for k in range(40):
        w = texts[k].split() + ["extra"] * (k % 3)
        w[rng.randrange(len(w))] = "changed"
        texts.append(" ".join(w))
    texts += texts[:5]  # exact copies
    d = I.near_duplicates(texts, 0.7, method=method)
    brute = _brute(texts)
    exact = {(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts)) if texts[i] == texts[j]}
    found = set(zip(d.pairs["i"].tolist(), d.pairs["j"].tolist()))
    assert found - exact <= brute  # nothing spurious
    near = {(i, j) for i, j in brute if d.dup_of.iloc[i] < 0 or True}
    reps = {i for i in range(len(texts)) if texts.index(texts[i]) == i}
    assert {(i, j) for i, j in near if i in reps and j in reps} <= found  # nothing lost
    assert d.method == method and d.candidates < d.all_pairs  # blocking did prune
    assert (d.dup_of.iloc[-5:] >= 0).all()


def test_minhash_finds_every_pair_of_the_real_samples():
    for name in ("alpaca", "koalpaca_v1_0", "koalpaca_v1_1", "dolly"):
        texts = I.load(name, profile="tiny")["instruction"].tolist()
        a = I.near_duplicates(texts, 0.7, method="minhash")
        b = I.near_duplicates(texts, 0.7, method="prefix")
        assert a.pairs[["i", "j"]].equals(b.pairs[["i", "j"]]) and len(a.pairs) >= 3, name


def test_bounds_never_reject_a_true_pair():
    rng = random.Random(5)
    words = [f"w{k}" for k in range(12)]
    texts = [[rng.choice(words) for _ in range(rng.randint(1, 14))] for _ in range(120)]
    vocab: dict = {}
    tagged = []
    for t in texts:
        seen: dict = {}
        ids = []
        for w in t:
            key = (w, seen.get(w, 0))
            seen[w] = seen.get(w, 0) + 1
            ids.append(vocab.setdefault(key, len(vocab)))
        tagged.append(ids)
    import numpy as np

    b = I._Bounds(tagged, 0.7)
    a_idx, b_idx = np.triu_indices(len(texts), 1)
    keep = b.keep(a_idx, b_idx)
    for x, y, k in zip(a_idx, b_idx, keep):
        if I.rouge_l(texts[x], texts[y]) >= 0.7:
            assert k, (texts[x], texts[y])
    assert keep.mean() < 0.5  # and they do prune


def test_lsh_recall_formula():
    assert I.jaccard_floor(0.7) == pytest.approx(0.7 / 1.3)
    assert I.lsh_recall(0.538, 48, 3) > 0.999 and I.lsh_recall(0.1, 48, 3) < 0.05


def test_verbs_english_and_korean():
    assert I.english_verb("Please summarize the following text.") == ("summarize", "text")
    assert I.english_verb("What is the capital of France?") == ("(question)", "what")
    assert I.korean_predicate("다음 문장을 영어로 번역하세요.") == ("번역하다", "문장")
    assert I.korean_predicate("이 글을 요약해 주세요")[0] == "요약하다"
    v = I.instruction_verbs(["Write a poem.", "시를 쓰세요."])
    assert v["lang"].tolist() == ["en", "ko"] and v["verb"].tolist() == ["write", "쓰다"]


def test_quality_flags_find_planted_faults():
    import pandas as pd

    df = pd.DataFrame({"instruction": ["주어진 #/ 문장을 분류하세요.", "트윗을 작성하세요 about 카페", "요약하세요."],
                       "input": ["", "", "긴 본문"], "output": ["긍정", "새 카페가 열었어요! 들러 주세요.", ""]})
    f = I.quality_flags(df, short_chars=8)
    assert f["stray_markup"].tolist() == [True, False, False]
    assert f["untranslated"].tolist() == [False, True, False]
    assert f["short_output"].tolist() == [True, False, False]
    assert f["empty_output"].tolist() == [False, False, True]
    assert f["empty_input"].tolist() == [True, True, False]


def test_anatomy_report_and_v10_v11_comparison():
    a = I.anatomy(I.load("koalpaca_v1_0", profile="tiny"), name="v1.0")
    b = I.anatomy(I.load("koalpaca_v1_1", profile="tiny"), name="v1.1")
    assert a.lang == b.lang == "ko"
    assert a.flags["stray_markup"].sum() >= 2 and a.flags["untranslated"].sum() >= 3
    gap = I.median_gap(a, b)
    assert gap["gap"] > 0 and gap["ci95"][0] > 0  # our v1.1-style sample has longer answers
    table = I.compare(a, b)
    assert list(table.columns) == ["v1.0", "v1.1"] and "median_chars_output" in table.index
    vc = b.verb_counts(top=5, per_verb=2)
    assert vc["verb"].nunique() <= 5 and (vc.groupby("verb").size() <= 2).all()


def test_anatomy_token_lengths_with_any_fast_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(["가나다 라마 바사", "hello world"] * 20, trainer)
    df = I.load("alpaca", profile="tiny").head(20)
    r = I.anatomy(df, tok, verbs=False)
    assert (r.lengths["tokens_output"] > 0).all()
    want = [len(e.ids) for e in tok.encode_batch(df["output"].tolist(), add_special_tokens=False)]
    assert r.lengths["tokens_output"].tolist() == want


def test_scale_is_deterministic_and_sized():
    df = I.load("alpaca", profile="tiny")
    a, b = I.scale(df, 500, seed=3), I.scale(df, 500, seed=3)
    assert len(a) == 500 and a.equals(b)
    assert a.iloc[: len(df)]["instruction"].tolist() == df["instruction"].tolist()
    assert a["instruction"].nunique() > len(df)


def test_token_lengths_fast_path_equals_tokenizer():
    from helpers import zoo

    tok = zoo.tiny_tokenizer("ko")
    odd = ["x² ½ </s> test", "a_b __init__ it's  two  spaces\n\nnew", "숫자 123,456.7 😀 é", "", "   ",
           " lead", "trail ", "a \n b", "tab\there", "three   spaces", " \n\n x"]
    for name in ("alpaca", "koalpaca_v1_0", "koalpaca_v1_1"):
        df = I.load(name, profile="tiny")
        for col in ("instruction", "output"):
            texts = df[col].tolist() + odd
            want = [len(e) for e in tok.backend_tokenizer.encode_batch(texts, add_special_tokens=False)]
            assert I.token_lengths(texts, tok) == want


def test_kiwi_joined_call_equals_per_word_analysis():
    words = ["설명해", "주세요.", "번역하세요", "문장을", "무엇인가요?", "좋다"]
    got = I._kiwi_words(words)
    pos = 0
    for w, toks in zip(words, got):  # every morpheme goes back to the eojeol it came from
        assert toks and all(pos <= t.start < pos + len(w) for t in toks), w
        pos += len(w) + 1
    assert [t.form for t in got[2]][:2] == ["번역", "하"]
    v = I.instruction_verbs(["이 글을 요약해 주세요.", "다음 문장을 영어로 번역하세요."])
    assert v["verb"].tolist() == ["요약하다", "번역하다"] and v["object"].tolist() == ["글", "문장"]


def test_self_instruct_filter_stages():
    seeds = ["Write a poem about the sea.", "Explain how rain forms in clouds."]
    cands = ["Write a poem about the ocean.", "Draw a picture of a cat.", "Hi.",
             "- list three fruits please", "Summarize the story of a book you like."]
    r = I.self_instruct_filter(seeds + cands)
    assert r["stage"].tolist() == ["kept", "kept", "rouge", "blacklist", "length", "punctuation", "kept"]
    assert r.loc[2, "max_rouge"] >= 0.7 and r.loc[2, "closest"] == seeds[0]


def test_sft_checks_three_conditions():
    a = I.anatomy(I.load("koalpaca_v1_0", profile="tiny"), name="v1.0")
    c = I.sft_checks(a)
    assert set(c["condition"]) == {"1 diverse", "2 faithful", "3 clean"}
    med = c.loc[c["measure"] == "median answer chars"].iloc[0]
    assert med["value"] == a.lengths["chars_output"].median() and not med["ok"]  # short v1.0-style answers
    assert I.sft_checks(a, min_median_output_chars=10).loc[1, "ok"]


def test_anatomy_stages_table():
    r = I.anatomy(I.load("alpaca", profile="tiny").head(40), verbs=False)
    assert list(r.stages["stage"]) == ["chars", "verbs", "duplicates", "flags"]
    assert (r.stages[["wall_s", "cpu_s", "peak_mb"]] >= 0).all().all() and r.stages["peak_mb"].max() > 10


def test_scale_has_controlled_duplicates_and_no_copy_clusters():
    df = I.load("alpaca", profile="tiny")
    s = I.scale(df, 4000, seed=1)
    d = I.near_duplicates(s["instruction"].tolist(), 0.7)
    share = d.n_duplicate_rows / len(s)
    assert 0.02 < share < 0.15, share  # planted 1 % exact + 3 % near, plus chance pairs
    new = s["instruction"].iloc[len(df):]
    assert new.nunique() > 0.9 * len(new)
    # openings survive: most new rows start with a word that opens some sample row
    firsts = {t.split()[0] for t in df["instruction"]}
    assert (new.str.split().str[0].isin(firsts)).mean() > 0.9
