# wsstats — build, test and install.
#
#   make            build build/wsstatsd and build/wsstats
#   make demo       install what is missing, build, analyse a fresh capture of
#                   real WebSocket traffic, print the report
#   make check      install what is missing, build, run every test (also under
#                   ASan+UBSan, and the threaded suites under TSan); ends with
#                   "N passed, N failed"
#   make bench      memory runs (a million-flow SYN flood, 100k concurrent
#                   connections), queries over 1M records, speed against a
#                   bare libpcap loop and tshark on a 1.2 GB tap capture
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make install    PREFIX=/usr/local DESTDIR= : programs and man pages
#   make deps       install missing Debian/npm packages (root; apt-get)

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD      ?= build
CC         ?= cc
PKG_CONFIG ?= pkg-config

PKGS := libpcap libndpi sqlite3 libgcrypt
# nDPI's headers are not -Wstrict-prototypes clean: include them as system headers.
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wundef -Wvla -Wwrite-strings \
        -Wcast-align -Wnull-dereference -Wimplicit-fallthrough
# -flto: decoding, the flow table and reassembly inline into one another
# across files (5% off `wsstatsd -r` on the bench capture: bench/README.md).
CFLAGS  ?= -O2 -g -flto=auto
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -pthread -DWSSTATS_VERSION='"$(VERSION)"' $(WARN) \
             $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lm -pthread

CAPTURE := capture/decode.c capture/source.c
DISSECT := dissect/classify.c dissect/codes.c dissect/dissect.c dissect/http.c dissect/ring.c \
           dissect/reasm.c dissect/record.c dissect/utf8.c dissect/ws.c dissect/wsconn.c
STORE   := store/store.c store/tally.c store/query.c
CLI     := cli/duration.c cli/output.c cli/filters.c cli/stats.c cli/common.c \
           cli/cmd_codes.c cli/cmd_connections.c cli/cmd_timeline.c cli/cmd_groups.c \
           cli/cmd_durations.c cli/cmd_summary.c

DAEMON_SRC := daemon/wsstatsd.c daemon/log.c daemon/privdrop.c $(CAPTURE) $(DISSECT) $(STORE) cli/duration.c
QUERY_SRC  := cli/wsstats.c $(CLI) $(STORE) dissect/codes.c dissect/record.c dissect/utf8.c

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))
# what each unit test links besides itself
test_decode_SRC   := capture/decode.c
test_http_SRC     := dissect/http.c
test_ws_SRC       := dissect/ws.c dissect/utf8.c
test_wsconn_SRC   := dissect/wsconn.c dissect/ws.c dissect/http.c dissect/codes.c dissect/record.c dissect/utf8.c
test_reasm_SRC    := dissect/reasm.c
test_dissect_SRC  := $(DISSECT) capture/decode.c
test_duration_SRC := cli/duration.c
test_output_SRC   := cli/output.c dissect/utf8.c
test_filters_SRC  := cli/filters.c dissect/record.c
test_stats_SRC    := cli/stats.c
test_tally_SRC    := store/tally.c
test_ring_SRC     := dissect/ring.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.PHONY: all deps demo check test unit install uninstall clean asan tsan bench
all: $(BUILD)/wsstatsd $(BUILD)/wsstats

$(BUILD)/obj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/wsstatsd: $(call obj,$(DAEMON_SRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/wsstats: $(call obj,$(QUERY_SRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.SECONDEXPANSION:
$(BUILD)/tests/%: $$(call obj,tests/unit/%.c $$($$*_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)

# Fails early, with the fix, when a library is missing.
.PHONY: pkgcheck
pkgcheck:
	@$(PKG_CONFIG) --exists $(PKGS) || { echo "missing libraries: run 'make deps' (as root) first" >&2; \
	  $(PKG_CONFIG) --print-errors --exists $(PKGS); exit 1; }

deps:
	@scripts/install-deps.sh

# The sanitizer build uses clang, so that every `make check` compiles the
# code with both gcc (build/) and clang (build-asan/) under -Werror.
SAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=$(SAN_CC) CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" all unit

# Three threads share wsstatsd's work (packet loop, nDPI, SQLite writer):
# a ThreadSanitizer build runs the suites that exercise them.
TSAN_FLAGS := -O1 -g -fsanitize=thread
tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan CC=$(SAN_CC) CFLAGS="$(TSAN_FLAGS)" LDFLAGS="$(TSAN_FLAGS)" \
	    build-tsan/wsstatsd build-tsan/wsstats build-tsan/tests/test_ring

check: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory tsan
	@tests/run.sh

test: all unit
	@tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BUILD)/wsstats $(DESTDIR)$(PREFIX)/bin/wsstats
	install -m 755 $(BUILD)/wsstatsd $(DESTDIR)$(PREFIX)/sbin/wsstatsd
	install -m 644 man/wsstats.1 $(DESTDIR)$(PREFIX)/share/man/man1/wsstats.1
	install -m 644 man/wsstatsd.8 $(DESTDIR)$(PREFIX)/share/man/man8/wsstatsd.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/wsstats $(DESTDIR)$(PREFIX)/sbin/wsstatsd \
	  $(DESTDIR)$(PREFIX)/share/man/man1/wsstats.1 $(DESTDIR)$(PREFIX)/share/man/man8/wsstatsd.8

clean:
	rm -rf build build-asan build-tsan bench/out

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Fuzzing (issue 8): libFuzzer targets, rules in fuzz/fuzz.mk.
-include fuzz/fuzz.mk

# The speed benchmark's bare libpcap read loop (issue 7), rules in bench/bench.mk.
-include bench/bench.mk
