# natstack: the two commands a person needs are `make up` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CTEST_ARGS ?=
# make bench QUICK=1: the benchmarks with small counts, in well under a minute (docs/bench.md).
QUICK ?=

.PHONY: all setup configure build test up bench clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

up: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target natstack -- --no-print-directory
	@exec $(BUILD_DIR)/natstack up $(UP_ARGS)

# Every benchmark; results in $(BUILD_DIR)/bench/latest.json. Not part of `make test`.
bench: build
	@bash bench/run --build-dir $(BUILD_DIR) $(if $(filter-out 0,$(QUICK)),--quick)

clean:
	rm -rf $(BUILD_DIR)
