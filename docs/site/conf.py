"""Sphinx configuration of the course site. Build it with `make site` (python -m survey_tools.site build), which
stages the sources (the notebooks as committed, prepared for the web, and the README as the front page) in
build/site_src/ and writes build/site/. Nothing is executed and nothing is fetched from a CDN."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # korean_search.py

from survey_tools.links import repository  # noqa: E402
from survey_tools.site import BUILD, DOLLARMATH_ALLOW_DIGITS  # noqa: E402

OWNER, NAME, BRANCH = repository()
project = "open-llm-survey"
author = "open-llm-survey contributors"
copyright = "open-llm-survey contributors; code Apache-2.0, our data CC BY 4.0"
language = "ko"

extensions = ["myst_nb", "korean_search"]
exclude_patterns = ["**.ipynb_checkpoints"]

# myst-nb: show the committed outputs (the tiny-profile run); never execute
nb_execution_mode = "off"
nb_ipywidgets_js = {}          # no require.js / widget manager from a CDN; live widgets become a note
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
myst_dmath_allow_digits = DOLLARMATH_ALLOW_DIGITS  # the slides' markdown follows the same rule
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]  # none expected (survey_tools.site.prepare converts them)

# MathJax and plotly.js from build/site_static/ (pinned npm / PyPI packages), fonts ours
html_static_path = ["_static", str(BUILD / "site_static")]
mathjax_path = "mathjax/es5/tex-svg.js"
html_css_files = ["fonts.css", "course.css"]
html_favicon = "_static/favicon.svg"

html_theme = "sphinx_book_theme"
html_title = "open-llm-survey: 공개 LLM 서베이 노트북"
html_search_language = "ko"    # korean_search.SearchKorean
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # pydata-sphinx-theme logs an error when no mode is set
html_theme_options = {
    "repository_url": f"https://github.com/{OWNER}/{NAME}",
    "repository_branch": BRANCH,
    "path_to_docs": "",          # build/site_src/notebooks/ mirrors the repository's notebooks/
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
