# braininabox: the two commands are `make demo` (the main job) and `make test`.
# Each sets up what it needs: a virtualenv in .venv with the package built in place
# (cffi compiles csrc/ into braininabox/_bb_c) and, for the Cortex-M parts, Debian's
# arm-none-eabi toolchain and QEMU (scripts/setup_system.sh).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-c test-py test-asan install system bench bench-board clean

demo: install system
	$(PY) examples/demo.py

test: install system test-c test-py test-asan

test-py: install
	$(PY) -m pytest -q

test-c: system
	bash tests/c/run.sh

# The Python kernel tests once more, against an AddressSanitizer/UBSan build of the extension.
test-asan: install
	PYTHON=$(abspath $(PY)) bash tests/asan/run.sh

install: $(STAMP)

$(STAMP): pyproject.toml setup.py braininabox/_build_ffi.py $(wildcard csrc/*.c csrc/*.h embedded/*.c embedded/*.h)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" wheel "cffi>=1.15" "numpy>=1.21" "pytest>=7"
	# PyTorch, CPU build: the tests' oracle for the math (pinned: an unpinned torch pulls a
	# multi-GB CUDA build).
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q --no-build-isolation -e ".[test,examples]"
	touch $(STAMP)

system:
	bash scripts/setup_system.sh

bench: install
	$(PY) bench/bench_core.py

bench-board: install system
	$(PY) bench/bench_board.py
	$(PY) bench/bench_mlperf.py --layers

clean:
	rm -rf $(VENV) build *.egg-info braininabox/_bb_c.* braininabox/__pycache__
