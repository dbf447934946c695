"""Tests for helpers.instruct: templates, rendering, loaders, ROUGE-L, statistics."""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import random
import warnings
from pathlib import Path

import pytest

from helpers import env, instruct

REC = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


# --- templates and rendering -------------------------------------------------
def test_templates_listed_and_complete():
    names = set(instruct.templates()["name"])
    assert {"stanford_alpaca", "alpaca_lora", "koalpaca_v1_0", "koalpaca_v1_1", "vicuna_v1_1"} <= names
    for n in names:
        t = instruct.template(n)
        assert t["source"].startswith("https://")


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.pop("prompt_no_input"), r"field 'prompt_no_input' missing"),
    (lambda t: t.pop("sep2"), r"field 'sep2' missing"),
    (lambda t: t.update(answer_format="{answer}"), r"field 'answer_format' must contain '\{output\}'"),
    (lambda t: t.update(name="other"), r"field 'name' is 'other' but the file is 'vicuna_v1_1'"),
    (None, r"line 1: not valid JSON"),
])
def test_a_broken_template_file_is_named_with_its_field(tmp_path, monkeypatch, edit, message):
    folder = tmp_path / "templates"
    folder.mkdir()
    for p in (instruct.instruct_dir() / "templates").glob("*.json"):
        (folder / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    broken = folder / "vicuna_v1_1.json"  # a conversation template: it also needs system, roles, sep, sep2
    if edit is None:
        broken.write_text("{not json", encoding="utf-8")
    else:
        t = json.loads(broken.read_text(encoding="utf-8"))
        edit(t)
        broken.write_text(json.dumps(t), encoding="utf-8")
    monkeypatch.setattr(instruct, "instruct_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match=message) as error:
        instruct.template("stanford_alpaca")
    assert str(broken) in str(error.value)


def test_an_edited_template_is_read_again(tmp_path, monkeypatch):
    folder = tmp_path / "templates"
    folder.mkdir()
    copy = folder / "stanford_alpaca.json"
    copy.write_text((instruct.instruct_dir() / "templates" / copy.name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(instruct, "instruct_dir", lambda: tmp_path)
    assert instruct.template("stanford_alpaca")["description"] != "edited"
    t = json.loads(copy.read_text(encoding="utf-8"))
    copy.write_text(json.dumps({**t, "description": "edited"}), encoding="utf-8")
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))  # a later edit, whatever the clock
    assert instruct.template("stanford_alpaca")["description"] == "edited"


@pytest.mark.parametrize("right, typo, problem", [
    ("  sample: samples/dolly", "  smaple: samples/dolly", "field 'smaple': Extra inputs are not permitted"),
    ("  schema: dolly", "  schema: dolli", "field 'schema': Input should be 'alpaca', 'koalpaca_v1_1', "
                                           "'self_instruct', 'dolly' or 'oasst1', got 'dolli'"),
])
def test_a_typo_in_sources_yaml_is_named_with_file_line_and_field(tmp_path, monkeypatch, right, typo, problem):
    text = (instruct.instruct_dir() / "sources.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    line = next(n for n, s in enumerate(lines, 1) if s.startswith(right) and "dolly:" in lines[n - 3:n - 1])
    (tmp_path / "sources.yaml").write_text(text.replace(right, typo, 1), encoding="utf-8")
    monkeypatch.setattr(instruct, "instruct_dir", lambda: tmp_path)
    with pytest.raises(instruct.InstructFormatError) as error:
        instruct.load("dolly")
    assert f"{tmp_path / 'sources.yaml'}, line {line}, dolly, {problem}" in str(error.value)


def test_render_stanford_vs_alpaca_lora_differ_only_by_newline():
    p1, a1 = instruct.render(REC, "stanford_alpaca", eos_token="</s>")
    p2, a2 = instruct.render(REC, "alpaca_lora", eos_token="</s>")
    assert p1.endswith("### Response:") and p2 == p1 + "\n"
    assert a1 == a2 == "Blue.</s>"


def test_render_uses_input_variant_only_when_input_present():
    p, _ = instruct.render({**REC, "input": "sky"}, "stanford_alpaca")
    assert "### Input:\nsky" in p and "paired with an input" in p
    p, _ = instruct.render({**REC, "input": "   "}, "stanford_alpaca")
    assert "### Input" not in p


def test_render_koalpaca_templates():
    p, a = instruct.render({"instruction": "딥러닝이 뭐야?", "output": "기계 학습의 한 분야입니다."}, "koalpaca_v1_1")
    assert p == "### 질문: 딥러닝이 뭐야?\n\n### 답변:" and a == " 기계 학습의 한 분야입니다."
    p, _ = instruct.render({"instruction": "요약하세요.", "input": "본문", "output": "x"}, "koalpaca_v1_1")
    assert "### 맥락: 본문" in p
    p, _ = instruct.render(REC, "koalpaca_v1_0")
    assert "### Instruction(명령어):\nName a colour." in p and p.endswith("### Response(응답):")


def test_render_unknown_template_and_missing_field():
    with pytest.raises(KeyError, match="unknown template"):
        instruct.render(REC, "nope")
    with pytest.raises(KeyError, match="instruction"):
        instruct.render({"output": "x"}, "stanford_alpaca")


def test_render_conversation_segments_and_loss_flags():
    segs = instruct.render_conversation([("user", "hi"), ("assistant", "hello"), ("prompter", "more?"),
                                  ("assistant", "sure")])
    assert [s.loss for s in segs] == [False, False, True, False, True]
    text = instruct.conversation_text(segs)
    assert text.endswith("USER: more? ASSISTANT: sure</s>")
    assert "ASSISTANT: hello</s>USER:" in text
    # a single record rendered as a one-turn conversation equals render()
    p, a = instruct.render({"instruction": "hi", "output": "hello"}, "vicuna_v1_1")
    assert p + a == instruct.conversation_text(instruct.render_conversation([("user", "hi"), ("assistant", "hello")]))


def test_render_conversation_rejects_bad_order():
    with pytest.raises(ValueError, match="turn 1: field 'role'"):
        instruct.render_conversation([("user", "a"), ("user", "b")])
    with pytest.raises(ValueError, match="not a conversation template"):
        instruct.render_conversation([("user", "a")], "stanford_alpaca")


# --- loaders -------------------------------------------------------------------
@pytest.mark.parametrize("name,schema,min_rows", [
    ("alpaca", "alpaca", 150), ("koalpaca_v1_0", "alpaca", 150), ("koalpaca_v1_1", "koalpaca_v1_1", 150),
    ("self_instruct_seed", "self_instruct", 40), ("dolly", "dolly", 100), ("oasst1", "oasst1", 40)])
def test_known_samples_load(name, schema, min_rows):
    df = instruct.load(name, profile="tiny")
    assert df.attrs["schema"] == schema
    assert len(df) >= min_rows
    assert list(df.columns[:3]) == ["instruction", "input", "output"]
    assert df.attrs["load_report"].skipped == []


def test_dolly_has_all_categories_and_v11_urls_are_ours():
    assert set(instruct.load("dolly", profile="tiny")["category"]) == set(instruct.DOLLY_CATEGORIES)
    assert instruct.load("koalpaca_v1_1", profile="tiny")["url"].str.contains(r"\.invalid/").all()


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
        assert instruct.load(p).attrs["schema"] == schema


def test_parquet_loads(tmp_path):
    import pandas as pd

    p = tmp_path / "x.parquet"
    pd.DataFrame([REC, {**REC, "instruction": "Other"}]).to_parquet(p)
    df = instruct.load(p)
    assert len(df) == 2 and df["src_where"].tolist() == ["row 0", "row 1"]


def test_malformed_json_names_file_line_field(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('[\n  {"instruction": "a", "input": "", "output": "b"},\n'
                 '  {"instruction": "c", "input": 3, "output": "d"}\n]')
    with pytest.raises(instruct.InstructFormatError) as e:
        instruct.load(p)
    assert e.value.field == "input" and "line 3" in e.value.where and str(p) in str(e.value)
    p.write_text('[\n  {"instruction": "a", "input": "", "output": "b"},\n  {"instruction": "c" "input": ""}\n]')
    with pytest.raises(instruct.InstructFormatError, match=r"record 1 \(line 3, column \d+\): not valid JSON"):
        instruct.load(p)


def test_malformed_jsonl_missing_field_and_skip_report(tmp_path):
    p = tmp_path / "bad.jsonl"
    good = {"instruction": "q", "output": "a", "url": "u"}
    p.write_text(json.dumps(good) + "\n" + json.dumps({"instruction": "q2", "url": "u"}) + "\n"
                 + json.dumps(good) + "\n")
    with pytest.raises(instruct.InstructFormatError, match=r"bad.jsonl: line 2: field 'output': missing"):
        instruct.load(p, schema="koalpaca_v1_1")
    with pytest.warns(UserWarning, match=r"bad.jsonl: skipped 1 of 3 records \(skip_errors=True\):\n.*line 2"):
        df = instruct.load(p, schema="koalpaca_v1_1", skip_errors=True)
    rep = df.attrs["load_report"]
    assert len(df) == rep.rows == 2 and rep.records == 3 and len(rep.skipped) == 1 and "line 2" in rep.skipped[0]


def test_dolly_bad_category_and_seed_bad_instance(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"instruction": "q", "context": "", "response": "a", "category": "chat"}))
    with pytest.raises(instruct.InstructFormatError, match="field 'category'"):
        instruct.load(p)
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"id": "s", "name": "n", "instruction": "q", "is_classification": False,
                             "instances": [{"input": ""}]}))
    with pytest.raises(instruct.InstructFormatError, match=r"instances\[0\]\.output"):
        instruct.load(p)


