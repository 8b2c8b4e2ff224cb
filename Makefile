# Two commands on a fresh machine:  make run   (the main job)   and   make test   (the tests).
# Set-up is idempotent: a second call only checks that everything is in place.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST_DEB := /usr/share/datasets/fashion-mnist
CHROMIUM := /usr/bin/chromium
# apt-get install (as root, or through sudo) of the packages named after it
APT_INSTALL = SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq

# A real CIFAR-10 copy beside the checkout, where present, serves tests and local runs.
CIFAR10_ARCHIVE := $(wildcard ../shared/data/cifar10-jpeg.tar.gz)
ifneq ($(CIFAR10_ARCHIVE),)
export CIFAR10_DIR ?= $(abspath $(CIFAR10_ARCHIVE))
endif

.PHONY: setup data chromium run test figures figures-study figures-real clean

setup: $(STAMP) data chromium

$(PY):
	$(PYTHON) -m venv $(VENV)

# DEHB declares numpy<2.0 but works with numpy 2, which the tests check (tests/test_dehb_peer.py):
# it is installed without its declared dependencies, after the extras, whose [peers] brings them
# (setup.cfg).
$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ray,gp,peers]'
	$(PY) -m pip install --quiet --no-deps dehb==0.1.2
	touch $(STAMP)

# FashionMNIST from Debian's package where apt-get can install it; then decode and cache it.
data: $(STAMP)
	@if [ -z "$$FASHION_MNIST_DIR" ] && [ ! -e $(FASHION_MNIST_DEB)/train-images-idx3-ubyte.gz ] \
	    && command -v apt-get >/dev/null; then \
	  $(APT_INSTALL) dataset-fashion-mnist \
	    || echo "warning: could not install dataset-fashion-mnist; see docs/reference.md, Data"; \
	fi
	$(PY) -m objectives.prepare_data fashion_mnist_lenet

# Debian's Chromium where apt-get can install it: the tests open the HTML report in it (and skip
# that test without it).
chromium:
	@if [ ! -x $(CHROMIUM) ] && command -v apt-get >/dev/null; then \
	  $(APT_INSTALL) chromium \
	    || echo "warning: could not install chromium; the browser test of the report will be skipped"; \
	fi

run: setup
	$(PY) experiments/run_asha.py --workers 2

# Every test in one run of two processes. Tests bound their tuning runs by counts of work
# (results, trials), not seconds, so a busy machine makes them slower, never red. A process that
# runs out of tests takes some of the other's (worksteal); the longest go first (tests/conftest.py).
test: setup
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=15

# The README's figures, drawn again into analysis/figures/ (experiments/figures.py): the
# simulated comparison in a few minutes; the study and scaling study in about 50 minutes; the
# real FashionMNIST comparison in about 110 minutes of a quiet machine, the Ray timelines in 6.
figures: setup
	$(PY) experiments/figures.py simulated

figures-study: setup
	$(PY) experiments/figures.py study

figures-real: setup
	$(PY) experiments/figures.py real
	$(PY) experiments/figures.py ray

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
