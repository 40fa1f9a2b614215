#   Weft - top-level build
#   make            binaries under build/
#   make demo       coordinator + three nodes on loopback, a twin round trip
#   make test       every test; last line "N passed, N failed"
#   make check      the same tests built with ASan and UBSan
#   make fuzz       short runs of every fuzz target
#   make bench      benchmarks against comparators measured in the same run
#   make bench-long weft-sim over a week of virtual time (minutes)
#   make bench-1m   weft-sim's bench at 1,000,000 devices (hours, ~25 GB)
#   make soak       long runs (10 minutes) of what make test runs short
#   Every target first runs "make deps", which installs missing Debian
#   packages with apt-get and is silent when all are present.

BUILD     ?= build
CC        ?= cc
PKGS      := libczmq libzmq libsodium lmdb msgpack tss2-esys tss2-mu tss2-tctildr tss2-rc libcrypto jansson zlib libzstd
DEBS      := build-essential pkg-config clang libclang-rt-14-dev \
             libczmq-dev libzmq3-dev libsodium-dev liblmdb-dev lmdb-utils \
             libmsgpack-dev libtss2-dev libssl-dev libjansson-dev zlib1g-dev libzstd-dev \
             swtpm swtpm-tools tpm2-tools libfiu-dev fiu-utils procps iproute2 nftables python3 \
             mosquitto libmosquitto-dev bsdiff zstd
SANITIZE  ?=
OPT       ?= -O2
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) $(SANITIZE) \
             -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDFLAGS   += $(SANITIZE)

