"""The slide decks (``make slides``) and the course site (``make site``): built pieces checked without a browser,
then every deck and the site opened in headless Chromium from a static server on localhost.

In the browser, every deck: reveal.js slides advance with the keyboard; no slide runs off its frame (a slide taller than
the frame scrolls inside it; nothing is wider); plotly figures draw; Hangul is drawn with our bundled
Korean font. The site: its navigation follows the notebooks' order, its badges are local images, its search
finds a word of notebook 03 that only the Korean-aware splitter indexes; no request leaves localhost and
no JavaScript error is raised. Screenshots go to build/screenshots/ (docs/screenshots/ with
``LLM_SURVEY_DOCS_SCREENSHOTS=1``, as ``make screenshots`` sets).
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import sys
import tarfile
import threading
from pathlib import Path

import nbformat
import pytest
from checks import REPO, Console, korean_font_problems, local, plotly_problems

from survey_tools import site, slides
from survey_tools.links import repository
from survey_tools.site import SiteError

DECK = "03_alpaca_data_anatomy"
BUNDLED_FONT = "NanumSquare"  # the @font-face family of data/fonts/NanumSquareR.ttf in slides.css / course.css
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
sys.path.insert(0, str(site.SITE_CONF))
import korean_search  # noqa: E402, I001 -- docs/site/korean_search.py, the site's Sphinx extension


# --------------------------------------------------------------------------- without a browser


def _md(source: str):
    return nbformat.v4.new_markdown_cell(source)


COLAB = "https://colab.research.google.com/github/o/n/blob/main/notebooks/09_x.ipynb"
BINDER = "https://mybinder.org/v2/gh/o/n/main?urlpath=lab/tree/notebooks/09_x.ipynb"
TITLE_CELL = f"""# 09. 시험용 노트북

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB}) [![Binder](https://mybinder.org/badge_logo.svg)]({BINDER})

이 노트북의 목적을 한 문단으로 씁니다.

| 환경 | 프로필 |
|---|---|
| CPU | `tiny` |

**학습 목표**
- 첫째 목표.
- 둘째 목표.
"""


def _notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nimport helpers")
    fig = nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
        "display_data", data={site.PLOTLY: {"data": [{"type": "bar", "x": ["가", "나"], "y": [1, 2]}],
                                            "layout": {"title": {"text": "막대"}}}})])
    widget = nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "display_data", data={site.WIDGET: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                              "text/plain": "VBox(children=(...))"})])
    section = _md("## 1. 첫 절\n\n설명.\n\n```python\n## not a heading\n```\n\n### 1.1 작은 절")
    nb.cells = [_md(TITLE_CELL), setup, section, fig, _md("글 한 줄.\n\n## 2. 둘째 절"), widget]
    path = tmp_path / "09_x.ipynb"
    nbformat.write(nb, path)
    return path


def test_prepare_makes_outputs_static_and_local(tmp_path):
    nb = site.prepare(_notebook(tmp_path), badge_dir="assets/badges/", plotly_src="assets/plotly.min.js")
    assert "](assets/badges/colab.svg)" in nb.cells[0].source and "colab-badge.svg" not in nb.cells[0].source
    assert nb.cells[1].source == "import helpers"  # test directives are not content
    html = nb.cells[3].outputs[0].data["text/html"]
    assert set(nb.cells[3].outputs[0].data) == {"text/html"}
    assert html.startswith('<script src="assets/plotly.min.js"></script>') and "Plotly.newPlot" in html
    note = nb.cells[5].outputs[0].data["text/html"]
    assert "에서 실행하세요" in note and COLAB in note and BINDER in note
    assert set(nb.cells[5].outputs[0].data) == {"text/html"}


def test_prepare_refuses_remote_images(tmp_path):
    path = _notebook(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source += "\n\n![chart](https://example.org/chart.png)"
    nbformat.write(nb, path)
    with pytest.raises(SiteError, match=r"09_x\.ipynb: cell 2: the image https://example\.org/chart\.png"):
        site.prepare(path, badge_dir="b/", plotly_src="p.js")


def test_slides_follow_the_headings(tmp_path):
    path = _notebook(tmp_path)
    nb = slides.slide_cells(site.prepare(path, badge_dir="b/", plotly_src="p.js"), path)
    kinds = [(c.cell_type, c.metadata.slideshow["slide_type"], c.source.splitlines()[0] if c.source else "")
             for c in nb.cells]
    assert kinds == [
        ("markdown", "slide", "# 09. 시험용 노트북"),       # title slide
        ("markdown", "subslide", "이 노트북의 목적을 한 문단으로 씁니다."),
        ("code", "skip", "import helpers"),                    # the setup cell
        ("markdown", "slide", "## 1. 첫 절"),                  # the fenced "## not a heading" stays inside
        ("markdown", "subslide", "### 1.1 작은 절"),
        ("code", "-", "fig"),
        ("markdown", "-", "글 한 줄."),
        ("markdown", "slide", "## 2. 둘째 절"),
        ("code", "-", "w"),
    ]
    title = nb.cells[0].source
    assert "학습 목표" in title and "둘째 목표" in title and "colab-badge.svg" not in title and "(b/colab.svg)" in title
    assert "| CPU |" not in title and nb.cells[0].metadata.slideshow["data"] == {"state": "title-slide"}


def test_title_slide_needs_learning_goals():
    with pytest.raises(SiteError, match=r"x\.ipynb: cell 0: expected .*학습 목표"):
        slides.title_slide("# 제목\n\n목표 없이 끝나는 첫 셀.", "x.ipynb: cell 0")


def test_slide_markdown_reads_math_as_the_site_does():
    html = slides.markdown_html("GPU 약 $800(실패 포함)과 API 약 $500가 들었다.\n\n가중치 $W$와\n\n$$h = Wx$$")
    assert "GPU 약 $800(실패 포함)과 API 약 $500가" in html  # money: MyST's rule, no digit after a closing $
    assert '<span class="math inline">\\(W\\)</span>' in html and "\\[h = Wx\\]" in html


def test_code_mode_from_metadata_or_flag(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"open_llm_survey": {"slides": {"code": "hidden"}}})
    assert slides.code_mode(nb, tmp_path / "a.ipynb", None) == "hidden"
    assert slides.code_mode(nb, tmp_path / "a.ipynb", "shown") == "shown"
    nb.metadata.open_llm_survey.slides.code = "tiny"
    with pytest.raises(SiteError, match=r"a\.ipynb: notebook metadata, field 'open_llm_survey\.slides\.code'"):
        slides.code_mode(nb, tmp_path / "a.ipynb", None)


def test_korean_search_indexes_morphemes_and_stems_like_the_browser():
    words = korean_search.split("지시 데이터를 배운다. LoRA를 학습하고 (running) 모델")
    assert {"데이터를", "데이터", "배운다", "배우다", "LoRA", "학습", "모델", "running"} <= set(words)
    lang = korean_search.SearchKorean({})
    assert [lang.stem(w) for w in ("데이터", "Running", "datasets")] == ["데이터", "run", "dataset"]
    assert "window.Stemmer = EnglishStemmer;" in lang.js_stemmer_code


def test_index_page_links_notebooks_in_order(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\n[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/o/n/main)\n\n"
                      "| notebook | what |\n|---|---|\n| `00_a` | x |\n| `01_b` | y |\n\n"
                      "See [the guide](CONTRIBUTING.md) and [a shot](docs/x.png).\n", encoding="utf-8")
    text = site.index_page(readme, [Path("nb/00_a.ipynb"), Path("nb/01_b.ipynb")])
    assert "| [`00_a`](notebooks/00_a.ipynb) |" in text
    owner, name, branch = repository()
    assert f"[the guide](https://github.com/{owner}/{name}/blob/{branch}/CONTRIBUTING.md)" in text
    assert "[![Binder](badges/binder.svg)](https://mybinder.org/v2/gh/o/n/main)" in text
    assert text.index("notebooks/00_a\n") < text.index("notebooks/01_b\n") and "```{toctree}" in text


def _tarball(tmp_path: Path, name: str, version: str) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    path = cache / f"{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for member, body in (("package/dist/a.js", b"a"), ("package/dist/b.css", b"b"), ("package/x.txt", b"x")):
            info = tarfile.TarInfo(member)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def test_web_assets_are_checked_against_their_pin(tmp_path):
    path = _tarball(tmp_path, "lib", "1.0.0")
    from survey_tools.tokenizers import integrity

    pkg = site.NpmPackage(version="1.0.0", integrity=integrity(path), license="MIT", files=["dist"],
                          source="https://www.npmjs.com/package/lib")
    dest = site.unpack("lib", pkg, tmp_path / "out", cache=path.parent)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == \
        [".integrity", "dist/a.js", "dist/b.css"]
    bad = pkg.model_copy(update={"integrity": "sha512-" + "A" * 86 + "=="})
    with pytest.raises(SiteError, match=r"web_assets\.yaml, line \d+, npm / lib, field 'integrity': expected sha512-A"):
        site.unpack("lib", bad, tmp_path / "out2", cache=path.parent)
    missing = pkg.model_copy(update={"files": ["dist", "nope.js"]})
    with pytest.raises(SiteError, match=r"field 'files': \['nope\.js'\] not in the tarball"):
        site.unpack("lib", missing, tmp_path / "out3", cache=path.parent)


def test_pinned_web_assets_file_is_valid():
    pins = site.pinned()
    assert {"reveal.js", "mathjax"} <= set(pins.npm)


# --------------------------------------------------------------------------- in the browser


def _older_than_sources(index: Path) -> bool:
    sources = [*site.notebooks(), REPO / "README.md", site.ASSETS_FILE, *site.SITE_CONF.rglob("*.*")]
    return not index.exists() or index.stat().st_mtime < max(p.stat().st_mtime for p in sources)


@pytest.fixture(scope="session")
def built() -> Path:
    """build/ with the decks and the site (`make test` builds both first; rebuilt here if missing or stale, from
    the npm tarballs already fetched: tests touch no network)."""
    missing = [f"{name}@{pkg.version}" for name, pkg in site.pinned().npm.items()
               if not site.available_offline(name, pkg)]
    if missing:
        pytest.fail(f"{missing} not fetched yet: run `make slides site` first (they fetch them with npm pack)")
    if _older_than_sources(slides.OUT / "index.html"):
        slides.build()
    if _older_than_sources(site.BUILD / "site" / "index.html"):
        site.build()
    return site.BUILD


@pytest.fixture(scope="session")
def static_server(built):
    """build/ over HTTP on 127.0.0.1 (a free port), as a lecturer or a reader would open it."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class Requests:
    """Every request a page makes; those that leave localhost are problems."""

    def __init__(self, page):
        self.external: list[str] = []
        page.on("request", lambda r: None if local(r.url) else self.external.append(r.url))


def _docs_screenshot(page, name: str) -> Path:
    """A viewport screenshot into build/screenshots/; also a small copy into docs/screenshots/ when asked."""
    from checks import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(shot))
    if os.environ.get("LLM_SURVEY_DOCS_SCREENSHOTS") == "1":
        from test_voila import small_docs_png

        small_docs_png(shot, DOCS_SCREENSHOTS / f"{name}.png")
    return shot


# A slide's frame: the slide fits the deck's frame, nothing in it is wider than it, and content taller than
# the frame scrolls inside the slide. Returns the problems of the current slide.
_FRAME = """() => {
    const s = Reveal.getCurrentSlide(), frame = document.querySelector('.reveal .slides').getBoundingClientRect();
    const r = s.getBoundingClientRect(), out = [], scale = Reveal.getScale();
    if (r.top < frame.top - 1 || r.left < frame.left - 1 || r.bottom > frame.bottom + 1 || r.right > frame.right + 1)
        out.push(`the slide (${Math.round(r.width)}x${Math.round(r.height)}) runs off the frame`);
    if (s.scrollHeight > s.clientHeight + 1 && !['auto', 'scroll'].includes(getComputedStyle(s).overflowY))
        out.push(`content ${s.scrollHeight}px tall in a ${s.clientHeight}px slide that does not scroll`);
    if (s.scrollWidth > s.clientWidth + 1) out.push(`content ${s.scrollWidth}px wide in a ${s.clientWidth}px slide`);
    for (const el of s.querySelectorAll('.jp-Cell, .jp-OutputArea-output, img, .js-plotly-plot, table')) {
        if (el.closest('.jp-OutputArea-output') && !el.matches('.jp-OutputArea-output')) continue;  // scrolls inside
        const e = el.getBoundingClientRect();
        if (e.width && e.right > r.right + 1)
            out.push(`${el.tagName.toLowerCase()}.${el.className} ends ` +
                     `${Math.round((e.right - r.right) / scale)}px right of the slide`);
    }
    const h = s.querySelector('h1, h2, h3');
    return {problems: out, heading: h ? h.textContent.trim().slice(0, 50) : '',
            scrolls: s.scrollHeight > s.clientHeight + 1, code: s.querySelectorAll('.jp-CodeCell').length,
            tables: s.querySelectorAll('.jp-OutputArea-output table').length};
}"""


_AT = "([h, v]) => { const i = Reveal.getIndices(); return i.h === h && (i.v || 0) === v; }"
_STACKS = "Reveal.getHorizontalSlides().map(s => Math.max(1, s.querySelectorAll(':scope > section').length))"


def _outputs(path: Path, mime: str) -> int:
    cells = nbformat.read(path, as_version=4).cells
    return sum(1 for c in cells for o in c.get("outputs", []) if mime in o.get("data", {}))


@pytest.mark.browser
@pytest.mark.parametrize("stem", [p.stem for p in site.notebooks()])
def test_deck_in_the_browser(stem, static_server, new_page, cost):
    """Every deck: the keyboard moves it, every slide fits its frame, plotly draws, Hangul uses the bundled font,
    nothing leaves localhost, no JavaScript error. Notebook 03's deck also gives the README its screenshot."""
    page = new_page(1280, 720)
    console, requests = Console(page), Requests(page)
    started = cost.start()
    page.goto(f"{static_server}/slides/{stem}.slides.html")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    problems = []

    # the keyboard: down into the title's sub-slide, right to the next section, left back
    expected = [("ArrowDown", {"h": 0, "v": 1}), ("ArrowRight", {"h": 1, "v": 0}), ("ArrowRight", {"h": 2, "v": 0}),
                ("ArrowLeft", {"h": 1, "v": 0})]
    page.locator(".reveal").click(position={"x": 5, "y": 5})
    for key, want in expected:
        page.keyboard.press(key)
        try:
            page.wait_for_function(_AT, arg=[want["h"], want["v"]], timeout=5_000)
        except Exception:  # noqa: BLE001 -- reported below
            problems.append(f"after {key} the deck shows {page.evaluate('Reveal.getIndices()')}, expected {want}")

    # every slide: its frame; plotly where a slide has a figure
    page.evaluate("Reveal.configure({transition: 'none'})")
    seen, shot_at = [], None
    for h, n in enumerate(page.evaluate(_STACKS)):
        for v in range(n):
            page.evaluate(f"Reveal.slide({h}, {v})")
            m = page.evaluate(_FRAME)
            seen.append(m)
            problems += [f"slide {h}.{v} ({m['heading']!r}): {p}" for p in m["problems"]]
            if page.locator("section.present .js-plotly-plot").count():
                page.wait_for_timeout(200)  # plotly redraws at the slide's size
                problems += [f"slide {h}.{v}: {p}" for p in plotly_problems(page, "section.present")]
            if shot_at is None and h > 0 and m["code"] and m["tables"]:
                shot_at = (h, v)
    if len(seen) < 5:
        problems.append(f"the deck has only {len(seen)} slides")
    path = next(p for p in site.notebooks() if p.stem == stem)
    figures, drawn = _outputs(path, site.PLOTLY), page.locator(".js-plotly-plot").count()
    if drawn != figures:
        problems.append(f"the notebook has {figures} plotly figure(s), the deck draws {drawn}")

    # the title slide: Hangul in our bundled font
    page.evaluate("Reveal.slide(0, 0)")
    page.evaluate("document.fonts.ready.then(() => true)")  # the bundled font loads on first use
    ko_problems, probes = korean_font_problems(page, "section.present")
    problems += ko_problems
    if not any(BUNDLED_FONT in f for p in probes for f in p["fonts"]):
        problems.append(f"no Hangul on the title slide is drawn with the bundled {BUNDLED_FONT}: {probes}")
    if stem == DECK and shot_at:
        page.evaluate(f"Reveal.slide({shot_at[0]}, {shot_at[1]})")
        page.wait_for_timeout(500)
        _docs_screenshot(page, "slides_deck")
    errors, _ = console.drain(settle_s=0.3)
    problems += errors + [f"request left localhost: {u}" for u in requests.external]
    scroll = sum(m["scrolls"] for m in seen)
    cost.record(f"slides {stem}", started, f"{len(seen)} slides, {scroll} scroll inside their frame")
    print(f"{stem}: {len(seen)} slides ({scroll} scroll inside their frame), {drawn} plotly figure(s); "
          f"fonts {sorted({f for p in probes for f in p['fonts']})}")
    assert not problems, f"deck {stem}:\n  - " + "\n  - ".join(problems)


def _morpheme_only_word(notebook: str) -> str:
    """A two-syllable noun of ``notebook``'s prose that no notebook ever writes as a bare eojeol (only with a
    particle or ending attached): Sphinx's own splitter would not index it, and its search matches words of
    three or more characters by substring only, so finding it needs the Korean-aware index."""
    texts = {p.stem: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == "markdown")
             for p in site.notebooks()}
    bare = {w for t in texts.values() for w in korean_search.WORD.findall(t)}
    nouns = sorted({tok.form for w in set(korean_search.WORD.findall(texts[notebook]))
                    for tok in korean_search.kiwi().tokenize(w)
                    if tok.tag == "NNG" and re.fullmatch(r"[가-힣]{2}", tok.form) and tok.form not in bare})
    assert nouns, f"{notebook}: no two-syllable noun that appears only with a particle attached"
    return nouns[0]