def test_oasst_orphan_parent_and_threads(tmp_path):
    good = [json.loads(x) for x in (instruct.instruct_dir() / "samples/oasst1_sample.jsonl").read_text().splitlines()]
    bad = good[:5] + [{**good[5], "parent_id": "no-such-id"}]
    p = tmp_path / "o.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in bad))
    with pytest.raises(instruct.InstructFormatError, match="line 6: field 'parent_id'"):
        instruct.load(p)
    threads = instruct.oasst_threads("oasst1", profile="tiny")
    assert len(threads) >= 24
    for th in threads:
        assert [t["role"] for t in th] == ["user", "assistant"] * (len(th) // 2)
    assert len(instruct.oasst_threads("oasst1", best_only=False, profile="tiny")) > len(threads)


def test_unknown_source_and_unpinned_real():
    with pytest.raises(FileNotFoundError, match="not a known dataset name"):
        instruct.load("no_such_dataset")
    # real needs the hub, which the tests forbid: the error says so (an unpinned revision only warns)
    with pytest.raises(env.ProfileError, match="hub"):
        instruct.load("koalpaca_v1_1", profile="real")


def test_json_array_errors_name_record_and_line(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('[\n  {"instruction": "a", "input": "", "output": "b"}\n  {"instruction": "c"}\n]')
    with pytest.raises(instruct.InstructFormatError, match=r"record 1 \(line 3\): expected ',' or '\]'"):
        instruct.load(p)
    p.write_text('{"instruction": "a", "input": "", "output": "b"}')  # one record per line: JSON Lines
    assert instruct.load(p)["src_where"].tolist() == ["line 1"]
    p.write_text('{\n "data": [{"instruction": "a", "input": "", "output": "b"}]\n}')
    with pytest.raises(instruct.InstructFormatError, match=r"line 1: expected a JSON array .* found one JSON object "
                                                         r"with fields \['data'\]"):
        instruct.load(p)
    p.write_text('[\n{"instruction": "a", "input": "", "output": "b"},\n\n {"instruction": "c", "input": "", '
                 '"output": "d"}]')
    assert instruct.load(p)["src_where"].tolist() == ["record 0 (line 2)", "record 1 (line 4)"]
    p.write_text("  [ ]  ")
    with pytest.raises(instruct.InstructFormatError, match="no records"):
        instruct.load(p)


# --- ROUGE-L and duplicates ------------------------------------------------------
def _random_texts(seed: int, words: str, n: int, max_len: int = 12) -> list[str]:
    rng = random.Random(seed)
    vocab = words.split()
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, max_len))) for _ in range(n)]


