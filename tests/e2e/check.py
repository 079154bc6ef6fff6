#!/usr/bin/python3
"""Compare the real peers' expectations with wsstatsd's DB, or with tshark.

The peers (tests/peers/py_peers.py, node_peers.js) write one JSON object per
connection: its key (client_ip, client_port, server_ip, server_port) and the
values wsstatsd must record.  Keys absent from an object are not checked; an
object may also hold "expect_any": {column: [allowed values]}.

  check.py --db DB --expect FILE [--expect FILE ...]
      One TAP-style line per expected connection, `ok - python/server-close-1008`
      or `not ok - ...` followed by `#  ` lines (expected vs actual), then
      `e2e/no-extra-rows` for DB rows that no peer expected.

  check.py --tshark-selfcheck --pcap PCAP --expect FILE [...]
      Validates the harness itself, independent of wsstatsd: rebuilds each
      connection's record from tshark's dissection of the capture and checks
      the expectations against it.  Prints one line,
      `ok - e2e/expectations-match-tshark`, with `#  ` details on mismatch
      (-v: one line per connection instead).

Exit status 0 when every line printed was ok, 1 otherwise, 2 on usage errors.
Needs only the standard library (and tshark for the self-check).
"""

import argparse
import json
import sqlite3
import subprocess
import sys

# Columns that only the DB check compares (tshark has no equivalent here).
DB_ONLY = {"handshake_seen", "violations"}
# Bookkeeping keys of an expectation, never compared.
META = {"peer", "scenario", "expect_any", "peer_error"}


# ---------------------------------------------------------------- expectations

def load_expectations(paths):
    exps = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            exps.extend(json.loads(line) for line in f if line.strip())
    return exps


def name_of(exp):
    return "%s/%s" % (exp.get("peer", "?"), exp.get("scenario", "?"))


def key_of(rec):
    return (rec.get("client_ip"), rec.get("client_port"), rec.get("server_port"))


def compare(exp, actual, skip=()):
    """Return a list of `column: expected X, got Y` strings (empty if all match)."""
    problems = []
    for col, want in exp.items():
        if col in META or col in skip:
            continue
        if col not in actual:
            problems.append("%s: expected %s, column missing" % (col, fmt(want)))
        elif actual[col] != want:
            problems.append("%s: expected %s, got %s" % (col, fmt(want), fmt(actual[col])))
    for col, allowed in exp.get("expect_any", {}).items():
        if col in skip:
            continue
        if actual.get(col) not in allowed:
            problems.append("%s: expected one of %s, got %s"
                            % (col, ", ".join(map(fmt, allowed)), fmt(actual.get(col))))
    return problems


def fmt(value):
    return "NULL" if value is None else json.dumps(value, ensure_ascii=False)


def report(ok, name, diagnostics=()):
    print("%s - %s" % ("ok" if ok else "not ok", name))
    for line in diagnostics:
        print("#  " + line)
    return ok


# ---------------------------------------------------------------- DB check

def db_rows(db_path):
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM connections")]
    finally:
        con.close()


def check_db(exps, db_path):
    rows = db_rows(db_path)
    by_key = {}
    for row in rows:
        by_key.setdefault(key_of(row), []).append(row)
    all_ok = True
    used = set()
    for exp in exps:
        name = name_of(exp)
        if "peer_error" in exp:
            all_ok &= report(False, name, ["the peer could not run this scenario: " + exp["peer_error"]])
            continue
        key = key_of(exp)
        matches = by_key.get(key, [])
        used.add(key)
        if not matches:
            all_ok &= report(False, name, ["no row for client %s port %s -> server port %s" % key])
            continue
        problems = compare(exp, matches[0])
        if len(matches) > 1:
            problems.append("%d rows for this connection, expected 1" % len(matches))
        all_ok &= report(not problems, name, problems)
    extra = [r for r in rows if key_of(r) not in used]
    all_ok &= report(not extra, "e2e/no-extra-rows",
                     ["unexpected row: %s" % json.dumps({k: r.get(k) for k in (
                         "id", "client_ip", "client_port", "server_ip", "server_port",
                         "close_code", "outcome", "termination")}) for r in extra])
    return all_ok


# ---------------------------------------------------------------- tshark oracle

TSHARK_FIELDS = [
    "tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
    "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
    "websocket.opcode", "websocket.fin", "websocket.payload_length",
    "websocket.payload.close.status_code", "websocket.payload.close.reason",
    "http.request.uri", "http.request.line", "http.response.code", "http.response.line",
]


def tshark_packets(pcap, server_ports):
    # Decode-As HTTP on the servers' ports: they are random, and a client port
    # that happens to be registered to another protocol would hide the upgrade.
    cmd = ["tshark", "-n", "-r", pcap, "-T", "json"]
    for port in sorted(server_ports):
        cmd += ["-d", "tcp.port==%d,http" % port]
    for field in TSHARK_FIELDS:
        cmd += ["-e", field]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out or b"[]")]


def first(layer, field, default=None):
    values = layer.get(field)
    return values[0] if values else default


def header_lines(lines):
    """{lower-case name: value} from tshark's http.*.line list."""
    headers = {}
    for line in lines or []:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


