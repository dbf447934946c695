"""The repository address lives in pyproject.toml only; notebooks and README follow it (survey_tools.links)."""

from __future__ import annotations

import shutil

import nbformat

from survey_tools import links


def test_notebooks_and_readme_use_the_address_in_pyproject():
    assert links.run(check=True) == [], "run `make links` after changing [project.urls] Repository"


def test_a_fork_changes_every_badge_and_the_colab_setup(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(links.ROOT / name, tmp_path / name)
    (tmp_path / "notebooks").mkdir()
    first = links.files()[1]
    shutil.copy(first, tmp_path / "notebooks" / first.name)
    toml = tmp_path / "pyproject.toml"
    toml.write_text(toml.read_text().replace('Repository = "https://github.com/open-llm-survey/open-llm-survey"',
                                             'Repository = "https://github.com/some-lecturer/llm-class"'))
    assert links.run(tmp_path, check=True)  # now out of date
    links.run(tmp_path)
    assert links.run(tmp_path, check=True) == []
    text = "\n".join(c.source for c in nbformat.read(tmp_path / "notebooks" / first.name, as_version=4).cells)
    text += (tmp_path / "README.md").read_text()
    assert "open-llm-survey/open-llm-survey" not in text and "/content/open-llm-survey" not in text
    assert f"colab.research.google.com/github/some-lecturer/llm-class/blob/main/notebooks/{first.name}" in text
    assert f"mybinder.org/v2/gh/some-lecturer/llm-class/main?urlpath=lab/tree/notebooks/{first.name}" in text
    assert "git clone -q --depth 1 -b main https://github.com/some-lecturer/llm-class /content/llm-class" in text
    assert 'sys.path.insert(0, "/content/llm-class/src")' in text
