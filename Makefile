# auroragen: the two commands a newcomer needs.
#   make demo   set up .venv, compile examples/ to out/, build it, run it, compare with the reference
#   make test   set up .venv with the test extra and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
PYTEST_ARGS ?= -n 2

.PHONY: demo test test-sanitize conformance bench fuzz lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(STAMP)
	$(PY) examples/make_example.py examples/tiny_cnn.onnx
	$(VENV)/bin/auroragen examples/tiny_cnn.onnx --target generic -o out
	$(MAKE) -C out
	$(PY) examples/run_demo.py examples/tiny_cnn.onnx out

test: $(TEST_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# every node test on generic and avx2 (where the CPU runs it) and the model tests, through OUT's runner
# built with -fsanitize=address,undefined: any report fails the case (tests/cross.py)
test-sanitize: $(TEST_STAMP)
	AURORA_CONFORMANCE_TARGETS=generic+asan,avx2+asan AURORA_CONFORMANCE_OPT=2 \
	  $(PY) -m pytest $(PYTEST_ARGS) tests/test_conformance.py
	AURORA_SANITIZE=1 $(PY) -m pytest $(PYTEST_ARGS) tests/test_models.py tests/test_memory.py tests/test_lower.py

# the ONNX node tests: a table per op and overall, and conformance.csv
conformance: $(TEST_STAMP)
	$(PY) tests/conformance.py --target $(or $(TARGET),generic) --jobs 2 --csv conformance.csv

$(BENCH_STAMP): $(TEST_STAMP)
	$(PY) -m pip install -q -e '.[bench]'
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
	$(PY) tests/fuzz.py --minutes $(or $(MINUTES),10) --build 50

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check auroragen tests examples benchmarks

clean:
	rm -rf out build *.egg-info tests/.cache conformance.csv fuzz-crashes
