# auroragen: the two commands a newcomer needs.
#   make demo   set up .venv, compile examples/ to out/, build it, run it, compare with the reference
#   make test   set up .venv with the test extra and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?= -n 2

.PHONY: demo test conformance bench lint clean

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

# the ONNX node tests: a table per op and overall, and conformance.csv
conformance: $(TEST_STAMP)
	$(PY) tests/conformance.py --target $(or $(TARGET),generic) --jobs 2 --csv conformance.csv

# auroragen against onnxruntime, alternating runs in one process: a table and benchmarks/results.csv
bench: $(TEST_STAMP)
	$(PY) benchmarks/bench.py --targets $(or $(TARGETS),generic,avx2) --threads $(or $(THREADS),1,2)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check auroragen tests examples benchmarks

clean:
	rm -rf out build *.egg-info tests/.cache conformance.csv