LIB_SRC   := $(sort $(wildcard proto/*.c proto/io/*.c node/core/*.c node/io/*.c \
                               coordinator/core/*.c coordinator/io/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
HEADERS   := $(sort $(wildcard proto/*.h proto/io/*.h node/*/*.h coordinator/*/*.h))
BINS      := $(BUILD)/weft-coord $(BUILD)/weft-node $(BUILD)/weftctl \
             $(BUILD)/weft-selftest $(BUILD)/weft-probe $(BUILD)/weft-sim \
             $(BUILD)/weft-artifact

.PHONY: all deps demo test check fuzz bench bench-long bench-1m soak clean format memcheck
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$$(nproc)) $(BINS)

deps:
	@missing=""; for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	        || { echo "deps: apt-get failed for:$$missing" >&2; exit 1; }; \
	fi

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libweft.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

#   The selftest table is made from the headers: every module that
#   declares "name_test (bool verbose);" is registered. The simulator's
#   pure modules are tested there too.
#   Selftests outside the cores live in tests/: those that join node and
#   coordinator (a real TPM against the coordinator's verifiers) in
#   tests/tpm, those that read docs/protocol.md in tests/spec.
SIM_TESTED := sim/sched sim/oracle
TPM_TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tests/tpm/*.c tests/spec/*.c)))
TEST_HEADERS := $(HEADERS) $(SIM_TESTED:%=%.h) $(wildcard tests/tpm/*.h tests/spec/*.h)
$(BUILD)/selftests.inc: $(TEST_HEADERS)
	@mkdir -p $(BUILD)
	@grep -ho '[a-z0-9_]*_test (bool verbose);' $(TEST_HEADERS) \
	    | sed 's/_test (bool verbose);//' \
	    | awk '{ printf "    { \"%s\", %s_test },\n", $$1, $$1 }' > $@.tmp
	@mv $@.tmp $@

$(BUILD)/selftest-headers.inc: $(TEST_HEADERS)
	@mkdir -p $(BUILD)
	@for h in $(TEST_HEADERS); do \
	    grep -q '_test (bool verbose);' $$h && echo "#include \"$$h\""; \
	done > $@.tmp; mv $@.tmp $@

$(BUILD)/tests/selftest.o: tests/selftest.c $(BUILD)/selftests.inc $(BUILD)/selftest-headers.inc $(TEST_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD) -c $< -o $@

$(BUILD)/weft-coord: $(BUILD)/coordinator/main.o $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/weft-node: $(BUILD)/node/main.o $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

CTL_OBJ   := $(BUILD)/tools/weftctl.o $(BUILD)/tools/ctl_parse.o $(BUILD)/tools/ctl_call.o \
             $(BUILD)/tools/ctl_show.o $(BUILD)/tools/ctl_offline.o $(BUILD)/tools/ctl_import.o \
             $(BUILD)/tools/ctl_release.o $(BUILD)/tools/ctl_artifact.o $(BUILD)/tools/ctl_campaign.o
$(CTL_OBJ): tools/ctl.h

$(BUILD)/weftctl: $(CTL_OBJ) $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

ARTIFACT_OBJ := $(BUILD)/tools/artifact.o $(BUILD)/tools/artifact_repo.o \
                $(BUILD)/tools/artifact_meta.o $(BUILD)/tools/artifact_bundle.o \
                $(BUILD)/tools/artifact_refs.o
$(ARTIFACT_OBJ): tools/artifact.h

$(BUILD)/weft-artifact: $(ARTIFACT_OBJ) $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(TPM_TEST_OBJ): $(wildcard tests/tpm/*.h tests/spec/*.h)
$(BUILD)/weft-selftest: $(BUILD)/tests/selftest.o $(SIM_TESTED:%=$(BUILD)/%.o) $(TPM_TEST_OBJ) $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/weft-probe: $(BUILD)/tests/probe.o $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

#   weft-sim: the simulator, sim/*.c over the same library
SIM_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard sim/*.c)))
$(SIM_OBJ): $(wildcard sim/*.h)
$(BUILD)/weft-sim: $(SIM_OBJ) $(BUILD)/libweft.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lm -o $@

demo: all
	@tools/demo.sh $(BUILD)

test: all
	@tests/run.sh $(BUILD)

#   Sanitizer build in its own tree, so it never mixes with the normal one.
check: deps
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=build-san OPT=-O1 \
	    SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    build-san/weft-coord build-san/weft-node build-san/weftctl build-san/weft-selftest build-san/weft-probe build-san/weft-sim build-san/weft-artifact
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    WEFT_SANITIZED=1 WEFT_TEST_TIMEOUT=1500 tests/run.sh build-san

memcheck: all
	@valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	    $(BUILD)/weft-selftest

FUZZ_SRC  := $(wildcard tests/fuzz/*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
PROTO_SRC := $(wildcard proto/*.c) proto/io/store.c proto/io/fsperm.c

#   A target that includes a module's .c (to reach its statics) is not
#   linked with it again; one that brings its own in-memory store and
#   stand-ins ("fuzz: own store" in its header) is linked with nothing
#   of the tree
FUZZ_LINK = $(if $(shell grep -l 'fuzz: own store' $<),,\
              $(filter-out $(shell sed -n 's/^\#include "\(.*\.c\)"/\1/p' $<),$(PROTO_SRC)))

build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(HEADERS)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
	    $< $(FUZZ_LINK) $(shell pkg-config --libs libsodium msgpack libzmq libczmq jansson libcrypto tss2-mu lmdb zlib libzstd) -o $@

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@tests/fuzz/run.sh build-fuzz

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench-%)

$(BUILD)/bench-%: tests/bench/%.c tests/bench/bench.h $(BUILD)/libweft.a $(HEADERS)
	$(CC) $(CFLAGS) $< $(BUILD)/libweft.a $(LDLIBS) -o $@

#   The check-in bench drives its Mosquitto comparator with libmosquitto
$(BUILD)/bench-checkin: LDLIBS += -lmosquitto

bench: all
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@tests/bench/run.sh $(BUILD)

#   weft-sim over a week of virtual time (a site cut off for 7 days):
#   not in make bench, minutes of CPU (docs/sim.md, Long horizons)
bench-long: all
	@SIM_BENCH=week bash tests/bench/sim.sh $(BUILD)

#   weft-sim's twin-all bench at 1,000,000 devices in 1,000 sites: not in
#   make bench, hours of CPU and about 25 GB (docs/sim.md, Measured)
bench-1m: all
	@bash tests/bench/sim.sh $(BUILD) 1000000

#   The link soak of make test (tests/e2e/64-link-loss-soak.sh) for 10
#   minutes instead of 60 s, and 30 kills of a download instead of 15
soak: all
	@SOAK_SECONDS=600 WEFT_BUILD=$(BUILD) bash tests/e2e/64-link-loss-soak.sh
	@KILLS=30 WEFT_BUILD=$(BUILD) bash tests/e2e/97-update-kill-download.sh

format:
	clang-format -i $(LIB_SRC) $(HEADERS) node/main.c coordinator/main.c tools/*.c tests/*.c

clean:
	rm -rf build build-san build-fuzz
