#!/usr/bin/python3
"""tests/live/dbcheck.py — small database checks for tests/live/run.sh.

Each subcommand prints what is wrong (one line each, no prefix; run.sh turns
them into `#  ` lines) and exits 0 when all is well, 1 otherwise.  The DB is
always opened read-only (never created: a daemon that has not written it yet
must not find a root-owned empty file there).

  capturing DB [N]        more than N (default 0) `captures` rows of kind
                          'live' exist (N: how many there were before a restart)
  captures DB             prints the number of live `captures` rows
  count DB                prints the number of `connections` rows
  integrity DB            PRAGMA integrity_check says ok
  keys DB KEYS [--only] [--ended-before T]
                          every key of KEYS (traffic.py's JSON lines) has
                          exactly one row, close_code 1000, outcome clean;
                          --only: and there are no other rows;
                          --ended-before T: only the keys whose connection
                          had ended (TCP closed) before epoch time T
  snapshot DB KEYS        prints those keys' rows (id and all columns) as JSON,
                          to compare before and after a restart
  listed JSON EXPECT...   every connection of the peers' expectation files
                          that is not meant to be open still ("unfinished")
                          is a line of JSON (`wsstats connections --format json`)
  capture-closed DB       the newest `captures` row: kind live, status
                          stopped, ended_at set (>= started_at), packets > 0,
                          bytes >= 54 per packet (Ethernet+IPv4+TCP headers),
                          tcp_flows >= connections, connections = its rows,
                          libpcap's received >= packets, drops and if_drops 0
  capture-ids DB          every row's capture_id names a captures row of
                          this file
  stats-line LOG RECORDS  the last `wsstatsd: stats:` line of LOG: records
                          RECORDS, none queued or lost, packets > 0, bytes
                          >= 54 per packet, flows >= records, received >=
                          packets, drops, memcap hits and evictions 0
  stopped DB KEYS OPENED T  SIGTERM at epoch time T under load: every
                          connection of KEYS that ended before T - 0.5 has
                          its row (1000, clean); every one of OPENED that
                          was open from before T - 0.5 until after T + 0.5
                          (closing later, or never: "idle") is `unfinished`,
                          ended_at within 2 s of T (the stop, not its last
                          packet); no row lacks a capture_id
  sql DB QUERY            prints the query's rows, one per line, '|' between
                          columns (for counts in run.sh)
"""

import json
import re
import sqlite3
import sys


def connect(db):
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)


def rows(db, sql, args=()):
    con = connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def key(r):
    return (r.get("client_ip"), r.get("client_port"), r.get("server_port"))


def same_connection(k, rows_of_key):
    """The rows of one traffic.py connection: a busy client reuses a port as
    soon as its connection is closed, so when the key says when it was open
    (from the handshake done, "opened", to its close frame, "closing"), its
    rows are those whose connection spans that: started (SYN) before it
    opened, ended after that, and started before it began to close — the
    next connection on the port starts only after this one has ended."""
    if "opened" not in k:
        return rows_of_key
    closing = k.get("closing", k["opened"])
    return [r for r in rows_of_key if r["started_at"] <= k["opened"] and r["ended_at"] >= k["opened"]
            and r["started_at"] <= closing]


def cmd_capturing(db, before=0):
    try:
        return 0 if len(rows(db, "SELECT id FROM captures WHERE kind = 'live'")) > before else 1
    except sqlite3.Error:
        return 1


def cmd_captures(db):
    print(len(rows(db, "SELECT id FROM captures WHERE kind = 'live'")))
    return 0


def cmd_count(db):
    print(rows(db, "SELECT count(*) AS n FROM connections")[0]["n"])
    return 0


def cmd_integrity(db):
    result = [r["integrity_check"] for r in rows(db, "PRAGMA integrity_check")]
    if result == ["ok"]:
        return 0
    print("integrity_check: " + "; ".join(result[:10]))
    return 1


def cmd_keys(db, keys_path, only=False, ended_before=None):
    keys = [k for k in load_jsonl(keys_path)
            if ended_before is None or k.get("ended", float("inf")) < ended_before]
    want = [key(k) for k in keys]
    have = {}
    try:
        all_rows = rows(db, "SELECT * FROM connections")
    except sqlite3.OperationalError as e:
        print("%s: %s (the file holds no wsstats schema)" % (db, e))
        return 1
    for r in all_rows:
        have.setdefault(key(r), []).append(r)
    problems = []
    if not want:
        problems.append("%s lists no connection%s (the traffic did not run?)"
                        % (keys_path, "" if ended_before is None else " that ended before %.3f" % ended_before))
    for kk, k in zip(keys, want):
        found = same_connection(kk, have.get(k, []))
        if not found:
            problems.append("no row for client %s port %s -> server port %s" % k)
            continue
        r = found[0]
        if len(found) > 1:
            problems.append("%d rows for client %s port %s" % (len(found), k[0], k[1]))
        if (r["close_code"], r["outcome"]) != (1000, "clean"):
            problems.append("client port %s: close_code %s outcome %s termination %s, expected 1000 clean"
                            % (k[1], r["close_code"], r["outcome"], r["termination"]))
    if only:
        extra = sorted(set(have) - set(want), key=str)
        for k in extra[:10]:
            problems.append("unexpected row: client %s port %s -> server port %s" % k)
        if len(extra) > 10:
            problems.append("... %d unexpected rows in all" % len(extra))
    for p in problems[:10]:
        print(p)
    if len(problems) > 10:
        print("... %d problems in all, of %d connections" % (len(problems), len(want)))
    return 1 if problems else 0


