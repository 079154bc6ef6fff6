#!/usr/bin/python3
"""Every wsstats command on a database built from real-peer captures.

  check_commands.py --wsstats BIN/wsstats --db DB --pcap PCAP
                    --expect FILE [--expect FILE ...]

DB is `wsstatsd -r PCAP -w DB`; PCAP was recorded by tests/peers/record.sh
with EXPECT_OUT, which left the peers' expectations (one JSON object per
connection, see tests/e2e/check.py) next to it.  The expected numbers come
from those expectations (what the peers did: codes, outcomes, initiators,
addresses, paths, hosts, user agents) and, for times, from the capture
file itself (read here with the standard library: when each TCP connection
began and ended, packet and byte totals) -- never from the database.

Prints one `ok - cli/commands-NAME` / `not ok - cli/commands-NAME` line per
case (tests/CONTRACT.md) with `#  ` diagnostics, exit status 1 if any case
failed, 2 on usage errors.
"""

import argparse
import collections
import csv
import datetime
import io
import itertools
import json
import math
import os
import re
import socket
import struct
import subprocess
import sys
import unicodedata

# Connection end times from the capture are the last packet of each TCP
# connection; wsstatsd may end a connection a little earlier (at the second
# FIN, before its final ACK).  A time boundary closer than this to an end
# time is ambiguous and avoided (or allowed either way).
SLACK = 0.005

REGISTRY = {1000: "Normal Closure", 1001: "Going Away", 1002: "Protocol Error",
            1003: "Unsupported Data", 1004: "Reserved", 1005: "No Status Received",
            1006: "Abnormal Closure", 1007: "Invalid Frame Payload Data",
            1008: "Policy Violation", 1009: "Message Too Big", 1010: "Mandatory Extension",
            1011: "Internal Error", 1012: "Service Restart", 1013: "Try Again Later",
            1014: "Bad Gateway", 1015: "TLS Handshake"}

ENDED = ("clean", "half_closed", "abnormal")        # what `durations` measures


def registry_name(code):
    if code in REGISTRY:
        return REGISTRY[code]
    if code < 1000:
        return "Not Used"
    if code < 3000:
        return "Reserved for the WebSocket protocol"
    if code < 4000:
        return "Registered (libraries, frameworks)"
    if code < 5000:
        return "Private Use"
    return None


# ---------------------------------------------------------------- the capture