def test_rouge_l_matches_rouge_score_and_rapidfuzz():
    from rapidfuzz.distance import Indel, LCSseq
    from rouge_score import rouge_scorer, tokenize

    sc = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    texts = _random_texts(0, "the a cat dog sat lay on under mat rug red blue big", 400)
    for a, b in zip(texts[::2], texts[1::2]):  # ASCII: rouge-score's tokenizer drops Hangul
        assert instruct.rouge_l(a, b) == pytest.approx(sc.score(a, b)["rougeL"].fmeasure)
        ta, tb = tokenize.tokenize(a, None), tokenize.tokenize(b, None)
        # the fast path's formula: rapidfuzz's LCS of token lists, the same floats as rouge_l
        assert 2 * LCSseq.similarity(ta, tb) / (len(ta) + len(tb)) == instruct.rouge_l(a, b)
        assert Indel.normalized_similarity(ta, tb) == pytest.approx(instruct.rouge_l(a, b))


def test_rouge_l_korean_with_library_and_unicode_tokenizer():
    from rouge_score import rouge_scorer

    class WordTokenizer:
        def tokenize(self, text):
            return instruct.rouge_tokens(text)

    sc = rouge_scorer.RougeScorer(["rougeL"], tokenizer=WordTokenizer())
    a, b = "다음 문장을 영어로 번역하세요", "다음 문장을 일본어로 번역하세요"
    assert instruct.rouge_l(a, b) == pytest.approx(sc.score(a, b)["rougeL"].fmeasure) == pytest.approx(0.75)


