# natstack: the two commands a person needs are `make up` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

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

clean:
	rm -rf $(BUILD_DIR)