def read_pcap(path):
    """(linktype, [(ts, data, orig_len)]) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    packets, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        packets.append((sec + frac * scale, data[off:off + incl], orig))
        off += incl
    return linktype, packets


def tcp_endpoints(linktype, b):
    """((src_ip, src_port), (dst_ip, dst_port)) of a TCP packet, else None."""
    if linktype == 1:                                   # Ethernet (+ VLAN tags)
        o, et = 14, struct.unpack(">H", b[12:14])[0]
        while et in (0x8100, 0x88A8) and len(b) >= o + 4:
            et, o = struct.unpack(">H", b[o + 2:o + 4])[0], o + 4
    elif linktype == 113:                               # Linux SLL
        o, et = 16, struct.unpack(">H", b[14:16])[0]
    elif linktype == 276:                               # Linux SLL2
        o, et = 20, struct.unpack(">H", b[0:2])[0]
    elif linktype in (12, 101):                         # raw IP
        o, et = 0, 0x0800 if b[0] >> 4 == 4 else 0x86DD
    else:
        raise ValueError("link type %d not handled by this checker" % linktype)
    if et == 0x0800 and len(b) >= o + 20 and b[o + 9] == 6:
        src = socket.inet_ntop(socket.AF_INET, b[o + 12:o + 16])
        dst = socket.inet_ntop(socket.AF_INET, b[o + 16:o + 20])
        t = o + (b[o] & 15) * 4
    elif et == 0x86DD and len(b) >= o + 40 and b[o + 6] == 6:
        src = socket.inet_ntop(socket.AF_INET6, b[o + 8:o + 24])
        dst = socket.inet_ntop(socket.AF_INET6, b[o + 24:o + 40])
        t = o + 40
    else:
        return None
    if len(b) < t + 4:
        return None
    sp, dp = struct.unpack(">HH", b[t:t + 4])
    return (src, sp), (dst, dp)


class Capture:
    """What the capture file says, independent of wsstatsd."""

    def __init__(self, path):
        linktype, packets = read_pcap(path)
        self.packets = len(packets)
        self.bytes = sum(orig for _, _, orig in packets)
        self.first = packets[0][0] if packets else 0.0
        self.last = packets[-1][0] if packets else 0.0
        self.flows = {}                                 # {frozenset of endpoints: [first, last]}
        for ts, data, _ in packets:
            ends = tcp_endpoints(linktype, data)
            if ends:
                span = self.flows.setdefault(frozenset(ends), [ts, ts])
                span[1] = ts

    def span(self, exp):
        """(started, ended) of an expected connection, as the capture shows them."""
        key = frozenset([(exp["client_ip"], exp["client_port"]), (exp["server_ip"], exp["server_port"])])
        first, last = self.flows[key]
        # a connection still open when the capture ended ends with the capture
        return first, (self.last if exp["outcome"] == "unfinished" else last)


# ---------------------------------------------------------------- reporting

class Report:
    def __init__(self):
        self.failed = False

    def case(self, name, problems):
        problems = [p for p in problems if p]
        print("%s - cli/commands-%s" % ("not ok" if problems else "ok", name))
        for p in problems[:25]:
            print("#  " + p)
        if len(problems) > 25:
            print("#  ... and %d more" % (len(problems) - 25))
        self.failed |= bool(problems)


class Runner:
    """Runs wsstats; a non-zero exit or anything on stderr is a problem."""

    def __init__(self, wsstats, db):
        self.wsstats, self.db = wsstats, db

    def run(self, args, problems, db=True):
        cmd = [self.wsstats] + (["--db", self.db] if db else []) + list(args)
        p = subprocess.run(cmd, capture_output=True)
        out = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0 or p.stderr:
            problems.append("`wsstats %s`: exit %d, stderr: %s" % (
                " ".join(args), p.returncode, p.stderr.decode("utf-8", "replace").strip()[:300]))
        return out

    def json(self, args, problems):
        rows = []
        for line in self.run(list(args) + ["--format", "json"], problems).splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                problems.append("`wsstats %s --format json`: not JSON: %r" % (" ".join(args), line[:200]))
        return rows


def expect_eq(problems, what, want, got):
    if want != got:
        problems.append("%s: expected %s, got %s" % (what, want, got))


def near(a, b, tol=1e-5):
    return a is not None and b is not None and abs(a - b) <= tol


# ---------------------------------------------------------------- the model

def conn_key(exp):
    return (exp["client_ip"], exp["client_port"], exp["server_ip"], exp["server_port"])


def bracket(ip):
    return "[%s]" % ip if ":" in ip else ip


def code_key(exp):
    """top-codes / timeline key: the code, or the outcome when there is none."""
    return exp["close_code"] if exp["close_code"] is not None else exp["outcome"]


def row_code_key(row):
    return row["code"] if row.get("code") is not None else row.get("outcome")


def variants(exp):
    """The records the expectation allows: one, or one per combination of
    the values its expect_any lists (then that connection is ambiguous)."""
    anys = sorted(exp.get("expect_any", {}).items())
    if not anys:
        return [exp]
    out = []
    for combo in itertools.product(*[vals for _, vals in anys]):
        v = dict(exp)
        v.update(zip([c for c, _ in anys], combo))
        out.append(v)
    return out


def count_range(exps, key_fn):
    """(sure, maybe): per key, the connections that certainly have it and
    those that may (an expect_any that makes the key ambiguous)."""
    sure, maybe = collections.Counter(), collections.Counter()
    for e in exps:
        keys = {key_fn(v) for v in variants(e)}
        if len(keys) == 1:
            sure[keys.pop()] += 1
        else:
            for k in keys:
                maybe[k] += 1
    return sure, maybe


def in_range(sure, maybe, k, got):
    return sure[k] <= got <= sure[k] + maybe[k]


def fmt_range(sure, maybe, k):
    return str(sure[k]) if not maybe[k] else "%d..%d" % (sure[k], sure[k] + maybe[k])


def check_counts(problems, what, sure, maybe, got):
    """got {key: count} against the ranges; a key missing from got counts 0."""
    for k in set(sure) | set(maybe) | set(got):
        if not in_range(sure, maybe, k, got.get(k, 0)):
            problems.append("%s %s: %d, expected %s" % (what, k, got.get(k, 0), fmt_range(sure, maybe, k)))


def group_value(exp, key, sensor):
    if key == "server":
        return "%s:%d" % (bracket(exp["server_ip"]), exp["server_port"])
    if key == "client":
        return exp["client_ip"]
    if key == "sensor":
        return sensor
    if key == "user-agent":
        return exp.get("user_agent")
    if key == "path" and exp.get("path") is not None:
        return exp["path"].split("?")[0]  # grouped without the query string
    return exp.get(key)           # host, path, subprotocol (absent for a refusal: NULL)


def display_width(s):
    """Terminal columns of s: wide (CJK, emoji) characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
               for ch in s)