def _brute_force(texts, t=0.7):
    """Every pair of distinct texts (first occurrences only) with plain rouge_l >= t."""
    firsts = [i for i, x in enumerate(texts) if texts.index(x) == i]
    return {(i, j): instruct.rouge_l(texts[i], texts[j]) for i in firsts for j in firsts
            if i < j and instruct.rouge_l(texts[i], texts[j]) >= t}


@pytest.mark.parametrize("method", ["all_pairs", "minhash"])
def test_near_duplicates_equal_brute_force_scan(method):
    texts = _random_texts(1, "explain describe list the a photosynthesis budget volcano water cycle in simple "
                             "terms", 150, max_len=9)
    rng = random.Random(1)
    for k in range(40):  # near-duplicates at and just above the threshold: one word changed, some added
        w = texts[k].split() + ["extra"] * (k % 3)
        w[rng.randrange(len(w))] = "changed"
        texts.append(" ".join(w))
    texts += texts[:5]  # exact copies
    d = instruct.near_duplicates(texts, 0.7, method=method)
    exact = {(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))
             if texts[i] == texts[j] and texts.index(texts[i]) == i}
    found = dict(zip(zip(d.pairs["i"].tolist(), d.pairs["j"].tolist()), d.pairs["rouge_l"].tolist()))
    brute = _brute_force(texts)
    assert {p: f for p, f in found.items() if p not in exact} == brute  # same pairs, same numbers
    assert set(found) >= exact and all(found[p] == 1.0 for p in exact)
    assert (d.dup_of.iloc[-5:] >= 0).all() and d.method == method
    if method == "minhash":
        assert d.candidates < d.all_pairs / 2  # blocking did prune


