# flair_qgis: every task a developer or CI runs. `make test` and `make demo` set everything up
# themselves (system QGIS, a virtual environment that sees it, all Python dependencies).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PY := .venv/bin/python
# Headless Qt for every QGIS the tests start.
export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1
# The checkout's own packages first, whichever checkout built the shared environment.
export PYTHONPATH := $(CURDIR):$(CURDIR)/training

.PHONY: translations help env lint format test test-qgis-newer test-fast package demo demo-train demo-bundle bench screenshots clean

help:
	@echo "make test         set up (QGIS, virtual environment) then lint and run every test"
	@echo "make test-qgis-newer  the plugin's QGIS tests on QGIS 3.40 and 3.44 only"
	@echo "make demo         set up, then run the main job (Processing, styled map) on a synthetic scene"
	@echo "make demo-train   the same, training its own model first (synthetic data, quick preset, export)"
	@echo "make demo-bundle  build the demo's model bundle once (cached in ~/.cache/flair_qgis)"
	@echo "make package      build dist/flair_qgis-<version>.zip for QGIS's plugin manager"
	@echo "make bench        run the benchmarks and write bench/RESULTS.md"
	@echo "make screenshots  capture the dialog and a styled result in a real QGIS window"
	@echo "make format       format the code with ruff"
	@echo "make translations add new strings to the French .ts and build the .qm (Qt's lrelease)"

# Builds or reuses the environment (scripts/setup-env.sh) and points .venv at it.
# qgis-pyqt5to6 (the Qt6 check) declares Python >= 3.12 and pip skips it on Debian 12's 3.11, where it
# runs as it is: it is added there without that check, at the pin tests/requirements.txt gives.
PYQT5TO6 = $$(sed -n 's/^\(qgis-pyqt5to6==[^ ;]*\).*/\1/p' tests/requirements.txt)

env:
	@venv="$$(scripts/setup-env.sh)"; ln -sfn "$$venv" .venv
	@$(PY) -c 'import pyqt5to6' 2>/dev/null || $(PY) -m pip install -q --no-input --disable-pip-version-check \
		--no-deps --ignore-requires-python "$(PYQT5TO6)"

lint: env
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: env
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# pytest-qgis keeps QGIS's settings in .qgis-settings/: start each run from none, as a fresh clone does.
# Then the plugin's real-QGIS tests again on QGIS 3.40 and 3.44 (Debian 13 root filesystems).
test: lint
	rm -rf .qgis-settings
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-qgis-newer

# The plugin's tests that run in a real QGIS: loading, dialog, runs, Processing, qgis_process, installer.
QGIS_TESTS := tests/plugin tests/test_plugin_load.py tests/test_qgis_process.py
QGIS_RELEASES := 3.40 3.44

test-qgis-newer:
	@for release in $(QGIS_RELEASES); do \
		echo "== the plugin's QGIS tests on QGIS $$release (Debian 13)"; \
		scripts/qgis-rootfs.sh test $$release $(QGIS_TESTS) -q || exit 1; \
	done

# The tests without the slow ones (training runs, large areas), for quick iterations.
test-fast: env
	rm -rf .qgis-settings
	$(PY) -m pytest -m "not slow"

package: env
	$(PY) scripts/package.py zip

demo: env
	$(PY) scripts/demo.py

demo-train: env
	$(PY) scripts/demo.py --train

demo-bundle: env
	$(PY) scripts/build_demo_bundle.py

bench: env
	$(PY) -m bench.run

screenshots: env
	$(PY) scripts/screenshots.py

translations: env
	$(PY) scripts/translations.py update
	$(PY) scripts/translations.py compile

clean:
	rm -rf dist build .pytest_cache .ruff_cache demo_output
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