@pytest.mark.browser
def test_site_in_the_browser(static_server, new_page, cost):
    page = new_page(1400, 900)
    console, requests = Console(page), Requests(page)
    started = cost.start()
    problems = []
    paths = site.notebooks()
    deck_nb = next(p for p in paths if p.stem == DECK)

    # a notebook page: navigation in the notebooks' order, local badges, plotly, the widget note, Korean font
    page.goto(f"{static_server}/site/notebooks/{deck_nb.stem}.html")
    page.wait_for_load_state("load")
    titles = [site.title_of(nbformat.read(p, as_version=4), p) for p in paths]
    nav = [t.strip() for t in page.locator("nav.bd-links a, .bd-sidenav a").all_inner_texts()]
    if nav != titles:
        problems.append(f"site navigation {nav} is not the notebooks' order {titles}")
    badges = page.evaluate("""() => Array.from(document.querySelectorAll('article img'))
        .filter(i => /badges|colab|binder/.test(i.getAttribute('src')))
        .map(i => [i.getAttribute('src'), i.naturalWidth])""")
    if len(badges) < 2 or not all(w > 0 for _, w in badges):
        problems.append(f"the Colab/Binder badges are not shown from local files: {badges}")
    page.wait_for_timeout(500)
    if not page.locator("article .js-plotly-plot").count():
        problems.append("the notebook's plotly figure is not on its page")
    problems += plotly_problems(page, "article")
    widgets = _outputs(deck_nb, site.WIDGET)
    if page.locator("article .widget-note").count() != widgets:
        problems.append(f"{widgets} widget output(s) but {page.locator('article .widget-note').count()} notes")
    page.evaluate("document.fonts.ready.then(() => true)")  # the bundled font loads on first use
    ko_problems, probes = korean_font_problems(page, "article")
    problems += ko_problems
    if not any(BUNDLED_FONT in f for p in probes for f in p["fonts"]):
        problems.append(f"no Hangul on the page is drawn with the bundled {BUNDLED_FONT}: {probes[:5]}")
    _docs_screenshot(page, "site_page")

    # search: a word of notebook 03 that only the Korean-aware index holds
    word = _morpheme_only_word(DECK)
    page.goto(f"{static_server}/site/search.html?q={word}")
    try:
        page.wait_for_function("() => document.querySelectorAll('#search-results ul.search li').length > 0",
                               timeout=15_000)
    except Exception:  # noqa: BLE001 -- reported below
        pass
    hits = page.locator("#search-results ul.search li a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    if not any(f"{DECK}.html" in h for h in hits):
        problems.append(f"searching {word!r} (a word of {DECK}) found {hits}")
    errors, _ = console.drain(settle_s=0.3)
    problems += errors + [f"request left localhost: {u}" for u in requests.external]
    cost.record("site: a notebook page and a search", started, f"search {word!r}")
    print(f"site: search {word!r} -> {hits}; fonts {sorted({f for p in probes for f in p['fonts']})}")
    assert not problems, "course site:\n  - " + "\n  - ".join(problems)


def test_built_pages_name_no_cdn(built):
    """No script, style sheet, image or font in a deck or a site page is loaded from another host."""
    remote = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//[^\"']+", re.I)
    css_remote = re.compile(r"(?:@import\s+[\"']?|url\(\s*[\"']?)(?:https?:)?//[^\"')]+", re.I)
    found = []
    pages = [*(built / "slides").glob("*.html"), *(built / "site").rglob("*.html")]
    styles = [*(built / "slides" / "assets").rglob("*.css"), *(built / "site" / "_static").rglob("*.css")]
    for paths, pattern in ((pages, remote), (styles, css_remote)):
        for path in paths:
            text = path.read_text(errors="replace")
            found += [f"{path.relative_to(built)}: {m[0][:120]}" for m in pattern.finditer(text)]
    assert not found, "remote assets:\n" + "\n".join(found)


def test_search_index_is_korean(built):
    index = (built / "site" / "searchindex.js").read_text(encoding="utf-8")
    data = json.loads(index[index.index("(") + 1: index.rindex(")")])
    docs = data["docnames"]
    where: dict[str, set[str]] = {}
    for key in ("terms", "titleterms"):  # a word of a page's title is kept in titleterms only
        for w, v in data[key].items():
            where.setdefault(w, set()).update(docs[i] for i in ([v] if isinstance(v, int) else v))
    # "데이터" is written with particles ("데이터를", "데이터는") and bare; both forms lead to notebook 03
    for word in ("데이터", "데이터를"):
        assert f"notebooks/{DECK}" in where.get(word, set()), f"{word!r} is not indexed for notebook {DECK}"