# The near-duplicate pairs planted in our samples (data/instruct/samples/FAULTS_en.md, FAULTS_ko.md)
PLANTED = {
    "alpaca": [(0, 52), (11, 60), (17, 86), (41, 120), (66, 100)],
    "koalpaca_v1_0": [(1, 51), (3, 45), (30, 66), (84, 112), (142, 146)],
    "koalpaca_v1_1": [(3, 77), (5, 51), (22, 23), (78, 116)],
    "dolly": [(0, 26), (1, 69), (4, 59)],
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_both_methods_find_exactly_the_planted_pairs(name):
    texts = instruct.load(name, profile="tiny")["instruction"].tolist()
    for method in ("all_pairs", "minhash"):
        d = instruct.near_duplicates(texts, 0.7, method=method)
        assert list(zip(d.pairs["i"], d.pairs["j"])) == PLANTED[name], method
        assert d.pairs["rouge_l"].tolist() == [instruct.rouge_l(texts[i], texts[j]) for i, j in PLANTED[name]]


def test_lsh_finds_pairs_at_the_jaccard_floor():
    """Pairs with ROUGE-L exactly 0.7 and the smallest Jaccard it allows (7 shared words of 10:
    J = 7/13 = jaccard_floor(0.7)): the default 40 bands x 3 rows propose each with probability
    lsh_recall(0.538, 40, 3) = 0.9989, so at most a handful of 400 may be missed."""
    rng = random.Random(3)
    texts = []
    for k in range(400):
        words = [f"w{k}x{m}" for m in range(13)]
        texts += [" ".join(words[:10]), " ".join(words[:7] + words[10:])]
    assert instruct.rouge_l(texts[0], texts[1]) == 0.7
    rng.shuffle(texts)
    d = instruct.near_duplicates(texts, 0.7, method="minhash")
    assert len(d.pairs) >= 396 and (d.pairs["rouge_l"] == 0.7).all()
    assert instruct.lsh_recall(instruct.jaccard_floor(0.7), 40, 3) > 0.998


def test_lsh_recall_formula():
    assert instruct.jaccard_floor(0.7) == pytest.approx(0.7 / 1.3)
    assert instruct.lsh_recall(0.538, 40, 3) > 0.998 and instruct.lsh_recall(0.1, 40, 3) < 0.05
    defaults = inspect.signature(instruct.near_duplicates).parameters
    assert (defaults["bands"].default, defaults["rows"].default) == (40, 3)


# --- verbs, flags, lengths ---------------------------------------------------------
def test_verbs_english_and_korean():
    assert instruct.english_verb("Please summarize the following text.") == ("summarize", "text")
    assert instruct.english_verb("What is the capital of France?") == ("(question)", "what")
    assert instruct.korean_predicate("다음 문장을 영어로 번역하세요.") == ("번역하다", "문장")
    assert instruct.korean_predicate("이 글을 요약해 주세요")[0] == "요약하다"
    v = instruct.instruction_verbs(["Write a poem.", "시를 쓰세요."])
    assert v["lang"].tolist() == ["en", "ko"] and v["verb"].tolist() == ["write", "쓰다"]


def test_kiwi_joined_call_equals_per_word_analysis():
    words = ["설명해", "주세요.", "번역하세요", "문장을", "무엇인가요?", "좋다"]
    got = instruct._kiwi_words(words)
    pos = 0
    for w, toks in zip(words, got):  # every morpheme goes back to the eojeol it came from
        assert toks and all(pos <= t.start < pos + len(w) for t in toks), w
        pos += len(w) + 1
    assert [t.form for t in got[2]][:2] == ["번역", "하"]
    v = instruct.instruction_verbs(["이 글을 요약해 주세요.", "다음 문장을 영어로 번역하세요."])
    assert v["verb"].tolist() == ["요약하다", "번역하다"] and v["object"].tolist() == ["글", "문장"]


def test_quality_flags_find_planted_faults():
    import pandas as pd

    df = pd.DataFrame({"instruction": ["주어진 #/ 문장을 분류하세요.", "트윗을 작성하세요 about 카페", "요약하세요."],
                       "input": ["", "", "긴 본문"], "output": ["긍정", "새 카페가 열었어요! 들러 주세요.", ""]})
    f = instruct.quality_flags(df, short_chars=8)
    assert f["stray_markup"].tolist() == [True, False, False]
    assert f["untranslated"].tolist() == [False, True, False]
    assert f["short_output"].tolist() == [True, False, False]
    assert f["empty_output"].tolist() == [False, False, True]
    assert f["empty_input"].tolist() == [True, True, False]


def test_token_lengths_equal_the_tokenizer_on_odd_texts():
    from helpers import zoo

    tok = zoo.tiny_tokenizer("ko")
    odd = ["x² ½ <|endoftext|> test", "a_b __init__ it's  two  spaces\n\nnew", "숫자 123,456.7 😀 é", "", "   ",
           " lead", "trail ", "a \n b", "tab\there", "three   spaces", " \n\n x", "x² ½ <|endoftext|> test"]
    texts = instruct.load("koalpaca_v1_0", profile="tiny")["output"].tolist() + odd
    want = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert instruct.token_lengths(texts, tok) == want
    assert instruct.token_lengths(texts, tok.backend_tokenizer) == want  # a bare tokenizers.Tokenizer

    class PythonOnly:  # a tokenizer without a Rust backend: called on the distinct texts once
        calls = []

        def __call__(self, batch, add_special_tokens):
            self.calls.append(list(batch))
            return {"input_ids": [tok(t, add_special_tokens=add_special_tokens)["input_ids"] for t in batch]}

    slow = PythonOnly()
    assert instruct.token_lengths(texts, slow) == want and slow.calls == [list(dict.fromkeys(texts))]


def test_anatomy_token_lengths_with_any_fast_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(["가나다 라마 바사", "hello world"] * 20, trainer)
    df = instruct.load("alpaca", profile="tiny").head(20)
    r = instruct.anatomy(df, tok, verbs=False)
    assert (r.lengths["tokens_output"] > 0).all()
    want = [len(e.ids) for e in tok.encode_batch(df["output"].tolist(), add_special_tokens=False)]
    assert r.lengths["tokens_output"].tolist() == want


# --- the report ------------------------------------------------------------------------
def test_anatomy_report_and_v10_v11_comparison():
    a = instruct.anatomy(instruct.load("koalpaca_v1_0", profile="tiny"), name="v1.0")
    b = instruct.anatomy(instruct.load("koalpaca_v1_1", profile="tiny"), name="v1.1")
    assert a.lang == b.lang == "ko"
    assert a.flags["stray_markup"].sum() >= 2 and a.flags["untranslated"].sum() >= 3
    assert a.duplicates.n_duplicate_rows == 5 and a.flags["near_duplicate"].sum() == 5
    gap = instruct.median_gap(a, b)
    assert gap["gap"] > 0 and gap["ci95"][0] > 0  # our v1.1-style sample has longer answers
    table = instruct.summary_table(a, b)
    assert list(table.columns) == ["v1.0", "v1.1"] and "median_chars_output" in table.index
    assert table.loc["near_duplicate_rows"].tolist() == [5, 4]
    vc = b.verb_counts(top=5, per_verb=2)
    assert vc["verb"].nunique() <= 5 and (vc.groupby("verb").size() <= 2).all()


def test_median_gap_bootstrap_interval():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)

    def fake(values):
        return instruct.Anatomy("x", "en", {}, pd.DataFrame({"chars_output": values}), None, None, None)

    a, b = fake(rng.normal(100, 10, 400)), fake(rng.normal(130, 10, 300))
    gap = instruct.median_gap(a, b, n_boot=1000, seed=1)
    assert gap == instruct.median_gap(a, b, n_boot=1000, seed=1)  # seeded
    low, high = gap["ci95"]
    assert low < gap["gap"] < high and 25 < low and high < 35 and high - low < 6
    flat = instruct.median_gap(a, a, n_boot=1000)
    assert flat["gap"] == 0 and flat["ci95"][0] < 0 < flat["ci95"][1]


