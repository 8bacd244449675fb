# btfx development tasks, shared by humans and CI (.ci/run runs `make deps test`).
#
#   make deps     Debian packages (apt-get, as root or via sudo), Python test packages (pip),
#                 and the real-kernel corpus (scripts/fetch-corpus.sh)
#   make build    build the Rust extension and install btfx (editable) into $(PYTHON)
#   make test     lint + build + cargo test + pytest
#   make format   cargo fmt + ruff format
#   make lint     cargo fmt --check, clippy -D warnings, ruff check + format --check, mypy
#   make bench    benches/bench.py
#   make fuzz     cargo +nightly fuzz, every target of rust/fuzz for FUZZ_SECONDS each
#                 (or FUZZ_TARGET=name)

PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
CARGO ?= cargo

APT_PACKAGES := bpftool dwarves libbpf1 libbpf-dev xz-utils zstd
PIP_PACKAGES := hypothesis pyelftools zstandard ruff mypy pytest
# The PyO3 crate links against libpython only when built by maturin: test the rest.
CARGO_TEST_ARGS ?= --workspace --exclude btfx-py
PYTEST_ARGS ?= -q
MYPY_PATHS ?= python/btfx tests scripts benches
FUZZ_DIR := rust/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps apt-deps pip-deps corpus build format lint test cargo-test pytest bench fuzz clean

all: build

deps: apt-deps pip-deps corpus

apt-deps:
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		$(APT_PACKAGES)

pip-deps:
	$(PIP) install -q $(PIP_PACKAGES)

corpus:
	PYTHON=$(PYTHON) bash scripts/fetch-corpus.sh

# pip builds the extension in release mode (maturin backend, see pyproject.toml) and installs
# btfx in editable mode: Python sources are used in place, the extension lands in python/btfx.
build:
	$(PIP) install -q -e .

format:
	$(CARGO) fmt --all
	ruff format .

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	ruff check .
	ruff format --check .
	mypy $(MYPY_PATHS)

cargo-test:
	$(CARGO) test $(CARGO_TEST_ARGS)

pytest: build
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test: lint cargo-test pytest

bench: build
	$(PYTHON) benches/bench.py

fuzz:
	@if [ ! -d $(FUZZ_DIR) ]; then \
		echo "make fuzz: $(FUZZ_DIR) does not exist yet (no fuzz targets to run)"; exit 1; fi
	@$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || { \
		echo "make fuzz: needs the nightly toolchain and cargo-fuzz:" \
			"rustup toolchain install nightly && cargo install cargo-fuzz"; exit 1; }
	@set -e; targets="$(FUZZ_TARGET)"; \
	if [ -z "$$targets" ]; then targets=$$($(CARGO) +nightly fuzz list --fuzz-dir $(FUZZ_DIR)); fi; \
	for t in $$targets; do \
		echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
		$(CARGO) +nightly fuzz run --fuzz-dir $(FUZZ_DIR) $$t -- -max_total_time=$(FUZZ_SECONDS); \
	done

clean:
	$(CARGO) clean
	rm -rf build dist python/btfx/*.so .pytest_cache .ruff_cache .mypy_cache
