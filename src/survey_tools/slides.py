"""A reveal.js slide deck from every notebook (``make slides``): ``build/slides/NN_name.slides.html``.

    python -m survey_tools.slides                    # every notebook, code shown small
    python -m survey_tools.slides 03 --code hidden   # one deck, outputs only

Built with nbconvert's slides exporter from the notebooks' committed outputs (nothing is executed), through
a small template of ours (``docs/site/slides/survey_reveal/``) that loads reveal.js, MathJax, plotly.js and the
Korean font from ``build/slides/assets/`` (pinned packages, see :mod:`survey_tools.site`); no CDN.

Slides come from the headings at export time, so nobody keeps slide metadata by hand:

- a title slide: the notebook's title, its Colab/Binder badges and its learning goals (``**학습 목표**``
  and the list under it); the rest of the first cell (purpose, runtime table) is the sub-slide below it;
- one slide per ``##`` section and a sub-slide (reveal's down arrow) per ``###``; a markdown cell with
  several headings is split at each;
- the setup cell (the first code cell: Colab installs, the environment report) is left out.

Code cells: ``small`` (default), ``hidden`` (outputs only) or ``shown``; a notebook chooses with
``"open_llm_survey": {"slides": {"code": "hidden"}}`` in its metadata, and ``--code`` overrides every
notebook. A slide taller than the frame scrolls inside it; long outputs and tables scroll inside their box.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from functools import lru_cache
from html import escape as escape_html
from pathlib import Path

from survey_tools import site
from survey_tools.site import BUILD, SITE_CONF, SiteError

CODE_MODES = ("small", "hidden", "shown")
TEMPLATE_DIR = SITE_CONF / "slides"
OUT = BUILD / "slides"
GOALS = "**학습 목표**"
SLIDE_SIZE = (1280, 720)


def _markdown_cell(source: str):
    import nbformat

    return nbformat.v4.new_markdown_cell(source)


def _blocks(source: str):
    """Top-level markdown blocks as (kind, first line, end line), from markdown-it's token map."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    return [(t.tag if t.type == "heading_open" else t.type.removesuffix("_open"), *t.map) for t in tokens
            if t.level == 0 and t.nesting >= 0 and t.map is not None]


def split_at_headings(source: str) -> list[str]:
    """A markdown cell cut before each ``##``/``###`` heading that does not start it (code fences respected)."""
    lines = source.splitlines(keepends=True)
    cuts = [start for kind, start, _ in _blocks(source) if kind in ("h2", "h3") and start > 0]
    bounds = [0, *cuts, len(lines)]
    return ["".join(lines[a:b]).strip("\n") for a, b in zip(bounds, bounds[1:]) if "".join(lines[a:b]).strip()]


def title_slide(source: str, where: str) -> tuple[str, str]:
    """The first cell as (title slide: title, badges, learning goals; the rest: purpose, runtime table)."""
    lines = source.splitlines(keepends=True)
    blocks = _blocks(source)
    h1 = next((b for b in blocks if b[0] == "h1"), None)
    goals = next((i for i, b in enumerate(blocks) if "".join(lines[b[1]:b[2]]).strip() == GOALS), None)
    if h1 is None or goals is None or goals + 1 >= len(blocks) or "list" not in blocks[goals + 1][0]:
        raise SiteError(f"{where}: expected the notebook's `# title` and its learning goals ({GOALS!r} and a list "
                        "under it), as CONTRIBUTING's 'Add a notebook' describes")
    keep = {h1, blocks[goals], blocks[goals + 1]}
    after_h1 = blocks[blocks.index(h1) + 1] if blocks.index(h1) + 1 < len(blocks) else None
    if after_h1 and after_h1[0] == "paragraph" and "![" in "".join(lines[after_h1[1]:after_h1[2]]):
        keep.add(after_h1)  # the badges
    title = "\n\n".join("".join(lines[b[1]:b[2]]).strip() for b in blocks if b in keep)
    rest = "\n\n".join("".join(lines[b[1]:b[2]]).strip() for b in blocks if b not in keep)
    return title, rest