def cmd_snapshot(db, keys_path):
    want = {key(k) for k in load_jsonl(keys_path)}
    snap = [r for r in rows(db, "SELECT * FROM connections ORDER BY id") if key(r) in want]
    print(json.dumps(snap, sort_keys=True))
    return 0


def cmd_listed(json_path, expect_paths):
    listed = {key(r) for r in load_jsonl(json_path)}
    missing = []
    total = 0
    for path in expect_paths:
        for exp in load_jsonl(path):
            if exp.get("outcome") == "unfinished" or "peer_error" in exp:
                continue
            total += 1
            if key(exp) not in listed:
                missing.append("%s/%s (client port %s) not listed" % (exp.get("peer"), exp.get("scenario"),
                                                                     exp.get("client_port")))
    if missing:
        print("%d of %d finished connections missing, %d rows listed" % (len(missing), total, len(listed)))
        for m in missing[:15]:
            print(m)
    return 1 if missing else 0


def cmd_capture_closed(db):
    caps = rows(db, "SELECT * FROM captures ORDER BY id DESC LIMIT 1")
    if not caps:
        print("no captures row")
        return 1
    c = caps[0]
    problems = []
    if c.get("kind") != "live":
        problems.append("kind %r, expected 'live'" % c.get("kind"))
    if c.get("status") != "stopped":
        problems.append("status %r, expected 'stopped'" % c.get("status"))
    if c.get("ended_at") is None:
        problems.append("ended_at is NULL")
    elif c.get("started_at") is not None and c["ended_at"] < c["started_at"]:
        problems.append("ended_at %s before started_at %s" % (c["ended_at"], c["started_at"]))
    packets = c.get("packets") or 0
    if not packets > 0:
        problems.append("packets %r, expected > 0" % c.get("packets"))
    if (c.get("bytes") or 0) < 54 * packets:
        problems.append("bytes %r for %d packets, expected >= 54 each" % (c.get("bytes"), packets))
    rows_of_capture = rows(db, "SELECT count(*) AS n FROM connections WHERE capture_id = ?", (c["id"],))[0]["n"]
    if c.get("connections") != rows_of_capture:
        problems.append("connections %r, but %d rows have this capture_id" % (c.get("connections"), rows_of_capture))
    if (c.get("tcp_flows") or 0) < rows_of_capture:
        problems.append("tcp_flows %r, fewer than the %d connections" % (c.get("tcp_flows"), rows_of_capture))
    if c.get("received") is None or c["received"] < packets:
        problems.append("received %r (libpcap), expected >= packets %d" % (c.get("received"), packets))
    if c.get("drops") != 0 or c.get("if_drops") != 0:
        problems.append("drops %r, if_drops %r: expected 0 (64M buffer on lo)" % (c.get("drops"), c.get("if_drops")))
    if problems:
        print("; ".join(problems))
        print("row: " + json.dumps(c))
    return 1 if problems else 0


def cmd_capture_ids(db):
    orphans = rows(db, "SELECT count(*) AS n FROM connections"
                       " WHERE capture_id IS NULL OR capture_id NOT IN (SELECT id FROM captures)")[0]["n"]
    if orphans:
        print("%d of %d rows have no captures row of this file (capture_id %s)"
              % (orphans, rows(db, "SELECT count(*) AS n FROM connections")[0]["n"],
                 sorted({r["capture_id"] for r in rows(db, "SELECT DISTINCT capture_id FROM connections")},
                        key=str)))
    return 1 if orphans else 0


STATS_FIELDS = {
    "packets": r"packets (\d+)", "bytes": r"bytes (\d+)", "flows": r"flows (\d+)",
    "records": r"records (\d+)", "queued": r"(\d+) queued", "lost": r"(\d+) lost",
    "received": r"received (\d+)", "drops": r"drops (\d+) kernel", "if_drops": r"(\d+) interface",
    "memcap": r"memcap hits (\d+)", "evicted": r"evicted (\d+)",
}


