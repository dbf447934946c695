"""What the browser tests look at, shared by the JupyterLab and the Voilà tests.

Each ``*_problems`` function returns a list of human-readable problems (empty: all good), so one
test can report every problem of a page at once instead of stopping at the first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

from interactions import Interaction, NoWidgets, Step

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOTS = REPO / "build" / "screenshots"


def notebook_ids() -> list[str]:
    """Every notebook the Lab test opens: notebooks/*.ipynb, so new notebooks are covered without edits."""
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


# Text that a student must never see once a page has settled.
PLACEHOLDERS = (
    "Loading widget...",              # widget view never rendered
    "Error displaying widget",        # ipywidgets front-end failed
    "Click to show javascript error",  # Voilà: widget manager failed
    "Loading ITables",                # itables never loaded its JavaScript (e.g. a CDN offline)
)
# The text/plain repr of a widget shows when no widget manager renders it.
WIDGET_REPR = re.compile(r"\b(VBox|HBox|Box|Dropdown|SelectMultiple|Output|IntSlider|FloatSlider|Button|Tab)\("
                         r"(children|value|options|description|layout|outputs)=")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Families that carry Hangul; the machine's own list (fontconfig) is added at run time.
KOREAN_FAMILY = re.compile(r"nanum|noto (sans|serif) (cjk|kr)|source han|malgun|apple sd gothic|un ?(batang|dotum)|"
                           r"baekmuk|gulim|dotum|batang|d2coding", re.I)

# Plotly marks that show data: markers, lines, bars, pie slices, heatmap images, text points.
PLOTLY_MARKS = ("g.trace path.point, g.trace path.js-line, g.trace.bars path, g.bars path, g.slice path.surface, "
                "g.trace image, g.hm image, g.textpoint text, g.trace .textpoint")


# Uncaught page errors that are known, understood and harmless; anything else fails the page.
KNOWN_PAGE_ERRORS = (
    # itables 2.9.1 offline mode (init_notebook_mode(connected=False)): its dark-mode helper script is
    # displayed *before* the bundle that defines window._itables_2_9_1, so it destructures undefined.
    # Only the dark-theme class is affected; tables render (checked: no "Loading ITables", interactions).
    "Cannot destructure property 'set_or_remove_dark_class'",
)


def local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or url.startswith(("data:", "blob:", "about:"))


class Console:
    """Collects console errors, uncaught page errors and failed requests of one page."""

    def __init__(self, page, allow_page_errors: tuple[str, ...] = ()):
        self.errors: list[str] = []
        self.external: list[str] = []
        self.allow = tuple(allow_page_errors) + KNOWN_PAGE_ERRORS
        page.on("console", self._console)
        page.on("pageerror", self._pageerror)
        page.on("requestfailed", self._requestfailed)

    def _console(self, msg):
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if msg.text.startswith("Failed to load resource") and url and not local(url):
            return  # an external resource offline: recorded by _requestfailed
        self.errors.append(f"console.error: {msg.text[:400]} ({url})")

    def _pageerror(self, err):
        text = str(err)
        if any(a in text for a in self.allow):
            return
        self.errors.append(f"uncaught JavaScript error: {text[:400]}")

    def _requestfailed(self, request):
        if local(request.url):
            self.errors.append(f"request failed: {request.url[:200]} ({request.failure})")
        else:
            self.external.append(request.url)

    def drain(self, settle_s: float = 0.0) -> tuple[list[str], list[str]]:
        """Errors and external requests collected so far (after ``settle_s`` for late ones); then forget them."""
        if settle_s:
            time.sleep(settle_s)
        errors, external = self.errors, self.external
        self.errors, self.external = [], []
        return errors, external


# --------------------------------------------------------------------------- page content


def placeholder_problems(page, root: str) -> list[str]:
    text = page.locator(root).first.inner_text()
    out = [f"the page still shows {p!r}" for p in PLACEHOLDERS if p in text]
    for m in WIDGET_REPR.finditer(text):
        out.append(f"a widget is shown as text (no widget manager?): {text[m.start():m.start() + 80]!r}")
        break
    return out


def wait_placeholders_gone(page, root: str, timeout_s: float = 30) -> None:
    """Wait (polling in the page) until no transient placeholder is shown; the checks report what remains."""
    transient = [p for p in PLACEHOLDERS if p.startswith("Loading")]
    try:
        page.wait_for_function(
            """([root, texts]) => { const el = document.querySelector(root);
                                    return !!el && !texts.some(t => el.innerText.includes(t)); }""",
            arg=[root, transient], timeout=timeout_s * 1000, polling=250)
    except Exception:  # noqa: BLE001 -- a timeout here is reported by placeholder_problems
        pass


def plotly_problems(page, root: str) -> list[str]:
    """Every plotly figure has an SVG with at least one data mark."""
    found = page.evaluate(
        """([root, marks]) => Array.from(document.querySelectorAll(root + ' .js-plotly-plot')).map((el, i) => ({
            i, svg: el.querySelectorAll('svg.main-svg').length, marks: el.querySelectorAll(marks).length,
            title: (el.querySelector('.gtitle') || {}).textContent || ''}))""", [root, PLOTLY_MARKS])
    out = []
    for f in found:
        if not f["svg"]:
            out.append(f"plotly figure #{f['i']} ({f['title']!r}) has no SVG")
        elif not f["marks"]:
            out.append(f"plotly figure #{f['i']} ({f['title']!r}) draws no data points")
    return out


def count_plotly(page, root: str) -> int:
    return page.locator(f"{root} .js-plotly-plot").count()


def korean_families() -> set[str]:
    """Font families on this machine that cover Korean (fontconfig), lower-cased."""
    if not shutil.which("fc-list"):
        return set()
    out = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True, check=False).stdout
    return {name.strip().lower() for line in out.splitlines() for name in line.split(",") if name.strip()}


def korean_font_problems(page, root: str, max_probes: int = 40) -> tuple[list[str], list[dict]]:
    """Text with Hangul is drawn with a Korean-capable font, as Chromium itself reports.

    The DevTools call ``CSS.getPlatformFontsForNode`` names the fonts Chromium actually used for a
    node's glyphs (after fallback); tofu boxes come from a font without Hangul. Probes: plotly SVG text,
    table cells, widget labels and outputs, markdown headings and paragraphs.
    """
    page.wait_for_timeout(500)  # let plotly finish its relayout
    n = page.evaluate(
        """([root, max]) => {
            const sel = ['.js-plotly-plot text', 'table th', 'table td', '.widget-label', '.widget-output pre',
                         '.jp-RenderedText pre', '.jp-RenderedMarkdown h1', '.jp-RenderedMarkdown p', 'select option'];
            const hangul = /[\\uac00-\\ud7a3]/;
            let k = 0;
            const texts = [];
            for (const s of sel) {
                let per = 0;
                for (const el of document.querySelectorAll(root + ' ' + s)) {
                    const own = Array.from(el.childNodes).filter(c => c.nodeType === 3)
                                       .map(c => c.textContent).join('');
                    if (!hangul.test(own) || el.getClientRects().length === 0) continue;
                    el.setAttribute('data-ko-probe', String(k++));
                    texts.push(own.trim().slice(0, 40));
                    if (++per >= 6 || k >= max) break;
                }
                if (k >= max) break;
            }
            return texts; }""", [root, max_probes])
    families = korean_families()
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        doc = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        probes, problems = [], []
        for k, text in enumerate(n):
            node = cdp.send("DOM.querySelector", {"nodeId": doc, "selector": f'[data-ko-probe="{k}"]'})["nodeId"]
            if not node:  # re-rendered since (plotly redraws its text on relayout)
                continue
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            names = [f["familyName"] for f in fonts if f.get("glyphCount", 0) > 0]
            ok = any(KOREAN_FAMILY.search(nm) or nm.lower() in families for nm in names)
            probes.append({"text": text, "fonts": names, "korean": ok})
            if not ok:
                problems.append(f"Hangul text {text!r} drawn with {names or 'no font'} (no Korean font: tofu)")
        if not probes:
            problems.append("no Hangul text found to check (the notebooks' prose and labels are Korean)")
        return problems, probes
    finally:
        cdp.detach()


# --------------------------------------------------------------------------- interactions


def _widget_scope(page, root: str, label: str, is_button: bool):
    """The outermost widget (inside ``root``) holding the control labelled ``label``; marks and returns it."""
    found = page.evaluate(
        """([root, label, isButton]) => {
            for (const e of document.querySelectorAll('[data-interaction-scope]')) {
                e.removeAttribute('data-interaction-scope');
            }
            const cands = isButton ? document.querySelectorAll(root + ' button')
                                   : document.querySelectorAll(root + ' .widget-label, ' + root + ' label');
            for (const el of cands) {
                if (el.textContent.trim() !== label) continue;
                let top = el.closest('.jupyter-widgets'), up = top;
                while (up && up.parentElement) {
                    up = up.parentElement.closest('.jupyter-widgets');
                    if (up) top = up;
                }
                if (top) { top.setAttribute('data-interaction-scope', '1'); return true; }
            }
            return false; }""", [root, label, is_button])
    return page.locator("[data-interaction-scope]") if found else None


def _control(scope, step: Step):
    box = scope.locator(".widget-inline-hbox, .widget-hbox, .jupyter-widgets").filter(
        has=scope.page.locator(f'label:text-is("{step.target}")')).last
    return box


def run_step(scope, step: Step) -> None:
    if step.action == "click":
        scope.get_by_role("button", name=step.target, exact=True).first.click()
        return
    box = _control(scope, step)
    if step.action == "select":
        box.locator("select").first.select_option(label=list(step.values))
    elif step.action == "fill":
        box.locator("input, textarea").first.fill(step.values[0])
        box.locator("input, textarea").first.press("Enter")
    elif step.action == "press":
        key, times = step.values
        target = box.locator(".noUi-handle, input, select, button").first
        target.focus()
        for _ in range(times):
            target.press(key)


def _measure(scope, inter: Interaction):
    watched = scope.locator(inter.watch)
    if inter.expect == "text":
        return " | ".join(t.strip() for t in watched.all_inner_texts())
    return watched.count()


def interaction_problems(page, root: str, inter: Interaction | NoWidgets, timeout_s: float = 20) -> list[str]:
    """Do the notebook's declared interaction and check that the page changed as declared."""
    if isinstance(inter, NoWidgets):
        n = page.locator(f"{root} .jupyter-widgets").count()
        return [f"declared NoWidgets ({inter.why}) but the page shows {n} widget element(s)"] if n else []
    first = inter.steps[0]
    scope = _widget_scope(page, root, first.target, first.action == "click")
    if scope is None:
        return [f"interaction {inter.does!r}: no widget with a control labelled {first.target!r} on the page"]
    before = _measure(scope, inter)
    if inter.expect in ("fewer", "more") and not before:
        return [f"interaction {inter.does!r}: {inter.watch!r} matches nothing before the interaction"]
    try:
        for step in inter.steps:
            run_step(scope, step)
    except Exception as exc:  # a control missing or not operable: report, do not crash the page checks
        return [f"interaction {inter.does!r}: step {step} failed: {str(exc).splitlines()[0]}"]
    deadline = time.monotonic() + timeout_s
    after = before
    while time.monotonic() < deadline:
        after = _measure(scope, inter)
        changed = {"text": after != before and bool(after),
                   "fewer": 0 < after < before if isinstance(after, int) else False,
                   "more": after > before if isinstance(after, int) else False}[inter.expect]
        if changed and (inter.contains is None or re.search(inter.contains, str(after))):
            return []
        time.sleep(0.3)
    return [f"interaction {inter.does!r}: {inter.watch!r} did not change as expected ({inter.expect}"
            f"{', matching ' + repr(inter.contains) if inter.contains else ''}); before: {str(before)[:200]!r}, "
            f"after: {str(after)[:200]!r}"]


# --------------------------------------------------------------------------- screenshots


def full_screenshot(page, path: Path, scroller: str, width: int = 1400, max_height: int = 16000) -> Path:
    """Screenshot the whole of a scrolling element's content (a Lab notebook, a Voilà page).

    The viewport grows until the scroller's content fits without scrolling, the scroller goes back
    to the top, and the page is shot; the viewport is restored afterwards. A blank shot (Lab keeps
    its own scroll position and re-scrolls to the active cell after Run All) is avoided by making
    the first cell active before scrolling to the top.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    old = page.viewport_size
    # of the comma-separated candidates, the element whose content is tallest is the one that scrolls
    pick = """const els = sel.split(',').map(s => document.querySelector(s.trim())).filter(Boolean);
        const el = els.sort((a, b) => b.scrollHeight - a.scrollHeight)[0] || document.scrollingElement;"""
    measure = """(sel) => { """ + pick + """
        const top = el === document.scrollingElement ? 0 : el.getBoundingClientRect().top;
        return {top, content: el.scrollHeight, client: el.clientHeight, scrollTop: el.scrollTop}; }"""
    m = page.evaluate(measure, scroller)
    height = int(min(max(m["top"] + m["content"] + 40, old["height"]), max_height))
    page.set_viewport_size({"width": width, "height": height})
    page.evaluate(
        """(sel) => new Promise(done => {
            const app = window.jupyterapp, panel = app && app.shell.currentWidget;
            if (panel && panel.content && 'activeCellIndex' in panel.content) {
                panel.content.activeCellIndex = 0; panel.content.deselectAll(); }
            """ + pick + """
            if (el) el.scrollTop = 0;
            window.scrollTo(0, 0);
            requestAnimationFrame(() => requestAnimationFrame(() => { if (el) el.scrollTop = 0; done(); }));
        })""", scroller)
    page.wait_for_timeout(200)  # plotly relayouts on resize
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(old)
    return path
