# btfx development tasks, shared by humans and CI (.ci/run runs `make deps test`).
#
#   make deps     Debian packages (apt-get, as root or via sudo), Python test packages (pip),
#                 and the real-kernel corpus (scripts/fetch-corpus.sh)
#   make build    build the Rust extension and install btfx (editable) into $(PYTHON)
#   make test     lint + build + cargo test + pytest
#   make format   cargo fmt + ruff format
#   make lint     cargo fmt --check, clippy -D warnings, ruff check + format --check, mypy
#                 (python/btfx, see pyproject.toml) and stubtest of btfx._native (builds first)
#   make bench    benches/bench.py
#   make fixture-module  build tests/fixtures/kfunc_module against Debian 6.1 and 6.12 (and the
#                 previous 6.1 build, for tests/kernel)
#                 (scripts/build-fixture-module.sh; downloads cached under ~/.cache/btfx)
#   make example-module  refresh python/btfx/data/example-standalone.ko from that build
#   make kernel-test     the qemu real-kernel suite alone (pytest -m kernel tests/kernel)
#   make fuzz     cargo fuzz, every target of rust/fuzz for FUZZ_SECONDS (60) each
#                 (or FUZZ_TARGET=name); part of `make test`

PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
CARGO ?= cargo

APT_PACKAGES := bpftool dwarves libbpf1 libbpf-dev xz-utils zstd
# scripts/build-fixture-module.sh (kbuild, pahole, resolve_btfids from linux-source)
APT_PACKAGES += gcc gcc-12 make binutils libelf-dev zlib1g-dev
# tests/kernel: BPF programs, initramfs, qemu
APT_PACKAGES += clang llvm busybox-static cpio kmod qemu-system-x86
# tests: module signatures (scripts/sign-file comes with the fixture's linux-kbuild)
APT_PACKAGES += openssl
PIP_PACKAGES := hypothesis pyelftools zstandard ruff mypy pytest
# The PyO3 crate links against libpython only when built by maturin: test the rest.
CARGO_TEST_ARGS ?= --release --workspace --exclude btfx-py
PYTEST_ARGS ?= -q
FUZZ_DIR := rust/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps apt-deps pip-deps fuzz-deps corpus build format lint test cargo-test pytest bench fuzz clean \
	fixture-module example-module kernel-test

all: build

deps: apt-deps pip-deps fuzz-deps corpus

apt-deps:
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		$(APT_PACKAGES)

pip-deps:
	$(PIP) install -q $(PIP_PACKAGES)

corpus:
	PYTHON=$(PYTHON) BTFX_CORPUS_KERNELS="$${BTFX_CORPUS_KERNELS:-6.1 6.12}" \
		bash scripts/fetch-corpus.sh "$${BTFX_CORPUS:-corpus}"

# pip builds the extension in release mode (maturin backend, see pyproject.toml) and installs
# btfx in editable mode: Python sources are used in place, the extension lands in python/btfx.
build:
	$(PIP) install -q -e .

format:
	$(CARGO) fmt --all
	ruff format .

# stubtest imports the built extension to compare it with python/btfx/_native.pyi.
lint: build
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	ruff check .
	ruff format --check .
	mypy
	$(PYTHON) -m mypy.stubtest btfx._native

cargo-test:
	$(CARGO) test $(CARGO_TEST_ARGS)

pytest: build
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test: lint cargo-test pytest fuzz

fixture-module:
	PYTHON=$(PYTHON) bash scripts/build-fixture-module.sh 6.1 6.12 6.1-previous

# The bundled example: the 6.12 standalone variant without DWARF (its BTF is all it needs).
EXAMPLE_MODULE := python/btfx/data/example-standalone.ko
example-module:
	PYTHON=$(PYTHON) bash scripts/build-fixture-module.sh 6.12
	strip --strip-debug -o $(EXAMPLE_MODULE) \
		"$${BTFX_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/btfx}/fixture/6.12/standalone/btfx_kfuncs.ko"

kernel-test: build
	$(PYTHON) -m pytest -m kernel tests/kernel $(PYTEST_ARGS)

bench: build
	$(PYTHON) benches/bench.py

# cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP lets the stable toolchain
# (the only one on our machines) accept them. Seeds: the bundled sample BTF.
FUZZ_ENV := RUSTC_BOOTSTRAP=1
FUZZ_SEEDS := $(FUZZ_DIR)/seeds

fuzz-deps:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz

fuzz: fuzz-deps
	@mkdir -p $(FUZZ_SEEDS) && cp python/btfx/data/sample.btf $(FUZZ_SEEDS)/
	@set -e; targets="$(FUZZ_TARGET)"; \
	if [ -z "$$targets" ]; then targets=$$($(FUZZ_ENV) $(CARGO) fuzz list --fuzz-dir $(FUZZ_DIR)); fi; \
	for t in $$targets; do \
		echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
		$(FUZZ_ENV) $(CARGO) fuzz run --fuzz-dir $(FUZZ_DIR) -O $$t $(FUZZ_SEEDS) -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	done

clean:
	$(CARGO) clean
	rm -rf build dist python/btfx/*.so .pytest_cache .ruff_cache .mypy_cache
