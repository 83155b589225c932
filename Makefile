# Two commands set up a fresh machine (Debian/Ubuntu, Python 3.11):
#   make demo   install, then lift a sample image to a textured mesh with the shipped model
#   make test   install, then run the test suite
#   make docs   regenerate the option tables in docs/*.md from the job configs
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; set TORCH_SPEC (e.g. TORCH_SPEC=torch) on a CUDA machine.
TORCH_SPEC ?= torch==2.13.0
PLUGINS := $(wildcard plugins/*/pyproject.toml)
DEMO_OUT ?= out/demo

.PHONY: setup demo test bench addon clean docs
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(PLUGINS)
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[all,blender,dev]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

demo: setup
	bash scripts/demo.sh "$(PY)" "$(DEMO_OUT)"

docs: setup
	$(PY) -m pointkit.jobs.doc_tables --write

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/camera.py

addon:
	$(PYTHON) scripts/build_addon.py

clean:
	rm -rf $(VENV) out build dist *.egg-info
