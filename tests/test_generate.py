"""Tests of helpers.generate: the prompt file, prompt formats, token efficiency on hand-checked
tokenizers, and side_by_side/stream on the tiny stand-ins (seeds, templates, max new tokens, failures)."""

from __future__ import annotations

import json

import pytest

from helpers import generate, instruct, records

KOREAN = "오늘은 날씨가 맑아서 공원에 산책을 다녀왔습니다."


# --------------------------------------------------------------------------- prompts file


def test_prompt_file_has_every_category_with_notes_and_sources():
    df = generate.load_prompts()
    assert set(df["category"]) == set(generate.CATEGORIES)
    assert df.groupby("category").size().min() >= 2
    assert df["id"].is_unique
    assert (df["good_answer"].str.len() > 20).all()
    for src in df["source"]:
        assert all(s == "ours" or s.startswith("https://") for s in src.split(";"))
    # Korean prompts: most characters of every instruction are Hangul or punctuation
    for text in df["instruction"]:
        hangul = sum("가" <= ch <= "힣" for ch in text)
        assert hangul >= 0.4 * len(text.replace(" ", "")), text


def test_one_per_category_follows_category_order():
    assert list(generate.one_per_category()["category"]) == list(generate.CATEGORIES)


def _write(tmp_path, records):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records),
                    encoding="utf-8")
    return path


GOOD = {"id": "x1", "category": "chat", "instruction": "안녕?", "good_answer": "인사", "source": "ours"}


@pytest.mark.parametrize("bad, words", [
    ("{not json", ["line 2", "not valid JSON"]),
    ({**GOOD, "id": "x2", "category": "poetry"}, ["line 2", "'category'", "poetry"]),
    ({**GOOD, "id": "x2", "good_answer": ""}, ["line 2", "'good_answer'", "missing"]),
    ({**GOOD, "id": "x2", "source": "wikipedia"}, ["line 2", "'source'", "expected URLs or 'ours'", "wikipedia"]),
    ({**GOOD, "id": "x2", "input": 3}, ["line 2", "'input'", "expected a string", "int 3"]),
    ({**GOOD, "extra": "?"}, ["line 2", "expected only the fields", "found also extra"]),
    (GOOD, ["line 2", "'id'", "again (first at line 1)"]),
])
def test_prompt_file_errors_name_file_line_and_field(tmp_path, bad, words):
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(generate.PromptFileError) as e:
        generate.load_prompts(path)
    msg = str(e.value)
    assert str(path) in msg
    for w in words:
        assert w in msg


def test_prompts_from_a_csv_or_xlsx_of_yours_and_skip_errors(tmp_path):
    ours = generate.load_prompts().head(4)
    csv = tmp_path / "mine.csv"
    ours[["note", "source", "id", "category", "instruction", "good_answer"]].to_csv(csv, index=False,
                                                                                   encoding="utf-8-sig")
    assert generate.load_prompts(csv).equals(ours.assign(input=""))  # any column order; no input column: ""
    xlsx = tmp_path / "mine.xlsx"
    ours.to_excel(xlsx, index=False, sheet_name="prompts")
    assert generate.load_prompts(xlsx, sheet="prompts").equals(ours)
    path = _write(tmp_path, [GOOD, {**GOOD, "id": "x2", "category": "poetry"}, "{not json", {**GOOD, "id": "x3"}])
    with pytest.warns(records.SkippedRecordsWarning, match=r"skipped 2 of 4 records") as w:
        df = generate.load_prompts(path, skip_errors=True)
    assert df["id"].tolist() == ["x1", "x3"]
    assert "line 2: field 'category'" in str(w[0].message) and "line 3, column 2" in str(w[0].message)
    report = df.attrs["load_report"]
    assert (report.records, report.rows, len(report.skipped)) == (4, 2, 2)
    assert "line 3, column 2" in report.skipped[0] and "line 2: field 'category'" in report.skipped[1]
    path = _write(tmp_path, ["{not json", {**GOOD, "category": "poetry"}])  # all bad: each skip is still explained
    with pytest.warns(records.SkippedRecordsWarning, match=r"skipped 2 of 2 records"):
        with pytest.raises(generate.PromptFileError, match="at least one prompt"):
            generate.load_prompts(path, skip_errors=True)


# --------------------------------------------------------------------------- prompt formats


