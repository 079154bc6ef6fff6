# wsstats — build, test and install.
#
#   make            build build/wsstatsd and build/wsstats
#   make demo       install what is missing, build, analyse a fresh capture of
#                   real WebSocket traffic, print the report
#   make check      install what is missing, build, run every test (also under
#                   ASan+UBSan, and the threaded suites under TSan); ends with
#                   "N passed, N failed"
#   make quick      the edit-test loop (about a minute): build, then the unit
#                   tests and the fast suites on the normal build only
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

PKGS := libpcap libndpi sqlite3 libgcrypt libmicrohttpd libcurl
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

# One static library per folder; the folders are the architecture
# (docs/design.md). A folder's library holds every .c file in it (and in
# its subfolders); programs and tests link the libraries they need, in
# layer order, and the linker takes only what is referenced.
LAYERS  := daemon cli ship engine app flow capture query remote store model common
lib_src  = $(wildcard $(1)/*.c $(1)/*/*.c)
CLI_MAIN    := cli/wsstats.c
DAEMON_MAIN := daemon/wsstatsd.c
LIB_SRC  = $(filter-out $(CLI_MAIN) $(DAEMON_MAIN),$(call lib_src,$(1)))
lib      = $(BUILD)/lib/lib$(1).a
# the libraries of the given layers, in link order
libs     = $(foreach l,$(filter $(1),$(LAYERS)),$(call lib,$(l)))
DAEMON_LIBS := $(call libs,daemon ship engine app flow capture query remote store model common)
QUERY_LIBS  := $(call libs,cli ship query remote store model common)
ALL_LIBS    := $(call libs,$(LAYERS))

# gcc's archiver keeps the LTO symbols an archive of -flto objects needs.
AR_FOR_CC = $(if $(findstring -flto,$(CFLAGS)),$(shell command -v gcc-ar || echo ar),ar)

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.PHONY: all deps demo check test quick unit install uninstall clean asan tsan bench
all: $(BUILD)/wsstatsd $(BUILD)/wsstats

$(BUILD)/obj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(foreach l,$(LAYERS),$(eval $(call lib,$(l)): $(call obj,$(call LIB_SRC,$(l)))))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR_FOR_CC) rcs $@ $^

$(BUILD)/wsstatsd: $(call obj,$(DAEMON_MAIN)) $(DAEMON_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/wsstats: $(call obj,$(CLI_MAIN)) $(QUERY_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test links every library: the linker takes what it refers to.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
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

quick: all unit
	@QUICK=1 tests/run.sh

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
	install -m 755 contrib/wsstats-split-pcapng $(DESTDIR)$(PREFIX)/bin/wsstats-split-pcapng
	install -m 644 man/wsstats.1 $(DESTDIR)$(PREFIX)/share/man/man1/wsstats.1
	install -m 644 man/wsstatsd.8 $(DESTDIR)$(PREFIX)/share/man/man8/wsstatsd.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/wsstats $(DESTDIR)$(PREFIX)/bin/wsstats-split-pcapng $(DESTDIR)$(PREFIX)/sbin/wsstatsd \
	  $(DESTDIR)$(PREFIX)/share/man/man1/wsstats.1 $(DESTDIR)$(PREFIX)/share/man/man8/wsstatsd.8

clean:
	rm -rf build build-asan build-tsan bench/out

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Fuzzing (issue 8): libFuzzer targets, rules in fuzz/fuzz.mk.
-include fuzz/fuzz.mk

# The speed benchmark's bare libpcap read loop (issue 7), rules in bench/bench.mk.
-include bench/bench.mk
