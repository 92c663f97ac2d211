# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data/synthetic
DEBIAN_PACKAGES := libb64-0d chromium chromium-driver qemu-user orthanc orthanc-dicomweb dicom3tools poppler-utils
INSTALLED := $(VENV)/.installed

.PHONY: demo test install system-packages lint clean

# The main job end to end on the embedded defaults: synthetic data -> a quick CPU training run (96 px,
# simple_cnn; about 2-3 minutes on 2 cores) -> ONNX export into model_repository/ -> the embedded
# Triton and the web app, whose URL is printed (Ctrl-C stops both). The cohort is large enough
# (200 patients, 40 held out) for the printed test accuracy to be measured, not guessed.
demo: install
	$(BIN)/emphysema synth --out $(DATA) --patients 200 --slices-per-patient 4 --seed 7 --size 128 --overwrite
	$(BIN)/emphysema train --data $(DATA) --architecture simple_cnn --quick --out runs/demo --overwrite
	$(BIN)/emphysema export --run runs/demo --repository model_repository --model simple_cnn
	$(BIN)/emphysema app --serve --repository model_repository

test: install lint
	$(BIN)/pytest -m "not gpu" --timeout=900

install: system-packages $(INSTALLED) $(BIN)/perf_analyzer

# Debian packages: libb64 for perf_analyzer, Chromium and its driver for the browser tests, and
# qemu-user to check int8 exports on an emulated CPU without AVX-512 or VNNI (export/emulated_cpu.py),
# Orthanc and its DICOMweb plugin (the PACS), dicom3tools (dciodvfy validates the DICOM SEG and SR)
# and poppler-utils (pdftoppm renders the PDF report's pages for the tests).
system-packages:
	@dpkg -s $(DEBIAN_PACKAGES) >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES); }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# perf_analyzer from the tritonclient 2.50.0 wheel (newer ones need glibc 2.38); idempotent.
$(BIN)/perf_analyzer: | $(INSTALLED)
	bash bench/install_perf_analyzer.sh $(VENV)

# Lint and format checks run before the tests (make test), so CI refuses unformatted code.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) data runs .pytest_cache .ruff_cache
