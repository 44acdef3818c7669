# The front door. `make run` and `make test` are all a newcomer needs; see README.md.
BUILD       ?= build
BUILD_ASAN  ?= build-asan
JOBS        ?= $(shell nproc)
LISTEN      ?= 127.0.0.1:8080
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build asan run test unit integration e2e test-asan bench format clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

$(BUILD_ASAN)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DLEB_SANITIZE=ON >/dev/null

asan: $(BUILD_ASAN)/Makefile
	@cmake --build $(BUILD_ASAN) -j $(JOBS) -- --no-print-directory

run: deps build
	@mkdir -p var
	@echo "lebd: starting the demo on http://$(LISTEN)/ (database var/leb.db; Ctrl-C stops it)"
	@exec $(BUILD)/lebd --demo --listen $(LISTEN) --db sqlite:var/leb.db

# Every test: unit tests and black-box tests on the release build, then both again on the
# AddressSanitizer + UndefinedBehaviorSanitizer build, then the browser tests.
test: deps build asan
	@$(MAKE) --no-print-directory unit BUILD_DIR=$(BUILD)
	@$(MAKE) --no-print-directory integration LEBD=$(CURDIR)/$(BUILD)/lebd LEBCTL=$(CURDIR)/$(BUILD)/lebctl
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory e2e LEBD=$(CURDIR)/$(BUILD)/lebd

unit:
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

integration:
	@cd tests && LEBD=$(LEBD) LEBCTL=$(LEBCTL) node --test --test-concurrency=2 integration/*.test.js

test-asan:
	@echo "== unit and black-box tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@$(MAKE) --no-print-directory unit BUILD_DIR=$(BUILD_ASAN)
	@$(MAKE) --no-print-directory integration LEBD=$(CURDIR)/$(BUILD_ASAN)/lebd LEBCTL=$(CURDIR)/$(BUILD_ASAN)/lebctl LEB_TEST_SANITIZED=1

e2e:
	@cd tests && LEBD=$(LEBD) node --test e2e/*.test.js

bench: deps build
	@bash bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(BUILD_ASAN)
