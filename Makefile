# Two commands on a fresh machine with only python3 and make:
#   make demo   runs the main job on built-in data
#   make test   installs everything and runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch lies on local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test test-slow bench install clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	MPLBACKEND=Agg $(VENV)/bin/anchormi demo --out demo_output

# One pytest worker per core (pytest-xdist); each test process keeps one torch thread (tests/conftest.py).
test: $(VENV)/.installed
	MPLBACKEND=Agg $(PY) -m pytest -q -n auto --dist worksteal

# The long statistical runs, marked slow and so left out of `make test` (addopts has -m 'not slow';
# a later -m on the command line replaces it).
test-slow: $(VENV)/.installed
	MPLBACKEND=Agg $(PY) -m pytest -q -n auto --dist worksteal -m slow --durations=0

bench: $(VENV)/.installed
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) demo_output build *.egg-info src/*.egg-info
