# The two commands of the README, and a few helpers. CMake and Ninja do the build.
#   make run   install what is missing, build the release hub binary, start it
#   make test  install what is missing, build with ASan+UBSan, run every test
#   make deb   build the Debian package into build/deb (scripts/build-deb.sh)
#   make soak  the failover test with every fault repeated (bench/failover_soak.sh)
.PHONY: run build test build-test format format-check bench soak deb clean

BUILD_DIR ?= build/release
TEST_BUILD_DIR ?= build/sanitize
RUN_ARGS ?=

run: build
	./$(BUILD_DIR)/quicksilver $(RUN_ARGS)

# Only the hub: the test programs and the load generator are not built here.
build:
	@./scripts/install-deps.sh
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD_DIR) --target quicksilver

build-test:
	@./scripts/install-deps.sh --test
	@./scripts/install-test-tools.sh
	cmake -S . -B $(TEST_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQS_SANITIZE=ON >/dev/null
	cmake --build $(TEST_BUILD_DIR)

test: build-test format-check
	ctest --test-dir $(TEST_BUILD_DIR) --output-on-failure -j2

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') && echo "clang-format: clean"

bench: build
	./scripts/bench.sh

soak: build-test
	./bench/failover_soak.sh

deb:
	@./scripts/build-deb.sh

clean:
	rm -rf build