def test_anatomy_enters_the_clock_around_each_stage():
    import contextlib

    events = []

    @contextlib.contextmanager
    def clock(stage):
        events.append(("enter", stage))
        yield
        events.append(("exit", stage))

    instruct.anatomy(instruct.load("alpaca", profile="tiny").head(40), verbs=False, clock=clock)
    stages = ["chars", "verbs", "duplicates", "flags"]
    assert events == [(e, s) for s in stages for e in ("enter", "exit")]  # each stage wrapped, in order
    events.clear()
    from helpers import zoo

    instruct.anatomy(instruct.load("alpaca", profile="tiny").head(40), zoo.tiny_tokenizer("ko"), clock=clock)
    assert [s for e, s in events if e == "enter"] == ["chars", "tokens", "verbs", "duplicates", "flags"]


def test_self_instruct_filter_stages():
    seeds = ["Write a poem about the sea.", "Explain how rain forms in clouds."]
    cands = ["Write a poem about the ocean.", "Draw a picture of a cat.", "Hi.",
             "- list three fruits please", "Summarize the story of a book you like.",
             "Write a program that sorts numbers."]
    r = instruct.self_instruct_filter(seeds + cands)
    assert r["stage"].tolist() == ["kept", "kept", "rouge", "blacklist", "length", "punctuation", "kept", "program"]
    assert r.loc[2, "max_rouge"] == round(instruct.rouge_l(cands[0], seeds[0]), 3) > 0.7
    assert r.loc[2, "closest"] == seeds[0]