def top_items(top_codes):
    """[(code or outcome, count)] of a group's top codes: JSON's list of
    {"code": N, "count": N} ({"code": null, "outcome": ...} without a code),
    or CSV's "1006:40,unfinished:3". None if unreadable."""
    items = []
    if isinstance(top_codes, list):
        for o in top_codes:
            count, code = o.get("count") if isinstance(o, dict) else None, o.get("code") if isinstance(o, dict) else None
            if type(count) is not int:
                return None
            if code is None and isinstance(o.get("outcome"), str):
                items.append((o["outcome"], count))
            elif type(code) is int:
                items.append((str(code), count))
            else:
                return None
        return items
    for part in (top_codes or "").split(","):
        code, _, count = part.rpartition(":")
        if not code or not count.isdigit():
            return None
        items.append((code, int(count)))
    return items


def match_host(h, f):
    """--host semantics (wsstats --help): any case; without a port, any port."""
    if h is None:
        return False
    h, f = h.lower(), f.lower()
    if ":" in f and not f.startswith("["):
        return h == f
    return h == f or h.startswith(f + ":")


def match_path(p, f):
    """--path: exact, or the same path with a query string; "/prefix*" a prefix."""
    if p is None:
        return False
    if f.endswith("*"):
        return p.startswith(f[:-1])
    return p == f or p.startswith(f + "?")


def parse_codes(spec):
    """--code N[,N-M,none] -> predicate on close_code."""
    parts = []
    for item in spec.split(","):
        if item == "none":
            parts.append(lambda c: c is None)
        elif "-" in item:
            lo, hi = map(int, item.split("-"))
            parts.append(lambda c, lo=lo, hi=hi: c is not None and lo <= c <= hi)
        else:
            parts.append(lambda c, n=int(item): c == n)
    return lambda e: any(p(e["close_code"]) for p in parts)


