# Fresh clone -> working install: every target creates .venv and builds the C core when needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tessera-installed

.PHONY: all venv build test lint demo bench clean

all: build

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=77" wheel "Cython>=3.0"
	$(PY) -m pip install -q --no-build-isolation -e '.[test,torch,dp-test,nn-test]'  # dp-test: dp-accounting, a test oracle; nn-test: scikit-learn datasets; torch: the CPU wheel pinned in pyproject
	touch $(STAMP)

venv: $(STAMP)

# Rebuild the compiled core in place after a change under csrc/ or mpc/_core/*.pyx, *.pxd.
build: $(STAMP)
	$(PY) setup.py -q build_ext --inplace

lint: build
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

# Two to four pytest-xdist workers (one per core): the suite is CPU-bound, half of it in-process
# sessions and hypothesis cases; tests/conftest.py keeps the network-namespace tests in one worker.
test: lint
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadgroup

# The main demo: 3 party processes plus the trusted dealer, CURVE-encrypted, over ZeroMQ.
demo: build
	$(PY) -m mpc selfcheck
	$(VENV)/bin/mpcrun -n 3 --stats protocols/salaries.py 'protocols/data/salary_{pid}.txt'

bench: build
	$(PY) -m pip install -q "matplotlib>=3.8"  # the bench extra: plots only
	$(PY) -m bench all --profile all  # lan/wan need root; elsewhere they leave a line saying why

clean:
	rm -rf build $(VENV) mpc/_core/*.so mpc/_core/_*.c