def test_render_plain_and_koalpaca_use_the_template_data():
    rec = {"instruction": "다음 글을 요약해 주세요.", "input": "글 본문."}
    assert generate.render_prompt(rec, "plain") == "다음 글을 요약해 주세요.\n\n글 본문.\n"
    assert generate.render_prompt(rec, "koalpaca") == instruct.render(rec, "koalpaca_v1_1")[0]
    assert generate.render_prompt("질문?", "koalpaca") == "### 질문: 질문?\n\n### 답변:"
    with pytest.raises(ValueError, match="unknown prompt_format"):
        generate.render_prompt(rec, "alpaca")
    with pytest.raises(ValueError, match="needs the model's tokenizer"):
        generate.render_prompt(rec, "chat_template")


def test_decoding_rejects_unknown_and_bad_settings():
    with pytest.raises(ValueError, match="max_tokens"):
        generate.Decoding(max_tokens=3)
    with pytest.raises(ValueError, match="temperature"):
        generate.Decoding(do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        generate.Decoding(top_p=0)
    with pytest.raises(ValueError, match="min_new_tokens"):
        generate.Decoding(max_new_tokens=4, min_new_tokens=5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate.Decoding(max_new_tokens=0)


def test_per_prompt_sampler_draws_each_row_with_its_own_generator():
    import torch

    scores = torch.tensor([[0.0, 1.0, 2.0, 0.5], [2.0, 1.0, 0.0, 1.5]])
    gens = lambda first: [torch.Generator().manual_seed(first), torch.Generator().manual_seed(7)]  # noqa: E731
    a = generate.PerPromptSampler(gens(1))(None, scores)
    b = generate.PerPromptSampler(gens(2))(None, scores)
    assert torch.equal(a[1], b[1])  # row 1's draw depends on row 1's generator only
    assert (torch.isfinite(a).sum(dim=1) == 1).all()  # greedy selection then picks the drawn token
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        generate.PerPromptSampler(gens(1))(None, torch.zeros(3, 4))


def test_prompt_seed_depends_on_seed_and_text_only():
    assert generate.prompt_seed(0, "가") == generate.prompt_seed(0, "가")
    assert len({generate.prompt_seed(0, "가"), generate.prompt_seed(1, "가"), generate.prompt_seed(0, "나")}) == 3


# --------------------------------------------------------------------------- hand-checked tokenizers


def _byte_level(merged_words=()):
    """A byte-level BPE whose vocabulary is the 256 byte symbols plus, for each word in
    ``merged_words``, the merges that make it one piece (left to right)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    merges = []
    for word in merged_words:
        symbols = pre.pre_tokenize_str(word)[0][0]
        left = symbols[0]
        for ch in symbols[1:]:
            merges.append((left, ch))
            left += ch
            vocab.setdefault(left, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def _sentencepiece_like(byte_fallback: bool):
    """LLaMA-style: Metaspace pieces, a tiny vocabulary, and <0x..> byte pieces (or <unk>)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{f"<0x{b:02X}>": b + 1 for b in range(256)}, "▁": 257, "a": 258, "▁a": 259, "국": 260}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[("▁", "a")], unk_token="<unk>", byte_fallback=byte_fallback))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")


def _row(tok, text):
    return generate.token_efficiency({"t": tok}, text).loc["t"]


def test_efficiency_bytes_only_byte_level_bpe():
    # 한 국 어 are 3 UTF-8 bytes each, the space 1: ten single-byte pieces, of which
    # nine are parts of a Hangul syllable and one (the space) is a whole character.
    tok = _byte_level()
    assert generate.tokenizer_kind(tok) == "byte_level"
    r = _row(tok, "한국 어")
    assert (r.chars, r.eojeol, r.bytes, r.tokens) == (4, 2, 10, 10)
    assert r.tokens_per_char == 2.5 and r.tokens_per_eojeol == 5.0 and r.bytes_per_token == 1.0
    assert (r.byte_fallback, r.unknown) == (9, 0)
    assert r.byte_fallback_share == pytest.approx(0.9)