class WireConnection:
    """One TCP connection rebuilt from tshark's fields, in DB column terms."""

    def __init__(self):
        self.client = None            # (ip, port) of the SYN sender
        self.server = None            # (ip, port) it connected to
        self.close = {}               # side -> (code, reason)
        self.initiator = None
        self.termination = None
        self.messages = {"client": 0, "server": 0}
        self.pings = self.pongs = 0
        self.request = {}
        self.path = None
        self.status = None
        self.response = {}

    def add(self, pkt):
        src = (first(pkt, "ip.src") or first(pkt, "ipv6.src"), int(first(pkt, "tcp.srcport")))
        dst = (first(pkt, "ip.dst") or first(pkt, "ipv6.dst"), int(first(pkt, "tcp.dstport")))
        if self.client is None and first(pkt, "tcp.flags.syn") in ("1", "True") \
                and first(pkt, "tcp.flags.ack") in ("0", "False"):
            self.client, self.server = src, dst
        side = "client" if src == self.client else "server"
        if self.termination is None:
            if first(pkt, "tcp.flags.reset") in ("1", "True"):
                self.termination = "rst_" + side
            elif first(pkt, "tcp.flags.fin") in ("1", "True"):
                self.termination = "fin_" + side
        if "http.request.uri" in pkt:
            self.path = first(pkt, "http.request.uri")
            self.request = header_lines(pkt.get("http.request.line"))
        if "http.response.code" in pkt:
            self.status = int(first(pkt, "http.response.code"))
            self.response = header_lines(pkt.get("http.response.line"))
        self.add_frames(pkt, side)

    def add_frames(self, pkt, side):
        opcodes = [int(o, 0) for o in pkt.get("websocket.opcode", [])]
        fins = pkt.get("websocket.fin", [])
        lengths = pkt.get("websocket.payload_length", [])
        codes = list(pkt.get("websocket.payload.close.status_code", []))
        reasons = list(pkt.get("websocket.payload.close.reason", []))
        for i, op in enumerate(opcodes):
            if op in (0, 1, 2) and i < len(fins) and fins[i] in ("1", "True"):
                self.messages[side] += 1
            elif op == 9:
                self.pings += 1
            elif op == 10:
                self.pongs += 1
            elif op == 8:
                empty = i < len(lengths) and int(lengths[i]) == 0
                code = 1005 if empty or not codes else int(codes.pop(0))
                reason = "" if empty or not reasons or code == 1005 else reasons.pop(0)
                if side not in self.close:
                    self.close[side] = (code, reason)
                    self.initiator = self.initiator or side

    def record(self):
        c, s = self.close.get("client"), self.close.get("server")
        first_frame = self.close.get(self.initiator)
        rec = {"client_ip": self.client[0], "client_port": self.client[1],
               "server_ip": self.server[0], "server_port": self.server[1], "http_status": self.status,
               "path": self.path, "host": self.request.get("host"),
               "origin": self.request.get("origin"), "user_agent": self.request.get("user-agent"),
               "close_initiator": self.initiator,
               "client_close_code": c[0] if c else None,
               "client_close_reason": (c[1] or None) if c else None,
               "server_close_code": s[0] if s else None,
               "server_close_reason": (s[1] or None) if s else None,
               "messages_client": self.messages["client"], "messages_server": self.messages["server"],
               "pings": self.pings, "pongs": self.pongs,
               "termination": self.termination or "capture_end"}
        if self.status is not None and self.status != 101:
            rec.update(outcome="rejected", close_code=None, close_reason=None)
            return rec
        rec["subprotocol"] = self.response.get("sec-websocket-protocol")
        rec["extensions"] = self.response.get("sec-websocket-extensions")
        if first_frame:
            rec.update(close_code=first_frame[0], close_reason=first_frame[1] or None,
                       outcome="clean" if c and s else "half_closed")
        elif self.termination:
            rec.update(close_code=1006, close_reason=None, outcome="abnormal")
        else:
            rec.update(close_code=None, close_reason=None, outcome="unfinished")
        return rec


def wire_records(pcap, server_ports):
    conns = {}
    for pkt in tshark_packets(pcap, server_ports):
        if "tcp.stream" in pkt:
            conns.setdefault(first(pkt, "tcp.stream"), WireConnection()).add(pkt)
    return {key_of(r): r for r in (c.record() for c in conns.values() if c.client)}


def tshark_selfcheck(exps, pcap, verbose):
    wire = wire_records(pcap, {e["server_port"] for e in exps if "server_port" in e})
    problems = []
    for exp in exps:
        name = name_of(exp)
        if "peer_error" in exp:
            problems.append("%s: peer error %s" % (name, exp["peer_error"]))
            continue
        rec = wire.get(key_of(exp))
        found = ["no TCP connection from %s port %s in the capture" % key_of(exp)[:2]] if rec is None \
            else compare(exp, rec, skip=DB_ONLY)
        if verbose:
            report(not found, "tshark/" + name, found)
        problems.extend("%s: %s" % (name, p) for p in found)
    return report(not problems, "e2e/expectations-match-tshark (%d connections)" % len(exps),
                  problems) if not verbose else not problems


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--expect", action="append", required=True, help="expectations (JSON lines)")
    ap.add_argument("--db", help="wsstatsd database to check")
    ap.add_argument("--tshark-selfcheck", action="store_true",
                    help="check the expectations against tshark's dissection of --pcap")
    ap.add_argument("--pcap")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not args.db and not args.tshark_selfcheck:
        ap.error("give --db and/or --tshark-selfcheck")
    if args.tshark_selfcheck and not args.pcap:
        ap.error("--tshark-selfcheck needs --pcap")
    exps = load_expectations(args.expect)
    ok = True
    if args.tshark_selfcheck:
        ok &= tshark_selfcheck(exps, args.pcap, args.verbose)
    if args.db:
        ok &= check_db(exps, args.db)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