def test_self_instruct_filter_drops_three_words_or_fewer_as_alpaca_does():
    # generate_instruction.py: `if len(inst.split()) <= 3 or len(inst.split()) > 150: continue`
    three, four = "List three fruits.", "List three red fruits."
    long = " ".join(["word"] * 150)
    r = instruct.self_instruct_filter([three, four, long, long + " more"])
    assert r["stage"].tolist() == ["length", "kept", "kept", "length"]  # 3: dropped; 150: kept; 151: dropped
    assert "f13496211289def0ff88ae673389ae14a818b4b3/generate_instruction.py" in instruct.SELF_INSTRUCT_SOURCE


def test_self_instruct_filter_rouge_drops_only_above_the_threshold():
    a, b = "alpha beta gamma delta epsilon", "alpha beta gamma delta zeta"  # ROUGE-L 0.8
    assert instruct.rouge_l(a, b) == 0.8
    assert instruct.self_instruct_filter([a, b], threshold=0.8)["stage"].tolist() == ["kept", "kept"]  # `> 0.7`
    assert instruct.self_instruct_filter([a, b], threshold=0.79)["stage"].tolist() == ["kept", "rouge"]


def test_sft_checks_our_quality_checks():
    a = instruct.anatomy(instruct.load("koalpaca_v1_0", profile="tiny"), name="v1.0")
    c = instruct.sft_checks(a)
    assert set(c["condition"]) == {"diverse", "faithful", "clean"}  # our advice, not the lecture's conditions
    med = c.loc[c["measure"] == "median answer chars"].iloc[0]
    assert med["value"] == a.lengths["chars_output"].median() and not med["ok"]  # short v1.0-style answers
    assert instruct.sft_checks(a, min_median_output_chars=10).loc[1, "ok"]