def test_efficiency_byte_level_bpe_with_a_merged_syllable():
    # vocabulary knows 한 (ED 95 9C) as one piece, and so also ED 95. "한국 한학":
    # 한 | EC | B5 | AD (국) | Ġ | 한 | ED 95 | 99 (학, ED 95 99) -> 8 pieces, 5 partial.
    tok = _byte_level(["한"])
    df = generate.pieces(tok, "한국 한학")
    assert list(df["type"]) == ["whole", "byte_fallback", "byte_fallback", "byte_fallback", "whole", "whole",
                                "byte_fallback", "byte_fallback"]
    assert list(df["bytes"]) == ["ED 95 9C", "EA", "B5", "AD", "20", "ED 95 9C", "ED 95", "99"]
    assert list(df["text"])[:1] == ["한"] and df["text"][4] == " "
    r = _row(tok, "한국 한학")
    assert (r.chars, r.eojeol, r.bytes, r.tokens, r.byte_fallback) == (5, 2, 13, 8, 5)
    assert r.tokens_per_char == pytest.approx(1.6) and r.tokens_per_eojeol == 4.0
    assert r.bytes_per_token == pytest.approx(13 / 8)


def test_efficiency_sentencepiece_byte_fallback_and_unknown():
    # "a 국한" -> ▁a | ▁ | 국 | <0xED> <0x95> <0x9C>  (한 is not in the vocabulary)
    sp = _sentencepiece_like(byte_fallback=True)
    assert generate.tokenizer_kind(sp) == "byte_fallback"
    df = generate.pieces(sp, "a 국한")
    assert list(df["piece"]) == ["▁a", "▁", "국", "<0xED>", "<0x95>", "<0x9C>"]
    r = _row(sp, "a 국한")
    assert (r.tokens, r.byte_fallback, r.unknown, r.bytes) == (6, 3, 0, 8)
    assert r.byte_fallback_share == 0.5 and r.tokens_per_char == 1.5
    # without byte fallback the same character is one unknown piece
    unk = _sentencepiece_like(byte_fallback=False)
    assert generate.tokenizer_kind(unk) == "plain"
    r = _row(unk, "a 국한")
    assert (r.tokens, r.byte_fallback, r.unknown) == (4, 0, 1)
    assert r.unknown_share == 0.25
    assert generate.pieces(unk, "a 국한")["type"].tolist() == ["whole", "whole", "whole", "unknown"]


def test_efficiency_over_several_texts_sums_counts():
    tok = _byte_level()
    r = generate.token_efficiency([("t", tok)], ["한 a", "b c"]).loc["t"]
    assert (r.texts, r.chars, r.eojeol, r.bytes, r.tokens) == (2, 6, 4, 8, 8)


def test_byte_table_matches_the_tokenizers_library():
    from tokenizers import pre_tokenizers

    table = generate._byte_decoder()
    assert set(table) == set(pre_tokenizers.ByteLevel.alphabet())
    assert sorted(table.values()) == list(range(256))
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    for text in ("Hello, 세계!", KOREAN, "\t\n~ÿ"):
        mapped = pre.pre_tokenize_str(text)[0][0]
        assert bytes(table[c] for c in mapped) == text.encode("utf-8")


def test_not_a_fast_tokenizer_is_a_clear_error():
    with pytest.raises(TypeError, match="fast tokenizer"):
        generate.tokenizer_kind(object())


def test_context_fit_by_hand():
    tok = _byte_level()
    fit = generate.context_fit(generate.token_efficiency({"t": tok}, "한국 어"), context_tokens=2000)
    assert fit.loc["t", "chars_in_2000"] == 800  # 2.5 tokens per character
    assert fit.loc["t", "eojeol_in_2000"] == 400
    assert fit.loc["t", "tokens_per_1000_chars"] == 2500


# --------------------------------------------------------------------------- tiny tokenizers


@pytest.fixture(scope="module")
def tiny_tokenizers():
    from helpers import zoo

    return {"ko": zoo.tiny_tokenizer("ko"), "en": zoo.tiny_tokenizer("en")}


def test_korean_heavy_tokenizer_needs_fewer_tokens_for_korean(tiny_tokenizers):
    texts = generate.load_prompts()["instruction"].tolist()
    eff = generate.token_efficiency(tiny_tokenizers, texts)
    assert eff.loc["ko", "vocab"] == eff.loc["en", "vocab"]
    assert eff.loc["ko", "tokens_per_char"] < eff.loc["en", "tokens_per_char"]
    assert eff.loc["ko", "byte_fallback_share"] < eff.loc["en", "byte_fallback_share"]
    assert (eff["unknown"] == 0).all()  # byte-level BPE never needs an unknown token


