# bench/bench.mk — what `make bench` builds besides the programs (issue 7).
# Included from the Makefile (-include bench/bench.mk).
#
#   $(BUILD)/bench/floor   a bare libpcap read loop: the floor that
#                          bench/speed.sh and bench/dense.sh compare wsstatsd to
#
# bench/run.sh's last step, bench/clickhouse.sh, needs nothing built here
# (clickhouse-server and clickhouse-client from Debian, or it skips); run it
# alone with `make bench-clickhouse`.

FLOOR_CFLAGS := -std=c11 -D_DEFAULT_SOURCE $(WARN) \
                $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags libpcap 2>/dev/null)) $(CFLAGS)
FLOOR_LIBS   := $(shell $(PKG_CONFIG) --libs libpcap 2>/dev/null)

$(BUILD)/bench/floor: bench/floor.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(FLOOR_CFLAGS) $(LDFLAGS) -o $@ $< $(FLOOR_LIBS)

.PHONY: floor
floor: $(BUILD)/bench/floor

# make bench builds the floor too (after deps: this rule comes later)
bench: $(BUILD)/bench/floor

# the ClickHouse step of bench/run.sh alone (issue 24)
.PHONY: bench-clickhouse
bench-clickhouse: all
	BIN=$(BUILD) bench/clickhouse.sh