# --- figures and the record browser -------------------------------------------------------
@pytest.fixture(scope="module")
def reports():
    from helpers import zoo

    tok = zoo.tiny_tokenizer("ko")
    return [instruct.anatomy(instruct.load(n, profile="tiny"), tok, name=n)
            for n in ("alpaca", "koalpaca_v1_0", "koalpaca_v1_1")]


def test_length_figure_one_outline_per_dataset_and_korean_titles(reports):
    from helpers import plots

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing Hangul glyph would be a UserWarning
        fig = instruct.length_figure(*reports)
        fig.savefig(io.BytesIO())
    assert len(fig.axes) == 2
    for ax, col in zip(fig.axes, ("chars_output", "tokens_output")):
        assert len(ax.patches) == len(reports)  # one step outline per dataset
        assert ax.get_title() == instruct.LENGTH_TITLES[col] and not plots.missing_glyphs(ax.get_title())
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [r.name for r in reports]
    assert len(instruct.length_figure(reports[0], columns=["chars_output"]).axes) == 1


def test_verb_figure_is_a_sunburst_of_the_top_verbs(reports):
    fig = instruct.verb_figure(reports[1], top=10, per_verb=3, title="KoAlpaca v1.0 샘플: 술어와 목적어")
    assert len(fig.data) == 1 and fig.data[0].type == "sunburst"
    assert fig.layout.title.text == "KoAlpaca v1.0 샘플: 술어와 목적어"
    top = set(reports[1].verb_counts(top=10, per_verb=3)["verb"])
    assert len(top) == 10 and top <= set(fig.data[0].labels)
    assert "술어" in instruct.verb_figure(reports[1]).layout.title.text


def test_browse_and_record_browser():
    data = {n: instruct.load(n, profile="tiny") for n in ("koalpaca_v1_0", "dolly")}
    text = instruct.browse(data, 3, "koalpaca_v1_0", "koalpaca_v1_1")
    assert text == instruct.render_marked(data["koalpaca_v1_0"].iloc[3].to_dict(), "koalpaca_v1_1", "</s>")
    assert text.startswith("### 질문: ") and text.endswith("</s>⟧")
    w = instruct.record_browser(data)
    row, dataset, menu = w.children[:3]
    assert row.description == "i" and row.max == len(data["koalpaca_v1_0"]) - 1
    dataset.value = "dolly"
    assert row.max == len(data["dolly"]) - 1  # the slider spans the chosen dataset
    assert menu.value == "koalpaca_v1_1" and set(menu.options) == set(instruct.templates()["name"])


# --- the benchmark data generator (bench/datagen.py) ---------------------------------------
@pytest.fixture(scope="module")
def datagen():
    path = Path(__file__).resolve().parents[1] / "bench" / "datagen.py"
    spec = importlib.util.spec_from_file_location("datagen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scale_is_deterministic_and_sized(datagen):
    df = instruct.load("alpaca", profile="tiny")
    a, b = datagen.scale(df, 500, seed=3), datagen.scale(df, 500, seed=3)
    assert len(a) == 500 and a.equals(b)
    assert a.iloc[: len(df)]["instruction"].tolist() == df["instruction"].tolist()
    assert a["instruction"].nunique() > len(df)


def test_scale_has_controlled_duplicates_and_no_copy_clusters(datagen):
    df = instruct.load("alpaca", profile="tiny")
    s = datagen.scale(df, 4000, seed=1)
    d = instruct.near_duplicates(s["instruction"].tolist(), 0.7)
    share = d.n_duplicate_rows / len(s)
    assert 0.02 < share < 0.15, share  # planted 1 % exact + 3 % near, plus chance pairs
    new = s["instruction"].iloc[len(df):]
    assert new.nunique() > 0.9 * len(new)
    # openings survive: most new rows start with a word that opens some sample row
    firsts = {t.split()[0] for t in df["instruction"]}
    assert (new.str.split().str[0].isin(firsts)).mean() > 0.9