def nearest_rank(values, p):
    s = sorted(values)
    i = max(int(math.ceil(p / 100.0 * len(s))), 1) - 1
    return s[min(i, len(s) - 1)]


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def hms(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S")


def ymdhms(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- the cases

class Suite:
    def __init__(self, args):
        self.r = Report()
        self.w = Runner(args.wsstats, args.db)
        self.exps = []
        for path in args.expect:
            with open(path, encoding="utf-8") as f:
                self.exps.extend(json.loads(line) for line in f if line.strip())
        self.cap = Capture(args.pcap)
        self.sensor = os.path.basename(args.pcap)
        self.n = len(self.exps)
        self.start, self.end = {}, {}
        for e in self.exps:
            self.start[conn_key(e)], self.end[conn_key(e)] = self.cap.span(e)
        self.ports = sorted({e["server_port"] for e in self.exps})

    # -- helpers

    def check_selection(self, name, filter_args, pred, problems=None):
        """`connections --limit 0` and `top-codes` under filter_args select
        exactly the expected connections for which pred holds."""
        problems = [] if problems is None else problems
        what = " ".join(filter_args)
        hits = {conn_key(e): {bool(pred(v)) for v in variants(e)} for e in self.exps}
        want = {k for k, h in hits.items() if h == {True}}
        maybe = {k for k, h in hits.items() if len(h) > 1}      # expect_any: either way
        rows = self.w.json(["connections", "--limit", "0"] + filter_args, problems)
        got = [(r["client_ip"], r["client_port"], r["server_ip"], r["server_port"]) for r in rows]
        if not len(want) <= len(got) <= len(want) + len(maybe):
            problems.append("connections %s: %d rows, expected %s" % (
                what, len(got), len(want) if not maybe else "%d..%d" % (len(want), len(want) + len(maybe))))
        missing, extra = want - set(got), set(got) - want - maybe
        if missing:
            problems.append("missing: %s" % sorted(missing)[:5])
        if extra:
            problems.append("not expected: %s" % sorted(extra)[:5])
        if len(got) != len(set(got)):
            problems.append("a connection listed twice")
        tc = self.w.json(["top-codes"] + filter_args, problems)
        expect_eq(problems, "top-codes %s: sum of counts = connections rows" % what,
                  len(got), sum(r["count"] for r in tc))
        self.r.case(name, problems)

    def table(self, args, problems):
        out = self.w.run(list(args), problems)
        lines = out.splitlines()
        for i, line in enumerate(lines):
            if display_width(line) > 80:
                problems.append("`wsstats %s` line %d is %d columns wide: %s"
                                % (" ".join(args), i + 1, display_width(line), line))
        return lines

    # -- commands

    def top_codes(self):
        p = []
        rows = self.w.json(["top-codes"], p)
        sure, maybe = count_range(self.exps, code_key)
        got = {}
        for r in rows:
            k = row_code_key(r)
            if k in got:
                p.append("two rows for %s" % k)
            got[k] = r["count"]
            if not near(r["share"], r["count"] / self.n, 1e-5):
                p.append("%s: share %s, expected %.6f" % (k, r["share"], r["count"] / self.n))
            if r.get("code") is not None:
                expect_eq(p, "%s: name" % k, registry_name(r["code"]), r["name"])
                if r.get("outcome") is not None:
                    p.append("%s: outcome should be null with a code, is %s" % (k, r["outcome"]))
        check_counts(p, "count of code (outcome for no code)", sure, maybe, got)
        expect_eq(p, "sum of counts", self.n, sum(got.values()))
        if not near(sum(r["share"] for r in rows), 1.0, 1e-4):
            p.append("shares sum to %s" % sum(r["share"] for r in rows))
        counts = [r["count"] for r in rows]
        if counts != sorted(counts, reverse=True):
            p.append("not most frequent first: %s" % counts)
        self.r.case("top-codes", p)

    def summary(self):
        p = []
        rows = self.w.json(["summary"], p)
        got = {(r["section"], r["key"]): r["count"] for r in rows}
        want = {("connections", "total"): self.n,
                ("connections", "handshake seen"): sum(e.get("handshake_seen", 1) for e in self.exps),
                ("connections", "picked up mid-stream"): 0,
                ("captures", "captures"): 1,
                ("captures", "packets"): self.cap.packets,
                ("captures", "bytes"): self.cap.bytes,
                ("captures", "TCP flows"): len(self.cap.flows),
                ("captures", "dropped by the kernel (libpcap)"): 0}
        for k, v in want.items():
            expect_eq(p, "%s/%s" % k, v, got.get(k))
        for section, key_fn in (("outcome", lambda e: e["outcome"]),
                                ("initiator", lambda e: e["close_initiator"] or "(no close frame)"),
                                ("termination", lambda e: e["termination"])):
            sure, maybe = count_range(self.exps, key_fn)
            check_counts(p, section, sure, maybe, {k: c for (s, k), c in got.items() if s == section})
        if all(e.get("violations") is None for e in self.exps):
            for (section, key), count in got.items():
                if section == "violations" and count:
                    p.append("violations %s: %d, the peers sent no violation" % (key, count))
        for r in rows:
            if r["share"] is not None and r["section"] in ("outcome", "initiator", "termination") \
                    and not near(r["share"], r["count"] / self.n):
                p.append("%s/%s: share %s, expected %.6f" % (r["section"], r["key"], r["share"], r["count"] / self.n))
        self.r.case("summary", p)

    def connections(self):
        p = []
        rows = self.w.json(["connections", "--limit", "0"], p)
        expect_eq(p, "--limit 0 rows", self.n, len(rows))
        by_key = {(r["client_ip"], r["client_port"], r["server_ip"], r["server_port"]): r for r in rows}
        expect_eq(p, "distinct connections", self.n, len(by_key))
        wrong = 0
        for e in self.exps:
            r = by_key.get(conn_key(e))
            if r is None:
                p.append("no row for %s" % (conn_key(e),))
                continue
            for col, val in e.items():
                if col in ("peer", "scenario", "expect_any", "peer_error"):
                    continue
                if r.get(col) != val:
                    wrong += 1
                    if wrong <= 10:
                        p.append("%s/%s %s: expected %s, got %s" % (e.get("peer"), e.get("scenario"), col, val, r.get(col)))
            for col, allowed in e.get("expect_any", {}).items():
                if r.get(col) not in allowed:
                    p.append("%s %s: expected one of %s, got %s" % (e.get("scenario"), col, allowed, r.get(col)))
        self.r.case("connections-all-rows-and-values", p)

        p = []
        ends = [r["ended_at"] for r in rows]
        if any(a < b for a, b in zip(ends, ends[1:])):
            i = next(i for i, (a, b) in enumerate(zip(ends, ends[1:])) if a < b)
            p.append("not newest first: row %d ended %.6f, row %d %.6f" % (i + 1, ends[i], i + 2, ends[i + 1]))
        for r in rows:
            k = (r["client_ip"], r["client_port"], r["server_ip"], r["server_port"])
            if k in self.end and not (self.end[k] - SLACK <= r["ended_at"] <= self.end[k] + 1e-6):
                p.append("%s ended_at %.6f, the capture ends it at %.6f" % (k, r["ended_at"], self.end[k]))
        default = self.w.json(["connections"], p)
        expect_eq(p, "rows without --limit (default 50)", min(50, self.n), len(default))
        seven = self.w.json(["connections", "--limit", "7"], p)
        expect_eq(p, "--limit 7: the 7 newest", [r["id"] for r in rows[:7]], [r["id"] for r in seven])
        self.r.case("connections-newest-first-and-limit", p)

        self.check_selection("connections-outcome-abnormal", ["--outcome", "abnormal"],
                             lambda e: e["outcome"] == "abnormal")
        self.check_selection("connections-code-1006", ["--code", "1006"], lambda e: e["close_code"] == 1006)

    def check_top(self, what, top_codes, members, p):
        """A group's top codes (JSON list or CSV string, see top_items): its
        three most frequent codes with their counts; ties may go either way."""
        sure, maybe = count_range(members, lambda e: str(code_key(e)))
        want = set(sure) | set(maybe)
        items = top_items(top_codes)
        if items is None:
            p.append("%s: top_codes %r unreadable" % (what, top_codes))
            return
        if len(items) != min(3, len(want)):
            p.append("%s: top_codes %r has %d codes, expected %d" % (what, top_codes, len(items), min(3, len(want))))
        for code, count in items:
            if not in_range(sure, maybe, code, count):
                p.append("%s: top_codes %s:%d, expected %s:%s" % (what, code, count, code, fmt_range(sure, maybe, code)))
        counts = [c for _, c in items]
        if counts != sorted(counts, reverse=True):
            p.append("%s: top_codes %r not most frequent first" % (what, top_codes))
        listed = {c for c, _ in items}
        if items and any(c not in listed and n > items[-1][1] for c, n in sure.items()):
            p.append("%s: top_codes %r leaves out a more frequent code (%s)" % (what, top_codes, dict(sure)))

    def group_by(self, key, field):
        p = []
        rows = self.w.json(["group-by", key, "--limit", "0"], p)
        groups = collections.defaultdict(list)
        for e in self.exps:
            for g in {group_value(v, key, self.sensor) for v in variants(e)}:
                groups[g].append(e)
        sure, maybe = count_range(self.exps, lambda e: group_value(e, key, self.sensor))
        got = {}
        for r in rows:
            g = r.get(field)
            if g in got:
                p.append("two rows for %s %r" % (key, g))
            got[g] = r["count"]
            if not near(r["share"], r["count"] / self.n):
                p.append("%r: share %s, expected %.6f" % (g, r["share"], r["count"] / self.n))
            if g in groups:
                self.check_top(repr(g), r["top_codes"], groups[g], p)
        check_counts(p, "count of %s" % key, sure, maybe, got)
        counts = [r["count"] for r in rows]
        if counts != sorted(counts, reverse=True):
            p.append("not largest first: %s" % counts)
        if len(groups) > 20:
            expect_eq(p, "groups without --limit (default 20)", 20, len(self.w.json(["group-by", key], p)))
        # CSV says the same in its compact form: "1006:40,unfinished:3"
        text = self.w.run(["group-by", key, "--limit", "0", "--format", "csv"], p)
        csv_rows = list(csv.DictReader(io.StringIO(text, newline="")))
        expect_eq(p, "CSV rows", len(rows), len(csv_rows))
        for r, c in zip(rows, csv_rows):
            expect_eq(p, "CSV top_codes of %r" % r.get(field), top_items(r["top_codes"]), top_items(c.get("top_codes")))
        self.r.case("group-by-" + key, p)

    def timeline(self):
        p = []
        rows = self.w.json(["timeline"], p)
        expect_eq(p, "default buckets: sum of counts", self.n, sum(r["count"] for r in rows))
        for r in rows:
            b, w = r["bucket"], r["bucket_seconds"]
            if not w or abs(b / w - round(b / w)) > 1e-6:
                p.append("bucket %s not a multiple of its width %s" % (b, w))
        self.r.case("timeline-default-sum", p)

        for width, spec in ((1, "1s"), (60, "1m")):
            p = []
            rows = self.w.json(["timeline", "--bucket", spec], p)
            expect_eq(p, "--bucket %s: sum of counts" % spec, self.n, sum(r["count"] for r in rows))
            got = collections.Counter()
            for r in rows:
                if r["bucket_seconds"] != width:
                    p.append("bucket_seconds %s, expected %d" % (r["bucket_seconds"], width))
                if r["bucket"] != math.floor(r["bucket"] / width) * width:
                    p.append("bucket %s not a multiple of %d" % (r["bucket"], width))
                if got[(r["bucket"], row_code_key(r))]:
                    p.append("two rows for bucket %s code %s" % (r["bucket"], row_code_key(r)))
                got[(r["bucket"], row_code_key(r))] += r["count"]
            # expected: per bucket and code, from the capture's end times; a
            # connection ending within SLACK of a boundary may fall either side
            sure, maybe = collections.Counter(), collections.Counter()
            for e in self.exps:
                t = self.end[conn_key(e)]
                buckets = {float(math.floor(t / width) * width), float(math.floor((t - SLACK) / width) * width)}
                keys = {(b, code_key(v)) for b in buckets for v in variants(e)}
                if len(keys) == 1:
                    sure[keys.pop()] += 1
                else:
                    for k in keys:
                        maybe[k] += 1
            for k in set(sure) | set(maybe) | set(got):
                if not in_range(sure, maybe, k, got[k]):
                    p.append("bucket %s (%s) code %s: %d, expected %s" % (
                        k[0], hms(k[0]), k[1], got[k], fmt_range(sure, maybe, k)))
            self.r.case("timeline-bucket-" + spec, p)

    def durations(self):
        p = []
        rows = self.w.json(["durations"], p)
        ended = [e for e in self.exps if all(v["outcome"] in ENDED for v in variants(e))]
        unsure = sum(len({v["outcome"] in ENDED for v in variants(e)}) > 1 for e in self.exps)
        by = {r["measure"]: r for r in rows}
        life, idle = by.get("lifetime"), by.get("idle_before_close")
        if life is None or idle is None:
            p.append("no lifetime / idle_before_close row: %s" % rows)
            self.r.case("durations-counts", p)
            return
        for r in (life, idle):
            if not len(ended) <= r["count"] <= len(ended) + unsure:
                p.append("%s count %d, expected %s (clean + half_closed + abnormal)" % (
                    r["measure"], r["count"],
                    len(ended) if not unsure else "%d..%d" % (len(ended), len(ended) + unsure)))
            expect_eq(p, "%s share" % r["measure"], 1.0, r["share"])
        self.r.case("durations-counts", p)
        if unsure:
            print("ok - cli/commands-durations-values # SKIP %d connections may or may not have ended" % unsure)
            return

        p = []
        # lifetimes from the capture (first packet to last), nearest rank
        lifetimes = [self.end[conn_key(e)] - self.start[conn_key(e)] for e in ended]
        for stat, want in (("min", min(lifetimes)), ("p50", nearest_rank(lifetimes, 50)),
                           ("p90", nearest_rank(lifetimes, 90)), ("p99", nearest_rank(lifetimes, 99)),
                           ("max", max(lifetimes))):
            if not want - SLACK <= life[stat] <= want + 1e-5:
                p.append("lifetime %s: %.6f, the capture says %.6f" % (stat, life[stat], want))
        stats = [idle[s] for s in ("min", "p50", "p90", "p99", "max")]
        if stats != sorted(stats) or stats[0] < 0:
            p.append("idle_before_close min..max not ascending: %s" % stats)
        if idle["max"] > life["max"] + 1e-6:
            p.append("idle_before_close max %.6f > lifetime max %.6f" % (idle["max"], life["max"]))
        # the demo's "idle timeout" closes come idle_ms = 700 ms after the
        # server's last echo (scenarios.json): at least that many idle times
        # are >= 0.7 s, so the percentiles of those ranks are too
        idlers = sum(e.get("close_reason") == "idle timeout" and e.get("close_initiator") == "server"
                     for e in ended)
        n = len(ended)
        for stat, pct in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)):
            rank = max(int(math.ceil(pct / 100.0 * n)), 1)
            if idlers and rank > n - idlers and idle[stat] < 0.7 - SLACK:
                p.append("idle_before_close %s %.6f: rank %d of %d is one of the %d idle-timeout "
                         "closes (700 ms after the last message)" % (stat, idle[stat], rank, n, idlers))
        self.r.case("durations-values", p)

    # -- filters

    def filters(self):
        exps = self.exps
        py = [e for e in exps if e.get("peer") == "python"]
        port = (py or exps)[0]["server_port"]
        other = next((q for q in self.ports if q != port), port)
        sel = self.check_selection
        sel("filter-server-v4-port", ["--server", "127.0.0.1:%d" % port],
            lambda e: e["server_ip"] == "127.0.0.1" and e["server_port"] == port)
        sel("filter-server-v6-port", ["--server", "[::1]:%d" % port],
            lambda e: e["server_ip"] == "::1" and e["server_port"] == port)
        sel("filter-server-v6-noport", ["--server", "::1"], lambda e: e["server_ip"] == "::1")
        sel("filter-server-v4-noport", ["--server", "127.0.0.1"], lambda e: e["server_ip"] == "127.0.0.1")
        sel("filter-server-port-only", ["--server", ":%d" % other], lambda e: e["server_port"] == other)
        sel("filter-client-v6", ["--client", "::1"], lambda e: e["client_ip"] == "::1")
        sel("filter-client-v4", ["--client", "127.0.0.1"], lambda e: e["client_ip"] == "127.0.0.1")
        one = exps[len(exps) // 3]
        sel("filter-client-ip-port", ["--client", "%s:%d" % (bracket(one["client_ip"]), one["client_port"])],
            lambda e: e["client_ip"] == one["client_ip"] and e["client_port"] == one["client_port"])

        paths = collections.Counter(e["path"] for e in exps if e.get("path"))
        exact = paths.most_common(1)[0][0]
        sel("filter-path-exact", ["--path", exact], lambda e: match_path(e.get("path"), exact))
        bare = exact.split("?")[0]
        if bare != exact:
            sel("filter-path-without-query", ["--path", bare], lambda e: match_path(e.get("path"), bare))
        prefix = exact[:max(2, len(bare) - 2)] + "*"
        sel("filter-path-prefix", ["--path", prefix], lambda e: match_path(e.get("path"), prefix))
        sel("filter-path-all", ["--path", "/*"], lambda e: match_path(e.get("path"), "/*"))

        hosts = sorted({e["host"] for e in exps if e.get("host")})
        v4 = next((h for h in hosts if not h.startswith("[")), hosts[0])
        sel("filter-host-exact-upper-case", ["--host", v4.upper()], lambda e: match_host(e.get("host"), v4))
        name = v4.rsplit(":", 1)[0]
        sel("filter-host-any-port", ["--host", name.upper()], lambda e: match_host(e.get("host"), name))
        sel("filter-host-v6", ["--host", "[::1]"], lambda e: match_host(e.get("host"), "[::1]"))
        sel("filter-host-v6-port", ["--host", "[::1]:%d" % port],
            lambda e: match_host(e.get("host"), "[::1]:%d" % port))

        for spec in ("4000-4999", "none", "1000,1001", "1005-1006,none"):
            sel("filter-code-" + spec.replace(",", "+"), ["--code", spec], parse_codes(spec))
        sel("filter-outcome-list", ["--outcome", "abnormal,half_closed"],
            lambda e: e["outcome"] in ("abnormal", "half_closed"))
        sel("filter-outcome-unfinished", ["--outcome", "unfinished"], lambda e: e["outcome"] == "unfinished")
        sel("filter-outcome-rejected", ["--outcome", "rejected"], lambda e: e["outcome"] == "rejected")
        sel("filter-sensor", ["--sensor", self.sensor], lambda e: True)
        sel("filter-sensor-wrong", ["--sensor", "eth0"], lambda e: False)
        sel("filter-combined", ["--server", ":%d" % port, "--code", "1000", "--client", "127.0.0.1"],
            lambda e: e["server_port"] == port and e["close_code"] == 1000 and e["client_ip"] == "127.0.0.1")

        # filter values are data, never SQL or LIKE patterns
        for name, args in (("host-quote", ["--host", "x' OR '1'='1"]),
                           ("host-percent", ["--host", "%"]),
                           ("path-percent", ["--path", "%"]),
                           ("path-underscore", ["--path", exact[:-1] + "_"]),
                           ("path-quote", ["--path", "/' OR ''='"]),
                           ("sensor-quote", ["--sensor", "x' OR 1=1 --"])):
            literal = args[1]
            if args[0] == "--path" and any(match_path(e.get("path"), literal) for e in exps):
                continue
            sel("literal-" + name, args, lambda e: False)

    def windows(self):
        """--since/--until: times from the capture, boundaries away from any end."""
        ends = sorted(self.end.values())
        newest = self.cap.last          # the unfinished connections end with the capture
        sel = self.check_selection
        before = math.floor(self.cap.first) - 1
        sel("window-until-before-all", ["--until", iso(before) + "Z"], lambda e: False)
        sel("window-until-before-all-no-zone", ["--until", iso(before)], lambda e: False)
        sel("window-since-before-all", ["--since", iso(before)], lambda e: True)
        after = math.ceil(newest) + 1
        sel("window-since-after-all", ["--since", iso(after) + "Z"], lambda e: False)
        sel("window-until-after-all", ["--until", iso(after) + "Z"], lambda e: True)
        sel("window-since-1h", ["--since", "1h"], lambda e: True)

        def clear(t):
            return all(abs(t - x) > SLACK for x in ends)

        middle = [t for t in range(math.ceil(ends[0]), math.floor(ends[-1]) + 1) if clear(t)]
        if middle:
            t = middle[len(middle) // 2]
            sel("window-since-iso", ["--since", iso(t) + "Z"], lambda e: self.end[conn_key(e)] >= t)
            sel("window-until-iso", ["--until", iso(t) + "Z"], lambda e: self.end[conn_key(e)] < t)
            t0, t1 = middle[0], (middle[-1] if len(middle) > 1 else after)
            sel("window-since-until", ["--since", iso(t0), "--until", iso(t1)],
                lambda e: t0 <= self.end[conn_key(e)] < t1)
        else:
            print("ok - cli/commands-window-iso # SKIP every whole second is within %g s of a connection's end"
                  % SLACK)
        rel = next((s for s in (1, 2, 3, 4, 5, 7, 10) if clear(newest - s)), None)
        if rel:
            sel("window-since-relative", ["--since", "%ds" % rel],
                lambda e: self.end[conn_key(e)] >= newest - rel)
        else:
            print("ok - cli/commands-window-since-relative # SKIP connections end near every whole second")

    # -- table output

    def tables(self):
        p = []
        commands = [["top-codes"], ["summary"], ["connections"], ["connections", "--limit", "0"],
                    ["timeline"], ["timeline", "--bucket", "1s"], ["durations"]]
        commands += [["group-by", k] for k in ("host", "path", "server", "client", "subprotocol",
                                               "user-agent", "sensor")]
        for args in commands:
            lines = self.table(args, p)
            if not lines:
                p.append("`wsstats %s`: no output" % " ".join(args))
                continue
            if "all records" not in lines[0]:
                p.append("`wsstats %s`: first line does not name the window: %s" % (" ".join(args), lines[0]))
            if args[0] not in ("connections",) and not lines[0].startswith("%d connection" % (
                    self.n if args[0] != "durations" else sum(e["outcome"] in ENDED for e in self.exps))):
                p.append("`wsstats %s`: first line does not give the count: %s" % (" ".join(args), lines[0]))
        self.r.case("table-width-and-window", p)

        # the registry commands: `codes`, and `explain` for every code or
        # range it lists (and the codes in this database)
        p = []
        self.table(["codes"], p)
        codes = {e["close_code"] for e in self.exps if e["close_code"] is not None}
        for r in self.w.json(["codes"], p):
            if type(r.get("lo")) is int:
                codes.add(r["lo"])
                expect_eq(p, "codes: name of %s" % r["lo"], registry_name(r["lo"]), r.get("name"))
        for code in sorted(codes):
            self.table(["explain", str(code)], p)
        self.r.case("table-width-codes-explain", p)

        # a relative window: the first line says where it starts and ends
        p = []
        newest = self.cap.last
        for args in (["top-codes", "--since", "1h"], ["summary", "--since", "1h"],
                     ["timeline", "--since", "1h"], ["group-by", "path", "--since", "1h"],
                     ["durations", "--since", "1h"], ["connections", "--since", "1h"]):
            lines = self.table(args, p)
            head = " ".join(l.strip() for l in lines[:lines.index("")] if l) if "" in lines else " ".join(lines[:2])
            if "counted back from the newest record" not in head:
                p.append("`wsstats %s`: header does not say the window is anchored on the newest record: %s"
                         % (" ".join(args), head))
            frac = newest - math.floor(newest)
            if SLACK < frac < 1 - SLACK:
                # the end repeats the date only when the window crosses midnight
                same_day = ymdhms(newest - 3600)[:10] == ymdhms(newest)[:10]
                want = "ended %s .. %s UTC" % (ymdhms(newest - 3600),
                                               hms(newest) if same_day else ymdhms(newest))
                if want not in lines[0]:
                    p.append("`wsstats %s`: first line should name the window %r: %s" % (" ".join(args), want, lines[0]))
        self.r.case("table-window-since-1h", p)

        # the numbers in the top-codes table are the expected ones
        p = []
        lines = self.table(["top-codes"], p)
        want = collections.Counter(e["close_code"] for e in self.exps if e["close_code"] is not None)
        for code, count in want.items():
            pat = re.compile(r"^\s*%d\s+.*?\s%d\s+\d+\.\d%%" % (code, count))
            if not any(pat.match(l) for l in lines):
                p.append("no table row `%d ... %d NN.N%%`" % (code, count))
        lines = self.table(["summary"], p)
        if not any(re.match(r"^\s*total\s+%d\s*$" % self.n, l) for l in lines):
            p.append("summary table has no `total %d` line" % self.n)
        self.r.case("table-numbers", p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wsstats", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--expect", action="append", required=True)
    s = Suite(ap.parse_args())
    if not s.exps:
        s.r.case("expectations", ["no expectations in the files given"])
        return 1
    s.top_codes()
    s.summary()
    s.connections()
    for key, field in (("server", "server"), ("path", "path"), ("host", "host"), ("client", "client"),
                       ("user-agent", "user_agent"), ("subprotocol", "subprotocol"), ("sensor", "sensor")):
        s.group_by(key, field)
    s.timeline()
    s.durations()
    s.filters()
    s.windows()
    s.tables()
    return 1 if s.r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
