#!/usr/bin/python3
"""tests/tools/losscheck.py — do a capture's records survive handshake loss?

Compares the records wsstatsd wrote for a capture (CLEAN.db) with those it
wrote for the same capture after tests/tools/pcaploss.py took handshake
packets from it (LOSSY.db, PLAN the loss each connection suffered). The
rules (issue 20; docs/design.md §3, "lost handshakes"):

  - every connection keeps exactly one record, and no record appears that
    the clean capture does not have; but a refusal (outcome rejected)
    whose request was lost has none: nothing captured asked for WebSocket;
  - a connection with a close frame still on the wire keeps its close
    code, initiator and reason (unless the frame lost with a head was a
    close frame: then the other side's close may tell otherwise);
  - a connection whose handshake lost a packet has violation `gap` when
    the side that lost it sent anything captured after it (then sequence
    numbers prove the loss), and one that lost nothing is unchanged in
    every compared column.

Records are matched by client address and port and, for a reused port,
by when they lived (a lost SYN moves a record's start, not its span).

    losscheck.py CLEAN.db LOSSY.db PLAN NAME
Prints `ok - NAME-LOSS (n connections)` / `not ok - NAME-LOSS` per kind of
loss, with the connections at fault; exits 1 if any failed.
"""
import sqlite3
import sys
from collections import defaultdict

COLUMNS = ["client_ip", "client_port", "close_code", "close_initiator", "close_reason", "client_close_code",
           "server_close_code", "outcome", "http_status", "violations", "frames_client", "frames_server",
           "started_at", "ended_at"]
REQUEST_LOSSES = ("request", "request+frame", "syn+request")


def records(path):
    """(client_ip, client_port) -> its records, in order of start."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT %s FROM connections ORDER BY client_ip, client_port, started_at" % ",".join(COLUMNS))
    out = defaultdict(list)
    for row in rows:
        r = dict(zip(COLUMNS, row))
        out[(r["client_ip"], r["client_port"])].append(r)
    db.close()
    return out


def overlap(a, b):
    """Whether two records' lifetimes meet (a reused port's connections follow one another)."""
    return a["started_at"] <= b["ended_at"] + 1e-6 and b["started_at"] <= a["ended_at"] + 1e-6


def pair(clean, lossy):
    """(client_ip, client_port, nth) -> (clean record, lossy record or None),
    and the lossy records that match none."""
    pairs, extra = {}, []
    for key in set(clean) | set(lossy):
        left = list(lossy.get(key, []))
        for nth, c in enumerate(clean.get(key, [])):
            match = next((r for r in left if overlap(r, c)), None)
            if match:
                left.remove(match)
            pairs[key + (nth,)] = (c, match)
        extra += [key] * len(left)
    return pairs, extra


def read_plan(path):
    plan = {}
    with open(path) as f:
        for line in f:
            ip, port, nth, loss, lost_close = line.split()
            plan[(ip, int(port), int(nth))] = (loss, lost_close == "1")
    return plan


def check(clean_db, lossy_db, plan_path):
    """Problems per kind of loss, and connections per kind."""
    pairs, extra = pair(records(clean_db), records(lossy_db))
    plan = read_plan(plan_path)
    by_loss, bad = defaultdict(int), defaultdict(list)
    for key, (c, l) in sorted(pairs.items()):
        loss, lost_close = plan.get(key, ("none", False))
        by_loss[loss] += 1
        for p in problems_of(c, l, loss, lost_close):
            bad[loss].append("%s:%d: %s" % (key[0], key[1], p))
    for key in extra:
        bad["extra"].append("%s:%d: a record the clean capture does not have" % key)
    return by_loss, bad


def problems_of(clean, lossy, loss, lost_close):
    if clean["outcome"] == "rejected" and loss in REQUEST_LOSSES:
        return ["a record for a refusal whose request was lost"] if lossy else []
    if not lossy:
        return ["no record"]
    found = []
    had_close = clean["client_close_code"] is not None or clean["server_close_code"] is not None
    keep = ["close_code", "close_initiator", "close_reason"] if had_close and not lost_close else []
    if loss == "none":
        keep = [c for c in COLUMNS if c != "started_at"]
    elif lossy["frames_server" if loss.startswith("response") else "frames_client"] and \
            "gap" not in (lossy["violations"] or ""):
        found.append("no violation gap")
    for k in keep:
        if clean[k] != lossy[k]:
            found.append("%s %r -> %r" % (k, clean[k], lossy[k]))
    return found


def main():
    clean_db, lossy_db, plan_path, name = sys.argv[1:5]
    by_loss, bad = check(clean_db, lossy_db, plan_path)
    failed = False
    for loss in sorted(set(by_loss) | set(bad)):
        if bad[loss]:
            failed = True
            print("not ok - %s-%s (%d of %d connections wrong)" % (name, loss, len(bad[loss]), by_loss[loss]))
            for line in bad[loss][:6]:
                print("#  " + line)
        else:
            print("ok - %s-%s (%d connections)" % (name, loss, by_loss[loss]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
