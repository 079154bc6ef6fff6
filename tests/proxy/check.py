#!/usr/bin/python3
"""Helpers of tests/proxy/run.sh: tshark as the oracle, DB agreement, durations output.

  check.py oracle --pcap P --ports NGINX BACKEND > oracle.tsv
      Rebuilds every WebSocket connection of the capture from tshark's
      dissection alone (HTTP decoded on both ports) and derives, by the rules
      of docs/design.md §3, what wsstatsd must record for it.  One TSV line per
      connection: client_port server_port path http_status close_frames
      (e.g. "client:1000,server:1000" or "-") outcome close_code (or "-")
      termination idle (ended_at - max(last_frame_at, upgraded_at), seconds).

  check.py agree --db DB --oracle oracle.tsv
      Compares the DB's row of each connection with the oracle's line:
      path, http_status, outcome, close_code, termination exactly, the idle
      time within 2 ms.  Exit 0 if all agree (and no row is missing or
      extra), else prints one "#  " line per difference (at most 20), exit 1.

  check.py durations --json FILE --p50 3.0 --tol 0.3 (--min-count N | --count N) [--code C]
      Checks `wsstats durations --format json` output: every line a JSON
      object with the keys measure, count, share, min, p50, p90, p99, max,
      code; rows "lifetime" and "idle_before_close" present; a row "idle_cluster"
      with p50 within p50±tol, count >= N (or == N) and, with --code, that
      most frequent close code.  Exit 0 if so, else "#  " lines, exit 1.

Standard library only (plus tshark for `oracle`).
"""

import argparse
import json
import sqlite3
import subprocess
import sys

FIELDS = ["tcp.stream", "frame.time_epoch", "tcp.srcport", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
          "http.request.uri", "http.response.code", "websocket.opcode",
          "websocket.payload.close.status_code"]
DURATION_KEYS = {"measure", "count", "share", "min", "p50", "p90", "p99", "max", "code"}


def flag(v):
    return v in ("1", "True", "true")


def tshark_rows(pcap, ports):
    cmd = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for port in ports:
        cmd += ["-d", "tcp.port==%d,http" % port]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        yield dict(zip(FIELDS, cols))


def oracle(args):
    conns = {}
    for p in tshark_rows(args.pcap, args.ports):
        c = conns.setdefault(p["tcp.stream"], {"client": None, "path": None, "status": None,
                                                "upgraded": None, "closes": [], "teardown": None,
                                                "last_frame": None, "end": None, "packets": []})
        t = float(p["frame.time_epoch"])
        src, dst = int(p["tcp.srcport"]), int(p["tcp.dstport"])
        if flag(p["tcp.flags.syn"]) and not flag(p["tcp.flags.ack"]) and c["client"] is None:
            c["client"] = (src, dst)
        c["packets"].append((src, dst))
        c["end"] = t
        if p["http.request.uri"] and c["path"] is None:
            c["path"] = p["http.request.uri"].split(",")[0]
        if p["http.response.code"] and c["status"] is None:
            c["status"] = int(p["http.response.code"].split(",")[0])
            if c["status"] == 101:
                c["upgraded"] = t
        side = None
        if c["client"]:
            side = "client" if src == c["client"][0] else "server"
        if p["websocket.opcode"]:
            c["last_frame"] = t
            ops = p["websocket.opcode"].split(",")
            codes = [x for x in p["websocket.payload.close.status_code"].split(",") if x]
            for op in ops:
                if op == "8":
                    c["closes"].append((side, int(codes.pop(0)) if codes else 1005))
        if c["teardown"] is None and (flag(p["tcp.flags.fin"]) or flag(p["tcp.flags.reset"])):
            c["teardown"] = "%s_%s" % ("rst" if flag(p["tcp.flags.reset"]) else "fin", side)
    for c in conns.values():
        if c["client"] is None or c["path"] is None:
            continue              # not a WebSocket attempt seen from its start
        closes = c["closes"]
        sides = {s for s, _ in closes}
        if c["status"] != 101:
            outcome, code = "rejected", None
        elif closes:
            outcome, code = ("clean" if sides == {"client", "server"} else "half_closed"), closes[0][1]
        elif c["teardown"]:
            outcome, code = "abnormal", 1006
        else:
            outcome, code = "unfinished", None
        idle = None
        if c["upgraded"] is not None:
            idle = c["end"] - max(c["last_frame"] or 0, c["upgraded"])
        print("\t".join(str(x) for x in (
            c["client"][0], c["client"][1], c["path"], c["status"],
            ",".join("%s:%d" % s for s in closes) or "-", outcome,
            "-" if code is None else code, c["teardown"] or "capture_end",
            "-" if idle is None else "%.6f" % idle)))
    return 0


