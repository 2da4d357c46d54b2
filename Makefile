# The two commands of the README:
#   make demo   install, build, and run the example batch job end to end
#   make test   install, build, and run the whole test suite
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: deps build demo test sanitize bench format clean install package

deps:
	@bash scripts/bootstrap.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@ninja -C $(BUILD)

demo: build
	@bash examples/churn/run_demo.sh

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j2 --timeout 900

# Installs the binary, its backend modules, ONNX Runtime and DuckDB under PREFIX
# (bin/, lib/nightshift/; relocatable).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# Debian packages in $(BUILD)/: nightshift_<version>_amd64.deb (+ one per backend module).
package: build
	@cd $(BUILD) && cpack -G DEB >/dev/null && ls -1 $(CURDIR)/$(BUILD)/*.deb

# ASan + UBSan build of everything, tests included.
sanitize:
	@$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_FLAGS=-DNIGHTSHIFT_SANITIZE=ON

bench: build
	@bash bench/run.sh

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan
