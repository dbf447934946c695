"""helpers.plots: Korean text renders with the bundled font, no missing glyphs."""

from __future__ import annotations

import subprocess
import sys
import warnings

from helpers import plots

KOREAN = "공개 언어 모델의 계보와 라이선스 — 한국어 토크나이저 효율 -1.5"


def test_bundled_font_covers_korean_text():
    assert plots.missing_glyphs(KOREAN) == []


def test_default_font_would_miss_hangul():
    """The check above can fail: DejaVu Sans has no Hangul."""
    assert "공" in plots.missing_glyphs(KOREAN, family="DejaVu Sans")


def test_matplotlib_draws_korean_without_glyph_warnings(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = plots.use_korean_font()
    fig, ax = plt.subplots()
    ax.set_title(KOREAN)
    ax.plot([-1, 0, 1], [1, -1, 0])
    ax.set_xlabel("파라미터 수 (십억)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(tmp_path / "k.png")
    plt.close(fig)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    assert matplotlib.rcParams["font.sans-serif"][0] == name
    assert matplotlib.rcParams["axes.unicode_minus"] is False


def test_plotly_template_puts_korean_fonts_first():
    import plotly.graph_objects as go

    fig = plots.korean_layout(go.Figure(go.Bar(x=["한국어"], y=[1])), title="제목")
    family = fig.layout.template.layout.font.family
    assert family.split(",")[0].strip() in {"NanumGothic", "NanumSquare"}
    assert fig.layout.title.text == "제목"


def test_setup_sets_the_renderer_without_importing_plotly_renderers():
    """plotly's renderers import nbformat (about a second): setup() leaves that to the first figure."""
    code = ("import os, sys; os.environ.pop('PLOTLY_RENDERER', None); from helpers import plots; plots.setup(); "
            "print('plotly.io._renderers' in sys.modules); import plotly.io as pio; "
            "print(pio.renderers.default, pio.templates.default)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "plotly_mimetype", plots.TEMPLATE]


def test_setup_after_plotly_rendered_sets_the_renderer_directly(monkeypatch):
    import plotly.io as pio

    monkeypatch.delenv("PLOTLY_RENDERER", raising=False)
    pio.renderers.default = "json"
    plots.setup()
    assert pio.renderers.default == "plotly_mimetype" and pio.templates.default == plots.TEMPLATE