def slide_cells(nb, path: Path):
    """Give every cell its reveal.js slide type, derived from the headings (see the module docstring)."""
    first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), None)
    if first_md is None:
        raise SiteError(f"{path}: no markdown cell, so no title slide")
    cells = []
    setup_skipped = False
    heading = site.title_of(nb, path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and i == first_md:
            title, rest = title_slide(cell.source, f"{path}: cell {i}")
            cells.append(_slide(_markdown_cell(title), "slide", {"state": "title-slide"}))
            if rest:
                cells.append(_slide(_markdown_cell(rest), "subslide"))
        elif cell.cell_type == "markdown":
            for part in split_at_headings(cell.source):
                kind = "slide" if part.startswith("## ") else "subslide" if part.startswith("### ") else "-"
                if kind != "-":
                    heading = part.splitlines()[0].lstrip("#").strip().replace("`", "")
                piece = _markdown_cell(part)
                piece.attachments = cell.get("attachments", {})
                cells.append(_slide(piece, kind))
        elif cell.cell_type == "code" and not setup_skipped:
            setup_skipped = True
            cells.append(_slide(cell, "skip"))
        else:
            for out in cell.get("outputs", []):  # a figure's alt text: the section it illustrates
                if "image/png" in out.get("data", {}):
                    out.setdefault("metadata", {}).setdefault("image/png", {}).setdefault("alt", f"그림: {heading}")
            cells.append(_slide(cell, "-"))
    nb.cells = cells
    return nb


def _slide(cell, kind: str, data: dict | None = None):
    cell.metadata["slideshow"] = {"slide_type": kind, **({"data": data} if data else {})}
    return cell


def code_mode(nb, path: Path, override: str | None) -> str:
    """``--code`` if given, else the notebook's ``open_llm_survey.slides.code``, else ``small``."""
    if override:
        return override
    mode = nb.metadata.get("open_llm_survey", {}).get("slides", {}).get("code", "small")
    if mode not in CODE_MODES:
        raise SiteError(f"{path}: notebook metadata, field 'open_llm_survey.slides.code': expected one of "
                        f"{list(CODE_MODES)}, got {mode!r}")
    return mode


@lru_cache(maxsize=1)
def _markdown_it():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    def math(content: str, options: dict) -> str:  # inside the plugin's own span.math.inline / div.math.block
        tex = escape_html(content)
        return f"\\[{tex}\\]" if options.get("display_mode") else f"\\({tex}\\)"

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return md.use(dollarmath_plugin, allow_digits=site.DOLLARMATH_ALLOW_DIGITS, renderer=math)


def markdown_html(source: str) -> str:
    """A markdown cell as the course site reads it (markdown-it-py with MyST's dollar-math rules, not nbconvert's
    mistune): math is marked up as ``\\( \\)``/``\\[ \\]`` in ``.math`` elements, the only ones MathJax typesets
    in a deck, so a "$" of money stays text on the slide as on the site."""
    return _markdown_it().render(source)


def exporter(code: str):
    from jinja2 import pass_context
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    class Exporter(SlidesExporter):
        @pass_context
        def markdown2html(self, context, source):
            return markdown_html(source)

    width, height = SLIDE_SIZE
    c = Config()
    c.SlidesExporter.template_name = "survey_reveal"
    c.SlidesExporter.extra_template_basedirs = [str(TEMPLATE_DIR)]
    c.SlidesExporter.reveal_width, c.SlidesExporter.reveal_height = str(width), str(height)
    c.SlidesExporter.reveal_transition = "slide"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.exclude_input = code == "hidden"
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.SlidesExporter.anchor_link_text = ""
    return Exporter(config=c)


def export(path: Path, out: Path = OUT, code: str | None = None) -> tuple[Path, str]:
    """One notebook's deck, written to ``out/<stem>.slides.html``; that path and the notebook's title."""
    nb = site.prepare(path, badge_dir="assets/badges/", plotly_src="assets/plotly.min.js", plotly_height="430px")
    mode = code_mode(nb, path, code)
    title = site.title_of(nb, path)
    nb = slide_cells(nb, path)
    body, _ = exporter(mode).from_notebook_node(nb, resources={"metadata": {"name": title},
                                                               "slides": {"code": mode}})
    dest = out / f"{path.stem}.slides.html"
    site.write_if_changed(dest, body)
    return dest, title


def copy_assets(out: Path = OUT) -> Path:
    """reveal.js, MathJax, plotly.js, the font, badges and the deck CSS into ``out/assets/``."""
    dest = out / "assets"
    found = site.copy_web_assets(dest)
    for f in ("dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme/white.css", "LICENSE"):
        site.copy_if_changed(found["reveal.js"] / f, dest / "reveal.js" / f)
    site.copy_if_changed(site.BADGE_DIR, dest / "badges")
    site.copy_if_changed(SITE_CONF / "_static" / "favicon.svg", dest / "favicon.svg")
    site.copy_if_changed(SITE_CONF / "_static" / "fonts.css", dest / "fonts.css")
    site.copy_if_changed(TEMPLATE_DIR / "slides.css", dest / "slides.css")
    return dest


def index_page(decks: list[tuple[Path, str]]) -> str:
    items = "\n".join(f'<li><a href="{d.name}">{html.escape(t)}</a></li>' for d, t in decks)
    return f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>open-llm-survey 슬라이드</title>
<link rel="icon" href="assets/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="assets/fonts.css">
<link rel="stylesheet" href="assets/slides.css">
</head><body class="deck-index"><h1>open-llm-survey 슬라이드 (slides)</h1>
<p>노트북마다 한 벌씩: 오른쪽 화살표(→)는 다음 절(section), 아래 화살표(↓)는 절 안의 다음 장, Esc는 전체 보기입니다.</p>
<ol>
{items}
</ol></body></html>
"""


def build(names: list[str] | None = None, out: Path = OUT, code: str | None = None) -> list[Path]:
    copy_assets(out)
    decks = [export(p, out, code) for p in site.notebooks(names)]
    if not names:
        site.write_if_changed(out / "index.html", index_page(decks))
        (out / "index.html").touch()  # the build's time, even where no deck changed
    return [d for d, _ in decks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.slides", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="parts of notebook file names (default: all)")
    parser.add_argument("--code", choices=CODE_MODES, help="code cells in every deck (default: each notebook's "
                        "metadata open_llm_survey.slides.code, else small)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        decks = build(args.names, args.out, args.code)
    except SiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"slides: {len(decks)} deck(s) in {args.out} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
