# tocsin front door: every target installs what it needs (Debian packages only), then drives CMake.
BUILD      ?= build
BUILD_SAN  ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN     ?= 127.0.0.1:8072
DATA       ?= ./data

# Every Debian package the build, the tests and the bench need.
PKGS = gcc make cmake pkg-config ca-certificates tzdata curl \
       libwebsockets-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev \
       libpcre2-dev libfyaml-dev libsodium-dev libjemalloc-dev libcmocka-dev \
       python3 python3-pytest python3-requests python3-websocket python3-aiosmtpd openssl
FUZZ_PKGS = clang libclang-rt-14-dev

FUZZ_SECONDS ?= 30
# make bench BENCH=events (or alerts, or notify) runs one part of the benchmark
BENCH ?= all

.PHONY: all deps build run test bench fuzz clean format

all: build

deps:
	@missing=$$(for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p $(DATA)
	./$(BUILD)/tocsin serve --listen $(LISTEN) --data $(DATA)

test: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DTOCSIN_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ctest --output-on-failure -j $(JOBS)

bench: build
	./bench/run.sh $(BUILD) $(BENCH)

# libFuzzer harnesses (clang, ASan, UBSan), FUZZ_SECONDS per target; not part of `make test`.
fuzz:
	$(MAKE) deps PKGS="$(PKGS) $(FUZZ_PKGS)"
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTOCSIN_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

format:
	clang-format -i src/*.c src/*/*.[ch] tests/unit/*.c bench/*.c

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-fuzz
