# Veloweb: `make run` starts the dashboard, `make test` runs ruff, mypy and the test suite.
# Both create .venv and install requirements.txt first (again only when requirements.txt changes).

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test lint typecheck pytest venv chromium assets clean

run: venv assets
	$(VPY) manage.py run_dashboard

test: venv assets chromium lint typecheck pytest

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the Python packages of requirements.txt into $(VENV) (about a minute on a fresh machine)..."
	$(VPY) -m pip install --disable-pip-version-check --progress-bar on -r requirements.txt
	@touch $@

# Front-end libraries from npm (package-lock.json), copied into static/vendor/ (gitignored):
# served by Django like our own static files, so nothing is fetched from a CDN at run time.
VENDOR := static/vendor
assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/cytoscape/dist/cytoscape.min.js node_modules/dagre/dist/dagre.min.js \
		node_modules/cytoscape-dagre/cytoscape-dagre.js $(VENDOR)/
	@touch $@

lint: venv
	$(VENV)/bin/ruff check .

# The plain-Python layers (backups/engine, backups/kube) are type-checked; see [tool.mypy] in pyproject.toml.
typecheck: venv
	$(VENV)/bin/mypy

# pytest exits 5 when it collects no test: not a failure for us.
pytest: venv
	@$(VPY) -m pytest $(PYTEST_ARGS) tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

# Browser tests drive Debian's chromium: install it when missing, if we are root with apt-get.
chromium:
	@if [ -x /usr/bin/chromium ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests…"; \
		( apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ) \
			|| echo "WARNING: apt-get could not install chromium; browser tests will be skipped."; \
	else \
		echo "WARNING: /usr/bin/chromium is missing and apt-get is not usable (not root?);" \
			"browser tests will be skipped. Install it with: sudo apt-get install chromium"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