def cmd_stats_line(log, records):
    with open(log, encoding="utf-8", errors="replace") as f:
        lines = [l for l in f if re.match(r"^(wsstatsd: |<\d>)stats:", l)]
    if not lines:
        print("no stats line in %s" % log)
        return 1
    line, v, problems = lines[-1].strip(), {}, []
    for name, rx in STATS_FIELDS.items():
        m = re.search(rx, line)
        if not m:
            problems.append("no '%s' in it" % name)
        else:
            v[name] = int(m.group(1))
    if not problems:
        if v["records"] != records:
            problems.append("records %d, expected %d (the rows written)" % (v["records"], records))
        if v["queued"] or v["lost"]:
            problems.append("%d queued, %d lost: expected 0" % (v["queued"], v["lost"]))
        if not v["packets"] or v["bytes"] < 54 * v["packets"]:
            problems.append("packets %d, bytes %d: expected packets > 0, bytes >= 54 each" % (v["packets"], v["bytes"]))
        if v["flows"] < records:
            problems.append("flows %d, fewer than the %d records" % (v["flows"], records))
        if v["received"] < v["packets"]:
            problems.append("received %d, fewer than the %d packets read" % (v["received"], v["packets"]))
        if v["drops"] or v["if_drops"] or v["memcap"] or v["evicted"]:
            problems.append("drops %d/%d, memcap hits %d, evicted %d: expected 0"
                            % (v["drops"], v["if_drops"], v["memcap"], v["evicted"]))
    if problems:
        print("; ".join(problems))
        print("line: " + line)
    return 1 if problems else 0


def cmd_stopped(db, keys_path, opened_path, t):
    by_key = {}
    for r in rows(db, "SELECT * FROM connections"):
        by_key.setdefault(r["client_port"], []).append(r)
    problems, done, held = [], 0, 0
    ended = {k["client_port"]: k for k in load_jsonl(keys_path)}
    for k in ended.values():
        if k["ended"] >= t - 0.5:
            continue
        done += 1
        found = same_connection(k, by_key.get(k["client_port"], []))
        if len(found) != 1 or (found[0]["close_code"], found[0]["outcome"]) != (1000, "clean"):
            problems.append("client port %d ended %.2f s before SIGTERM: rows %s"
                            % (k["client_port"], t - k["ended"],
                               [(r["close_code"], r["outcome"], r["termination"]) for r in found]))
    for o in load_jsonl(opened_path):
        k = ended.get(o["client_port"])
        if o["opened"] >= t - 0.5 or (k and k["closing"] <= t + 0.5):
            continue
        held += 1
        found = same_connection(o, by_key.get(o["client_port"], []))
        if len(found) != 1 or found[0]["outcome"] != "unfinished":
            problems.append("client port %d open at SIGTERM%s: rows %s" % (
                o["client_port"], " (idle)" if o.get("idle") else "",
                [(r["close_code"], r["outcome"], r["termination"]) for r in found]))
        elif abs(found[0]["ended_at"] - t) > 2:
            problems.append("client port %d open at SIGTERM%s: ended_at %.3f, %.2f s from the stop"
                            % (o["client_port"], " (idle)" if o.get("idle") else "", found[0]["ended_at"],
                               found[0]["ended_at"] - t))
    if not done or not held:
        problems.append("%d connections ended before SIGTERM and %d were open across it: expected some of each"
                        % (done, held))
    orphans = rows(db, "SELECT count(*) AS n FROM connections WHERE capture_id IS NULL")[0]["n"]
    if orphans:
        problems.append("%d rows without a capture_id" % orphans)
    for p in problems[:15]:
        print(p)
    if len(problems) > 15:
        print("... %d problems in all" % len(problems))
    if not problems:
        print("%d ended before, %d open across SIGTERM" % (done, held))
    return 1 if problems else 0


def cmd_sql(db, query):
    con = connect(db)
    try:
        for r in con.execute(query):
            print("|".join("" if v is None else str(v) for v in r))
    finally:
        con.close()
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "capturing":
            return cmd_capturing(args[0], int(args[1]) if len(args) > 1 else 0)
        if cmd == "captures":
            return cmd_captures(args[0])
        if cmd == "count":
            return cmd_count(args[0])
        if cmd == "integrity":
            return cmd_integrity(args[0])
        if cmd == "keys":
            before = args[args.index("--ended-before") + 1] if "--ended-before" in args else None
            return cmd_keys(args[0], args[1], only="--only" in args[2:],
                            ended_before=float(before) if before is not None else None)
        if cmd == "snapshot":
            return cmd_snapshot(args[0], args[1])
        if cmd == "listed":
            return cmd_listed(args[0], args[1:])
        if cmd == "capture-closed":
            return cmd_capture_closed(args[0])
        if cmd == "capture-ids":
            return cmd_capture_ids(args[0])
        if cmd == "stats-line":
            return cmd_stats_line(args[0], int(args[1]))
        if cmd == "stopped":
            return cmd_stopped(args[0], args[1], args[2], float(args[3]))
        if cmd == "sql":
            return cmd_sql(args[0], args[1])
    except (sqlite3.Error, OSError, ValueError, IndexError) as e:
        print("%s: %s" % (cmd, e))
        return 1
    print("dbcheck.py: unknown command %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