def test_pieces_of_a_real_vocabulary_add_up_to_the_text(tiny_tokenizers):
    for tok in tiny_tokenizers.values():
        df = generate.pieces(tok, KOREAN)
        joined = bytes.fromhex(" ".join(df["bytes"]))
        assert joined.decode("utf-8") == KOREAN
        assert tok.decode(df["id"].tolist()) == KOREAN
        whole = df[df["type"] == "whole"]
        assert all(tok.decode([i]) == t for i, t in zip(whole["id"], whole["text"]))
    html = generate.pieces_html(tiny_tokenizers, KOREAN)
    assert html.count("<b>") == 2 and "byte fallback" in html


# --------------------------------------------------------------------------- side by side on stand-ins

MODELS = ("polyglot-ko-1.3b", "koalpaca-polyglot-5.8b", "qwen2.5-0.5b-instruct")


@pytest.fixture(scope="module")
def loaded():
    import torch

    from helpers import zoo

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads cost more than they give on 2 cores
    yield {m: zoo.load(m, profile="tiny") for m in MODELS}
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def prompts():
    return generate.one_per_category()


SAMPLE = {"do_sample": True, "temperature": 0.9, "top_p": 0.95, "max_new_tokens": 12}


def test_side_by_side_labels_templates_and_columns(loaded, prompts):
    df = generate.side_by_side(list(loaded.values()), prompts, **SAMPLE)
    assert len(df) == len(MODELS) * len(prompts)
    assert (df["error"] == "").all()
    assert df["label"].str.endswith("(tiny stand-in)").all()
    assert df["description"].str.startswith("tiny stand-in for ").all()
    assert (df["latency_s"] > 0).all() and (df["tokens_per_s"] > 0).all()
    rec = prompts.iloc[2].to_dict()  # summarization: has an input block
    by = df[df["prompt_id"] == rec["id"]].set_index("model")
    assert by.loc["polyglot-ko-1.3b", "prompt_format"] == "plain"
    assert by.loc["polyglot-ko-1.3b", "prompt_text"] == f"{rec['instruction']}\n\n{rec['input']}\n"
    assert by.loc["koalpaca-polyglot-5.8b", "prompt_text"] == instruct.render(rec, "koalpaca_v1_1")[0]
    chat_tok = loaded["qwen2.5-0.5b-instruct"].tokenizer
    assert by.loc["qwen2.5-0.5b-instruct", "prompt_text"] == chat_tok.apply_chat_template(
        [{"role": "user", "content": generate.user_text(rec)}], tokenize=False, add_generation_prompt=True)
    assert by.loc["qwen2.5-0.5b-instruct", "prompt_text"].endswith("assistant\n")


def test_side_by_side_same_seed_same_outputs_and_batch_independent(loaded, prompts):
    models = [loaded["polyglot-ko-1.3b"], loaded["qwen2.5-0.5b-instruct"]]
    a = generate.side_by_side(models, prompts, seed=7, **SAMPLE)
    b = generate.side_by_side(models, prompts, seed=7, **SAMPLE)
    assert a["output"].tolist() == b["output"].tolist()
    one = generate.side_by_side(models, prompts, seed=7, batch_size=1, **SAMPLE)
    assert a["output"].tolist() == one["output"].tolist()  # a prompt's sample ignores its batch-mates
    other = generate.side_by_side(models, prompts, seed=8, **SAMPLE)
    assert other["output"].tolist() != a["output"].tolist()
    assert a["seed"].nunique() == len(prompts)  # one seed per prompt, shared by the models
    assert (a.groupby("prompt_id")["seed"].nunique() == 1).all()


def test_side_by_side_honours_max_new_tokens(loaded, prompts):
    m = [loaded["koalpaca-polyglot-5.8b"]]
    df = generate.side_by_side(m, prompts, max_new_tokens=5)
    assert (df["new_tokens"] <= 5).all() and (df["new_tokens"] >= 1).all()
    assert set(df["stop"]) <= {"eos", "length"}
    assert (df.loc[df["stop"] == "length", "new_tokens"] == 5).all()
    exact = generate.side_by_side(m, prompts, max_new_tokens=4, min_new_tokens=4)
    assert (exact["new_tokens"] == 4).all() and (exact["stop"] == "length").all()
    tok = loaded["koalpaca-polyglot-5.8b"].tokenizer
    assert all(len(tok(o, add_special_tokens=False)["input_ids"]) <= 4 + 1 for o in exact["output"])


