"""Korean-safe charts: matplotlib and plotly, online or offline.

``setup()`` (called once in every notebook's setup cell) registers the OFL font that ships in ``data/fonts/``
directly with matplotlib (no system font, no font-cache rebuild needed), fixes the minus sign, and sets a plotly
template whose font stack starts with Korean fonts and a renderer that works in JupyterLab, Voilà and Colab
without inlining plotly.js into the notebook.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

from . import env

FONT_FILE = "NanumSquareR.ttf"
# Browsers use the first family they have: system Korean fonts first, ours (NanumSquare) via Debian's
# fonts-nanum / Binder's apt.txt, then the platform's own Korean fonts.
WEB_FONTS = "NanumGothic, NanumSquare, 'Noto Sans KR', 'Noto Sans CJK KR', 'Malgun Gothic', " \
            "'Apple SD Gothic Neo', sans-serif"
TEMPLATE = "survey"


@lru_cache(maxsize=1)
def korean_font() -> str:
    """Register the bundled Korean font with matplotlib; return its family name."""
    from matplotlib import font_manager

    path = env.data_path("fonts", FONT_FILE)
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def use_korean_font() -> str:
    """Make matplotlib draw Hangul (and a proper minus sign); return the family used."""
    import matplotlib as mpl

    name = korean_font()
    mpl.rcParams["font.family"] = "sans-serif"
    mpl.rcParams["font.sans-serif"] = [name] + [f for f in mpl.rcParams["font.sans-serif"] if f != name]
    mpl.rcParams["axes.unicode_minus"] = False
    return name


def missing_glyphs(text: str, family: str | None = None) -> list[str]:
    """Characters of ``text`` that the matplotlib font ``family`` (default: ours) cannot draw."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family=family or korean_font()),
                                 fallback_to_default=False)
    charmap = FT2Font(path).get_charmap()
    return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in charmap})


def plotly_template():
    """A plotly template with a Korean-first font stack, registered as ``survey``."""
    import plotly.graph_objects as go
    import plotly.io as pio

    if TEMPLATE not in pio.templates:
        tmpl = go.layout.Template(pio.templates["plotly_white"])
        tmpl.layout.font = {"family": WEB_FONTS, "size": 13}
        tmpl.layout.margin = {"l": 60, "r": 20, "t": 60, "b": 50}
        pio.templates[TEMPLATE] = tmpl
    return pio.templates[TEMPLATE]


def korean_layout(fig, **layout):
    """Apply the Korean-safe template (and any layout keywords) to a plotly figure; returns it."""
    return fig.update_layout(template=plotly_template(), **layout)


def setup() -> None:
    """Korean fonts for matplotlib and plotly, and a plotly renderer that fits where we run. The renderer goes
    through plotly's own ``PLOTLY_RENDERER`` variable while plotly has not rendered yet: importing its renderers
    costs about a second (they import nbformat), which a notebook without plotly figures need not pay. Outside
    Colab the default is the MIME bundle: JupyterLab, Voilà and VS Code render it, with no 5 MB of plotly.js
    inlined into the notebook."""
    import plotly.io as pio

    use_korean_font()
    plotly_template()
    pio.templates.default = TEMPLATE
    renderer = "colab" if env.runtime() == "colab" else os.environ.get("PLOTLY_RENDERER", "plotly_mimetype")
    if "plotly.io._renderers" in sys.modules:
        pio.renderers.default = renderer
    else:
        os.environ["PLOTLY_RENDERER"] = renderer


@lru_cache(maxsize=1)
def interactive_tables() -> None:
    """Load itables' DataTables library once per kernel: from the CDN on Colab, else offline (CI, Binder without
    internet, a classroom behind a firewall): the library ships inside the itables package and is embedded once
    into the notebook's output (~0.7 MB), so tables work with no network. Call it before the first
    ``itables.show``; later calls do nothing (cached)."""
    import itables

    itables.init_notebook_mode(all_interactive=False, connected=env.runtime() == "colab")
