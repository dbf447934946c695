"""Sphinx extension: Korean full-text search for the course site (``html_search_language = "ko"``).

Sphinx has no Korean search. Korean writes particles and endings onto the word inside one eojeol (the unit
between spaces): "데이터를" is "데이터" + "를". Sphinx's default splitter indexes eojeols only, so a search
for "데이터" would miss a page that only says "데이터를". This splitter indexes every eojeol *and* its content
morphemes from kiwipiepy (the analyser the notebooks already use): nouns, roots, foreign words and Hanja as
they are, verb and adjective stems in their dictionary form ("배운다" -> "배우다"). The browser needs no
analyser: a query word is looked up as typed, and matches an eojeol or a morpheme (Sphinx also matches
any indexed word that contains a query word of three or more characters).

Latin words are stemmed with Sphinx's English (snowball) stemmer, in Python and in the browser alike;
on Hangul it changes nothing, so both sides agree on every word.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import sphinx.search
from sphinx.search.en import SearchEnglish

WORD = re.compile(r"\w+")
# kiwipiepy (Sejong) tags kept as search words: general/proper nouns, numerals, roots, foreign words, Hanja
CONTENT_TAGS = {"NNG", "NNP", "NR", "XR", "SL", "SH"}
PREDICATE_TAGS = {"VV", "VA"}  # verb/adjective stems, indexed as "stem + 다"
_JS = Path(sphinx.search.__file__).parent / "minified-js"


@lru_cache(maxsize=1)
def kiwi():
    from kiwipiepy import Kiwi

    return Kiwi(load_multi_dict=False)


@lru_cache(maxsize=200_000)
def morphemes(eojeol: str) -> tuple[str, ...]:
    """Content morphemes of one eojeol, in dictionary form ("데이터를" -> ("데이터",))."""
    if eojeol.isascii():
        return ()
    out = []
    for tok in kiwi().tokenize(eojeol):
        tag = tok.tag.split("-")[0]  # kiwipiepy marks regular/irregular conjugation as VV-R / VV-I
        if tag in CONTENT_TAGS:
            out.append(tok.form)
        elif tag in PREDICATE_TAGS:
            out.append(tok.form + "다")
    return tuple(w for w in out if w != eojeol)


def split(text: str) -> list[str]:
    """Search words of ``text``: each eojeol, then the morphemes of those that have more than one."""
    words = WORD.findall(text)
    return words + [m for w in words for m in morphemes(w)]


class SearchKorean(SearchEnglish):
    lang = "ko"
    language_name = "Korean"
    js_stemmer_rawcode = ""  # the English stemmer is inlined below (Sphinx would name it after language_name)

    @property
    def js_stemmer_code(self) -> str:  # type: ignore[override]
        return "\n".join([(_JS / "base-stemmer.js").read_text(encoding="utf-8"),
                          (_JS / "english-stemmer.js").read_text(encoding="utf-8"),
                          "window.Stemmer = EnglishStemmer;"])

    def split(self, input: str) -> list[str]:  # noqa: A002 -- Sphinx's parameter name
        return split(input)


def setup(app):
    app.add_search_language(SearchKorean)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
