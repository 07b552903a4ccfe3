# auroragen: the two commands a newcomer needs.
#   make demo   set up .venv, compile examples/ to out/, build it, run it, compare with the reference
#   make test   set up .venv with the test extra and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
TORCH_STAMP := $(VENV)/.installed-torch
PYTEST_ARGS ?= -n 2
# every package comes at the version constraints.txt pins (make lock refreshes it), build tools included
LOCK := constraints.txt
PIP := $(PY) -m pip install -q -c $(LOCK) --build-constraint $(LOCK)

.PHONY: demo test test-fast test-sanitize conformance bench fuzz lint lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c $(LOCK) pip
	$(PIP) -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) -e '.[test]'
	touch $@

# torch (the CPU wheel on disk) and onnxscript, for the tests that export models with torch's two exporters
$(TORCH_STAMP): $(TEST_STAMP)
	$(PIP) torch==2.13.0 onnxscript
	touch $@

demo: $(STAMP)
	$(PY) examples/make_example.py examples/tiny_cnn.onnx
	$(VENV)/bin/auroragen examples/tiny_cnn.onnx --target generic -o out
	$(MAKE) -C out
	$(PY) examples/run_demo.py examples/tiny_cnn.onnx out

test: $(TEST_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# the developer's loop: every module's tests but the ONNX node tests and the whole-model ones
test-fast: $(TEST_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) -m "not conformance and not slow"

# every node test on generic and avx2 (where the CPU runs it) and the model tests, through OUT's runner
# built with -fsanitize=address,undefined: any report fails the case (tools/cross.py)
test-sanitize: $(TEST_STAMP)
	AURORA_CONFORMANCE_TARGETS=generic+asan,avx2+asan AURORA_CONFORMANCE_OPT=2 \
	  $(PY) -m pytest $(PYTEST_ARGS) tests/test_conformance.py
	AURORA_SANITIZE=1 $(PY) -m pytest $(PYTEST_ARGS) tests/test_models.py tests/test_memory.py tests/test_lower.py

# the ONNX node tests: a table per op and overall, and conformance.csv
conformance: $(TEST_STAMP)
	$(PY) tools/conformance.py --target $(or $(TARGET),generic) --jobs 2 --csv conformance.csv

$(BENCH_STAMP): $(TEST_STAMP)
	$(PIP) -e '.[bench]'
	touch $@

# auroragen against onnxruntime, alternating runs in one process: a table, benchmarks/results.csv, and
# this run's machine, tables and charts in docs/performance.md
BENCH_TARGETS := generic,avx2
BENCH_THREADS := 1,2
BENCH_MODELS := resnet18,mobilenetv2,transformer,bert,mlp,lstm,ds-cnn,gemm512,convs
bench: $(BENCH_STAMP)
	$(PY) benchmarks/bench.py --targets $(or $(TARGETS),$(BENCH_TARGETS)) --threads $(or $(THREADS),$(BENCH_THREADS)) \
	  --models $(or $(MODELS),$(BENCH_MODELS)) --docs docs/performance.md

# mutated models through the compiler for MINUTES (default 10); crashes land in fuzz-crashes/
fuzz: $(TEST_STAMP)
	$(PY) tools/fuzz.py --minutes $(or $(MINUTES),10) --build 50

# re-resolve every dependency (test, bench, torch and onnxscript included) at today's newest and pin them all
# in constraints.txt; then run the whole suite and commit the lock on its own
lock:
	PYTHON=$(PYTHON) bash tools/lock.sh

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check auroragen tests examples benchmarks tools

clean:
	rm -rf out build *.egg-info tests/.cache conformance.csv fuzz-crashes
