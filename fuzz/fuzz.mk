# fuzz/fuzz.mk — libFuzzer targets (issue 8); included by the Makefile.
#
#   make fuzz           build, seed, then fuzz each target FUZZ_SECONDS (60)
#                       with its corpus build-fuzz/corpus/TARGET; a crash
#                       restarts the target for the time left; prints what
#                       each found (kept in build-fuzz/findings/TARGET/)
#   make fuzz-smoke     the short run of `make check`: tests/fuzz/run.sh
#                       (replays tests/fuzz/regressions/, then
#                       FUZZ_SMOKE_SECONDS (8) per target)
#   make fuzz-build     the binaries, build-fuzz/fuzz_TARGET
#   make fuzz-seeds     the seed corpora, build-fuzz/seeds/TARGET
#   make fuzz-replay    every regression input, once, through its target
#
# Variables: FUZZ_TARGETS (decode http ws pipeline dbopen), FUZZ_SECONDS,
# FUZZ_SMOKE_SECONDS, FUZZ_CC (clang), FUZZ_BUILD (build-fuzz),
# FUZZ_SEED_PCAPS (more captures to cut seeds from: by default a recording
# of real peers, build/demo/demo.pcap, and the conformance corpus, when
# present; after changing it, rm build-fuzz/seeds/.stamp), FUZZ_ARGS (more
# libFuzzer flags, e.g. -use_value_profile=1).
#
# One fuzz target in one file: fuzz/fuzz_TARGET.c, linked with the decoder,
# the engine's layers and fuzz/fuzz_common.c (fuzz_pipeline also with store/,
# fuzz_dbopen with store/, query/ and remote/), all built by clang with
# -fsanitize=fuzzer,address,undefined and the project's warnings (-Werror)
# into their own object directory.

FUZZ_CC            ?= clang
FUZZ_BUILD         ?= build-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 8
FUZZ_TARGETS       ?= decode http ws pipeline dbopen
FUZZ_SEED_PCAPS    ?= $(wildcard build/demo/demo.pcap ../shared/corpus/*.pcap ../shared/corpus/*.pcapng)
FUZZ_ARGS          ?=

FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -DWSSTATS_VERSION='"$(VERSION)"' $(WARN) $(PKG_CFLAGS) \
               -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP
FUZZ_LIB    := $(foreach l,engine app flow capture model common,$(call LIB_SRC,$(l))) fuzz/fuzz_common.c
FUZZ_BINS   := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
fuzz_obj     = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-smoke fuzz-replay

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BINS): $(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz/fuzz_%.o $(call fuzz_obj,$(FUZZ_LIB))
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# fuzz_pipeline writes its records through a real store, as the daemon does.
$(FUZZ_BUILD)/fuzz_pipeline: $(call fuzz_obj,$(call LIB_SRC,store))
# fuzz_dbopen opens files with both modes of the store, and reads them as wsstats does.
$(FUZZ_BUILD)/fuzz_dbopen: $(call fuzz_obj,$(call LIB_SRC,query) $(call LIB_SRC,remote) $(call LIB_SRC,store))

# Rebuilt when the builder, pcapgen or the schema (dbopen's databases are
# built from its steps) change; FUZZ_SEED_PCAPS=... adds more.
$(FUZZ_BUILD)/seeds/.stamp: fuzz/mkseeds.py tests/tools/pcapgen.py store/schema.sql.h
	@mkdir -p $(dir $@)
	@/usr/bin/python3 fuzz/mkseeds.py --out $(FUZZ_BUILD)/seeds $(FUZZ_SEED_PCAPS)
	@touch $@

fuzz-seeds: $(FUZZ_BUILD)/seeds/.stamp

fuzz: fuzz-build fuzz-seeds
	@rc=0; for t in $(FUZZ_TARGETS); do \
	  fuzz/run-target.sh $(FUZZ_BUILD) $$t $(FUZZ_SECONDS) $(FUZZ_ARGS) || rc=1; \
	done; \
	echo "== fuzz: findings =="; \
	for t in $(FUZZ_TARGETS); do cat $(FUZZ_BUILD)/logs/$$t.summary; done; \
	exit $$rc

fuzz-smoke:
	@FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) BIN=build tests/fuzz/run.sh

fuzz-replay: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  set -- tests/fuzz/regressions/$$t/*; [ -e "$$1" ] || continue; \
	  echo "fuzz_$$t: $$# regression inputs"; \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FUZZ_BUILD)/fuzz_$$t "$$@" >/dev/null 2>$(FUZZ_BUILD)/replay-$$t.log || \
	    { tail -n 40 $(FUZZ_BUILD)/replay-$$t.log; exit 1; }; \
	done

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