def test_a_model_that_fails_to_load_is_a_row_and_the_others_run(loaded, prompts):
    df = generate.side_by_side(["no-such-model", loaded["polyglot-ko-1.3b"]], prompts.head(2), max_new_tokens=3)
    bad = df[df["model"] == "no-such-model"]
    assert len(bad) == 1 and "load failed: UnknownModelError" in bad["error"].iloc[0]
    assert bad["output"].isna().all()
    good = df[df["model"] == "polyglot-ko-1.3b"]
    assert len(good) == 2 and (good["error"] == "").all() and good["output"].notna().all()
    assert set(generate.throughput(df).index) == {"polyglot-ko-1.3b (tiny stand-in)"}


def test_a_model_without_its_chat_template_fails_in_its_rows_only(loaded, prompts):
    from helpers import zoo

    qwen = loaded["qwen2.5-0.5b-instruct"]
    tok = zoo.tiny_tokenizer("en")  # no chat template
    broken = zoo.Loaded(qwen.model, tok, qwen.info)
    df = generate.side_by_side([broken, loaded["polyglot-ko-1.3b"]], prompts.head(2), max_new_tokens=3)
    assert df.loc[df["model"] == "qwen2.5-0.5b-instruct", "error"].str.contains("no chat template").all()
    assert (df.loc[df["model"] == "polyglot-ko-1.3b", "error"] == "").all()


def test_stream_and_respond_match_side_by_side(loaded, prompts):
    m = loaded["koalpaca-polyglot-5.8b"]
    rec = prompts.iloc[0].to_dict()
    table = generate.side_by_side([m], [rec], seed=3, **SAMPLE)
    chunks = list(generate.stream(m, rec, seed=3, **SAMPLE))
    assert len(chunks) >= 1 and "".join(chunks) == table["output"].iloc[0]
    greedy = generate.side_by_side([m], [rec["instruction"]], max_new_tokens=10)["output"].iloc[0]
    seen = []
    assert generate.respond(m, rec["instruction"], temperature=0, max_new_tokens=10, on_text=seen.append) == greedy
    assert "".join(seen) == greedy


def test_widget_runs_without_a_browser(loaded):
    pytest.importorskip("ipywidgets")
    ui = generate.widget([loaded["polyglot-ko-1.3b"]], prompt="한국어로 인사해 주세요.", temperature=0.0,
                         max_new_tokens=6)
    ui.run()
    out = ui.children[-1].value
    assert "polyglot-ko-1.3b (tiny stand-in)" in out and "tiny stand-in for EleutherAI/polyglot-ko-1.3b" in out
    expected = generate.respond(loaded["polyglot-ko-1.3b"], "한국어로 인사해 주세요.", temperature=0, max_new_tokens=6)
    import html

    assert html.escape(expected) in out
    # registry ids are loaded on first use; a failing one shows its error in the output
    lazy = generate.widget(["polyglot-ko-1.3b", "no-such-model"], prompt="안녕", profile="tiny", temperature=0.0,
                    max_new_tokens=3)
    lazy.run()
    assert "tiny stand-in for EleutherAI/polyglot-ko-1.3b" in lazy.children[-1].value
    lazy.children[1].children[0].value = "no-such-model"
    lazy.run()
    assert "UnknownModelError" in lazy.children[-1].value


def test_real_tokenizer_that_fails_to_load_is_reported_not_fatal(monkeypatch):
    """A gated repository without a login must not stop the comparison; it is named in a warning."""
    import transformers

    from helpers import zoo

    stand_in = zoo.tiny_tokenizer("ko")

    def fake(hub_id, **kwargs):
        if hub_id == zoo.spec("llama-2-7b").hub_id:
            raise OSError("gated repository: log in to access it")
        return stand_in

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake)
    monkeypatch.setattr(generate.env, "hub_commit", lambda repo, revision, *args, **kwargs: revision)
    monkeypatch.setattr(generate.env, "profile", lambda override=None: "real")
    with pytest.warns(UserWarning, match="Llama-2-7b-hf.*gated"):
        toks = generate.load_tokenizers(["polyglot-ko-1.3b", "llama-2-7b"], "real")
    assert list(toks) == ["EleutherAI/polyglot-ko-1.3b"]