def agree(args):
    want = {}
    with open(args.oracle, encoding="utf-8") as f:
        for line in f:
            cport, sport, path, status, _closes, outcome, code, term, idle = line.rstrip("\n").split("\t")
            want[(int(cport), int(sport))] = {
                "path": path, "http_status": None if status == "None" else int(status),
                "outcome": outcome, "close_code": None if code == "-" else int(code),
                "termination": term, "idle": None if idle == "-" else float(idle)}
    db = sqlite3.connect(args.db)
    got = {}
    for row in db.execute("SELECT client_port, server_port, path, http_status, outcome, close_code,"
                          " termination, ended_at - max(coalesce(last_frame_at, 0), upgraded_at)"
                          " FROM connections"):
        got[(row[0], row[1])] = {"path": row[2], "http_status": row[3], "outcome": row[4],
                                 "close_code": row[5], "termination": row[6], "idle": row[7]}
    diffs = []
    for key in sorted(set(want) | set(got)):
        w, g = want.get(key), got.get(key)
        name = "%d->%d %s" % (key[0], key[1], (w or g)["path"])
        if w is None or g is None:
            diffs.append("%s: %s" % (name, "not in the DB" if g is None else "not seen by tshark"))
            continue
        for col in ("path", "http_status", "outcome", "close_code", "termination"):
            if w[col] != g[col]:
                diffs.append("%s: %s DB %r, tshark %r" % (name, col, g[col], w[col]))
        if (w["idle"] is None) != (g["idle"] is None) or \
                (w["idle"] is not None and abs(w["idle"] - g["idle"]) > 0.002):
            diffs.append("%s: idle DB %r, tshark %r" % (name, g["idle"], w["idle"]))
    for d in diffs[:20]:
        print("#  " + d)
    return 1 if diffs else 0


def durations(args):
    problems = []
    rows = []
    try:
        with open(args.json, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    problems.append("line %d is not JSON: %.80s" % (n, line.strip()))
                    continue
                if not isinstance(obj, dict) or not DURATION_KEYS <= set(obj):
                    problems.append("line %d lacks keys %s" % (
                        n, sorted(DURATION_KEYS - set(obj)) if isinstance(obj, dict) else "(not an object)"))
                    continue
                rows.append(obj)
    except OSError as e:
        problems.append(str(e))
    measures = {r["measure"] for r in rows}
    for m in ("lifetime", "idle_before_close"):
        if m not in measures:
            problems.append('no row with "measure":"%s"' % m)
    clusters = [r for r in rows if r["measure"] == "idle_cluster"]
    near = [r for r in clusters if isinstance(r["p50"], (int, float))
            and abs(r["p50"] - args.p50) <= args.tol]
    if not near:
        problems.append('no "idle_cluster" row with p50 within %.1f±%.1f s (clusters: %s)'
                        % (args.p50, args.tol, json.dumps(clusters)[:300]))
    near.sort(key=lambda r: -r["count"] if isinstance(r["count"], int) else 0)
    for r in near[:1]:
        if args.count is not None and r["count"] != args.count:
            problems.append("idle_cluster count %r, want %d: %s" % (r["count"], args.count, json.dumps(r)))
        if args.min_count is not None and not (isinstance(r["count"], int) and r["count"] >= args.min_count):
            problems.append("idle_cluster count %r, want >= %d: %s" % (r["count"], args.min_count, json.dumps(r)))
        if args.code is not None and str(r["code"]) != str(args.code):
            problems.append("idle_cluster code %r, want %d: %s" % (r["code"], args.code, json.dumps(r)))
        if not (isinstance(r["min"], (int, float)) and isinstance(r["max"], (int, float))
                and r["min"] <= r["p50"] <= r["max"]):
            problems.append("idle_cluster range does not hold its median: %s" % json.dumps(r))
    for p in problems:
        print("#  " + p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("oracle")
    o.add_argument("--pcap", required=True)
    o.add_argument("--ports", type=int, nargs="+", required=True)
    a = sub.add_parser("agree")
    a.add_argument("--db", required=True)
    a.add_argument("--oracle", required=True)
    d = sub.add_parser("durations")
    d.add_argument("--json", required=True)
    d.add_argument("--p50", type=float, required=True)
    d.add_argument("--tol", type=float, required=True)
    d.add_argument("--min-count", type=int)
    d.add_argument("--count", type=int)
    d.add_argument("--code", type=int)
    args = ap.parse_args()
    return {"oracle": oracle, "agree": agree, "durations": durations}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
