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
  keys DB KEYS [--only]   every key of KEYS (traffic.py's JSON lines) has
                          exactly one row, close_code 1000, outcome clean;
                          --only: and there are no other rows
  snapshot DB KEYS        prints those keys' rows (id and all columns) as JSON,
                          to compare before and after a restart
  listed JSON EXPECT...   every connection of the peers' expectation files
                          that is not meant to be open still ("unfinished")
                          is a line of JSON (`wsstats connections --format json`)
  capture-closed DB       the newest `captures` row: kind live, status
                          stopped, ended_at set (>= started_at), packets > 0
"""

import json
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


def cmd_keys(db, keys_path, only=False):
    want = [key(k) for k in load_jsonl(keys_path)]
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
        problems.append("%s lists no connection (the traffic did not run?)" % keys_path)
    for k in want:
        found = have.get(k, [])
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
    for p in problems:
        print(p)
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
    if not (c.get("packets") or 0) > 0:
        problems.append("packets %r, expected > 0" % c.get("packets"))
    if problems:
        print("; ".join(problems))
        print("row: " + json.dumps(c))
    return 1 if problems else 0


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
            return cmd_keys(args[0], args[1], only="--only" in args[2:])
        if cmd == "snapshot":
            return cmd_snapshot(args[0], args[1])
        if cmd == "listed":
            return cmd_listed(args[0], args[1:])
        if cmd == "capture-closed":
            return cmd_capture_closed(args[0])
    except (sqlite3.Error, OSError, ValueError, IndexError) as e:
        print("%s: %s" % (cmd, e))
        return 1
    print("dbcheck.py: unknown command %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
