#!/usr/bin/python3
"""Real peers that provoke real WebSocket protocol failures, and their checker.

Peer mode (run while tcpdump records lo; one process, one asyncio loop, IPv4):

  violations.py --ports WS,SMALL,RAW --expect OUT.jsonl

  WS    a python3-websockets 10.4 server (defaults),
  SMALL a python3-websockets server with max_size=1024,
  RAW   a hand-written server that answers the upgrade, sends close 1001 and
        closes its socket at once, never reading the client's echo.

  Cases, one connection each, run one after the other:
    unmasked-client-frame  raw-socket client: real upgrade to WS, then an
                           UNMASKED text frame; the server fails the
                           connection (close 1002) -- the client reads the
                           server's close frame from the socket, never echoes
    message-too-big        websockets client sends 4096 bytes to SMALL; the
                           server closes with 1009
    client-close-3003      websockets client closes with 3003 + reason
    server-close-4404      WS server closes with 4404 + reason
    server-close-no-read   websockets client against RAW: close 1001; whether
                           the client's echo reached the wire is left to tshark

  One JSON object per connection goes to --expect: key (client_ip,
  client_port, server_ip, server_port), "peer": "violations", "scenario", the
  columns the DB must hold, optionally "expect_any" {col: [values]} and
  "violations_include" [names] (the violations column must list them).
  Prints "HOLDING 0" when done (nothing is held; SIGUSR2 is ignored), exits 0
  if every case ran as planned.

Check mode:

  violations.py --check --db DB --pcap PCAP --expect OUT.jsonl

  For every expected connection: one `ok - violations/NAME` or
  `not ok - violations/NAME` line with `#  ` diagnostics.  The DB row must
  match (1) the peer's expectations and (2) the record rebuilt from tshark's
  dissection of the capture (every close frame: its side, status code and
  reason; who closed first; outcome; first FIN/RST; unmasked client frames).
  A disagreement between the peer and tshark (a harness problem, not a
  wsstatsd one) is reported too, marked "peer vs tshark".  Then
  `violations/no-extra-rows`.  Exit 0 if every line was ok.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import os
import signal
import sqlite3
import struct
import subprocess
import sys

import websockets

PEER = "violations"
HOST = "127.0.0.1"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"      # RFC 6455 §1.3
CASE_TIMEOUT = 10.0


# ---------------------------------------------------------------- frames (RFC 6455 §5.2)

def frame(opcode, payload, mask_key=None):
    """One FIN frame; masked iff mask_key (4 bytes) is given."""
    head = bytes([0x80 | opcode])
    mbit = 0x80 if mask_key else 0
    n = len(payload)
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask_key:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
        head += mask_key
    return head + payload


def parse_frames(buf):
    """[(opcode, payload)] of the complete frames at the start of buf."""
    out, i = [], 0
    while i + 2 <= len(buf):
        op, b1 = buf[i] & 0x0F, buf[i + 1]
        n, j = b1 & 0x7F, i + 2
        if n == 126:
            if j + 2 > len(buf):
                break
            n, j = struct.unpack("!H", buf[j:j + 2])[0], j + 2
        elif n == 127:
            if j + 8 > len(buf):
                break
            n, j = struct.unpack("!Q", buf[j:j + 8])[0], j + 8
        key = None
        if b1 & 0x80:
            key, j = buf[j:j + 4], j + 4
        if j + n > len(buf):
            break
        payload = buf[j:j + n]
        if key:
            payload = bytes(b ^ key[k % 4] for k, b in enumerate(payload))
        out.append((op, payload))
        i = j + n
    return out


def close_payload(code, reason=""):
    return struct.pack("!H", code) + reason.encode("utf-8")


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


# ---------------------------------------------------------------- servers

async def ws_handler(ws, path=None):
    path = path or ws.path
    if path == "/server-close-4404":
        await ws.close(4404, "no such room")
        return
    async for msg in ws:            # echo until the client closes / fails
        await ws.send(msg)


async def raw_server(reader, writer):
    """Upgrade, send close 1001, close the socket without reading any further."""
    head = await reader.readuntil(b"\r\n\r\n")
    key = ""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            key = value.strip()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                  % accept_for(key)).encode())
    writer.write(frame(0x8, close_payload(1001, "server going away")))
    await writer.drain()
    writer.close()                  # FIN now; an echo arriving later meets a closed socket


# ---------------------------------------------------------------- clients

def key_of(local, port):
    return {"client_ip": HOST, "client_port": local, "server_ip": HOST, "server_port": port}


async def case_unmasked(port):
    reader, writer = await asyncio.open_connection(HOST, port)
    local = writer.get_extra_info("sockname")[1]
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(("GET /unmasked-client-frame HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  % (HOST, port, key)).encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError("upgrade refused: %r" % head[:40])
    writer.write(frame(0x1, b"hello, unmasked"))          # no mask: RFC 6455 §5.1 violation
    await writer.drain()
    rest = await reader.read()                             # until the server's FIN
    writer.close()
    closes = [p for op, p in parse_frames(rest) if op == 0x8]
    if not closes or len(closes[0]) < 2:
        raise RuntimeError("server sent no close frame with a code: %r" % rest[:40])
    code = struct.unpack("!H", closes[0][:2])[0]
    reason = closes[0][2:].decode("utf-8") or None
    # We never echo: only the server's close is on the wire, and the server's
    # FIN came first (we read EOF before closing).
    return dict(key_of(local, port), close_code=code, close_reason=reason, close_initiator="server",
                server_close_code=code, server_close_reason=reason, client_close_code=None,
                outcome="half_closed", termination="fin_server", handshake_seen=1, http_status=101,
                violations_include=["unmasked_client_frame"], observed_code=code)


async def client_run(port, path, action):
    ws = await websockets.connect("ws://%s:%d%s" % (HOST, port, path), ping_interval=None,
                                  max_size=None, close_timeout=5, compression=None)
    local = ws.local_address[1]
    await action(ws)
    await ws.wait_closed()
    return local, ws


async def case_too_big(port):
    async def send_big(ws):
        await ws.send("x" * 4096)
    local, ws = await client_run(port, "/message-too-big", send_big)
    # ws.close_code = the code the client received (the server's)
    return dict(key_of(local, port), close_code=1009, close_initiator="server",
                server_close_code=1009, handshake_seen=1, http_status=101, violations=None,
                messages_client=1, expect_any={"outcome": ["clean", "half_closed"]},
                observed_code=ws.close_code)


async def case_client_3003(port):
    async def close(ws):
        await ws.close(3003, "client gives up")
    local, ws = await client_run(port, "/client-close-3003", close)
    return dict(key_of(local, port), close_code=3003, close_reason="client gives up",
                close_initiator="client", client_close_code=3003,
                client_close_reason="client gives up", server_close_code=3003,
                server_close_reason="client gives up", outcome="clean", termination="fin_server",
                violations=None, observed_code=ws.close_code)


async def wait_closed_by_server(ws):
    try:
        async for _ in ws:
            pass
    except websockets.ConnectionClosed:      # any code but 1000/1001 raises
        pass


async def case_server_4404(port):
    wait = wait_closed_by_server
    local, ws = await client_run(port, "/server-close-4404", wait)
    return dict(key_of(local, port), close_code=4404, close_reason="no such room",
                close_initiator="server", server_close_code=4404,
                server_close_reason="no such room", client_close_code=4404,
                client_close_reason="no such room", outcome="clean", termination="fin_server",
                violations=None, observed_code=ws.close_code)


async def case_no_read(port):
    local, ws = await client_run(port, "/server-close-no-read", wait_closed_by_server)
    # Whether our echo made it onto the wire (and so client_close_code and
    # clean vs half_closed) is decided from tshark by the checker.
    return dict(key_of(local, port), close_code=1001, close_reason="server going away",
                close_initiator="server", server_close_code=1001,
                server_close_reason="server going away", termination="fin_server",
                violations=None, expect_any={"outcome": ["clean", "half_closed"]},
                observed_code=ws.close_code)


async def run_peer(ports, expect_path):
    ws_port, small_port, raw_port = ports
    cases = [("unmasked-client-frame", case_unmasked, ws_port),
             ("message-too-big", case_too_big, small_port),
             ("client-close-3003", case_client_3003, ws_port),
             ("server-close-4404", case_server_4404, ws_port),
             ("server-close-no-read", case_no_read, raw_port)]
    failures = 0
    common = dict(ping_interval=None, close_timeout=5, compression=None)
    async with websockets.serve(ws_handler, HOST, ws_port, max_size=None, **common), \
            websockets.serve(ws_handler, HOST, small_port, max_size=1024, **common):
        raw = await asyncio.start_server(raw_server, HOST, raw_port)
        with open(expect_path, "w", encoding="utf-8") as out:
            for name, fn, port in cases:
                try:
                    res = await asyncio.wait_for(fn(port), CASE_TIMEOUT)
                except Exception as e:     # recorded, the run goes on
                    failures += 1
                    print("violations: %s failed: %r" % (name, e), file=sys.stderr)
                    res = {"peer_error": repr(e)}
                res.update(peer=PEER, scenario=name)
                out.write(json.dumps(res, ensure_ascii=False) + "\n")
        raw.close()
        await raw.wait_closed()
    return failures


# ---------------------------------------------------------------- tshark oracle

FIELDS = ["tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack",
          "tcp.flags.fin", "tcp.flags.reset", "websocket.opcode", "websocket.mask",
          "websocket.payload_length", "websocket.payload.close.status_code",
          "websocket.payload.close.reason", "http.response.code"]


def is_set(pkt, field):
    v = pkt.get(field)
    return bool(v) and v[0] in ("1", "True")


def wire_records(pcap, server_ports):
    """{client_port: record} rebuilt from tshark's dissection."""
    cmd = ["tshark", "-n", "-r", pcap, "-T", "json"]
    for port in sorted(server_ports):
        cmd += ["-d", "tcp.port==%d,http" % port]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    conns = {}
    for pkt in (p["_source"]["layers"] for p in json.loads(out or b"[]")):
        if "tcp.stream" not in pkt:
            continue
        sport, dport = int(pkt["tcp.srcport"][0]), int(pkt["tcp.dstport"][0])
        c = conns.setdefault(pkt["tcp.stream"][0], {"closes": [], "term": None, "unmasked": 0,
                                                    "status": None})
        if is_set(pkt, "tcp.flags.syn") and not is_set(pkt, "tcp.flags.ack"):
            c["client"], c["server"] = sport, dport
        side = "client" if sport == c.get("client") else "server"
        if c["term"] is None and is_set(pkt, "tcp.flags.reset"):
            c["term"] = "rst_" + side
        elif c["term"] is None and is_set(pkt, "tcp.flags.fin"):
            c["term"] = "fin_" + side
        if "http.response.code" in pkt:
            c["status"] = int(pkt["http.response.code"][0])
        opcodes = [int(o, 0) for o in pkt.get("websocket.opcode", [])]
        masks = pkt.get("websocket.mask", [])
        lengths = pkt.get("websocket.payload_length", [])
        codes = list(pkt.get("websocket.payload.close.status_code", []))
        reasons = list(pkt.get("websocket.payload.close.reason", []))
        for i, op in enumerate(opcodes):
            if side == "client" and i < len(masks) and masks[i] in ("0", "False"):
                c["unmasked"] += 1
            if op != 8:
                continue
            empty = i < len(lengths) and int(lengths[i]) < 2
            code = 1005 if empty or not codes else int(codes.pop(0))
            reason = None
            if not empty and reasons:
                reason = reasons.pop(0) or None
            c["closes"].append((side, code, reason))
    records = {}
    for c in conns.values():
        if "client" not in c:
            continue
        first = {}
        for side, code, reason in c["closes"]:
            first.setdefault(side, (code, reason))
        cl, sv = first.get("client"), first.get("server")
        init = c["closes"][0] if c["closes"] else None
        rec = {"http_status": c["status"], "termination": c["term"] or "capture_end",
               "close_initiator": init[0] if init else None,
               "close_code": init[1] if init else (1006 if c["term"] else None),
               "close_reason": init[2] if init else None,
               "client_close_code": cl[0] if cl else None,
               "client_close_reason": cl[1] if cl else None,
               "server_close_code": sv[0] if sv else None,
               "server_close_reason": sv[1] if sv else None,
               "outcome": ("clean" if cl and sv else "half_closed") if init
               else ("abnormal" if c["term"] else "unfinished"),
               "_unmasked_client_frames": c["unmasked"],
               "_close_frames": ["%s %s %r" % f for f in c["closes"]]}
        records[c["client"]] = rec
    return records


# ---------------------------------------------------------------- check

META = {"peer", "scenario", "expect_any", "peer_error", "violations_include", "observed_code",
        "client_ip", "client_port", "server_ip", "server_port"}
WIRE_COLS = ["close_code", "close_reason", "close_initiator", "client_close_code",
             "client_close_reason", "server_close_code", "server_close_reason", "outcome",
             "termination", "http_status"]


def fmt(v):
    return "NULL" if v is None else json.dumps(v, ensure_ascii=False)


def compare_exp(exp, actual, label):
    problems = []
    for col, want in exp.items():
        if col in META or col.startswith("_"):
            continue
        if col not in actual:
            problems.append("%s: column %s missing" % (label, col))
        elif actual[col] != want:
            problems.append("%s: %s expected %s, got %s" % (label, col, fmt(want), fmt(actual[col])))
    for col, allowed in exp.get("expect_any", {}).items():
        if actual.get(col) not in allowed:
            problems.append("%s: %s expected one of %s, got %s"
                            % (label, col, ", ".join(map(fmt, allowed)), fmt(actual.get(col))))
    return problems


def check(args):
    exps = []
    with open(args.expect, encoding="utf-8") as f:
        exps = [json.loads(line) for line in f if line.strip()]
    con = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM connections")]
    con.close()
    wire = wire_records(args.pcap, {e["server_port"] for e in exps if "server_port" in e})
    all_ok, used = True, set()
    for exp in exps:
        name = "violations/" + exp.get("scenario", "?")
        if "peer_error" in exp:
            all_ok &= report(False, name, ["the peer could not run this case: " + exp["peer_error"]])
            continue
        used.add(exp["client_port"])
        diags = []
        w = wire.get(exp["client_port"])
        if w is None:
            diags.append("tshark: no TCP connection from client port %d in the capture"
                         % exp["client_port"])
        else:
            # Harness sanity: the peer's belief vs the bytes on the wire.
            diags += compare_exp({k: v for k, v in exp.items() if k in WIRE_COLS}, w, "peer vs tshark")
            if "unmasked_client_frame" in exp.get("violations_include", []) \
                    and not w["_unmasked_client_frames"]:
                diags.append("peer vs tshark: tshark shows no unmasked client frame")
        matches = [r for r in rows if r["client_port"] == exp["client_port"]
                   and r["server_port"] == exp["server_port"]]
        if not matches:
            diags.append("db: no row for client port %d -> server port %d"
                         % (exp["client_port"], exp["server_port"]))
        else:
            row = matches[0]
            if len(matches) > 1:
                diags.append("db: %d rows for this connection, expected 1" % len(matches))
            diags += compare_exp(exp, row, "db vs peer")
            got = set((row.get("violations") or "").split(",")) - {""}
            for v in exp.get("violations_include", []):
                if v not in got:
                    diags.append("db vs peer: violations expected to include %s, got %s"
                                 % (v, fmt(row.get("violations"))))
            if w is not None:
                diags += compare_exp({k: w[k] for k in WIRE_COLS}, row, "db vs tshark")
                if w["_unmasked_client_frames"] and "unmasked_client_frame" not in got:
                    diags.append("db vs tshark: tshark shows %d unmasked client frame(s), "
                                 "violations is %s" % (w["_unmasked_client_frames"],
                                                       fmt(row.get("violations"))))
        if diags and w is not None:
            diags.append("tshark close frames (side code reason): %s"
                         % ("; ".join(w["_close_frames"]) or "none"))
        all_ok &= report(not diags, name, diags)
    extra = [r for r in rows if r["client_port"] not in used]
    all_ok &= report(not extra, "violations/no-extra-rows",
                     ["unexpected row: client port %s -> %s, close_code %s, outcome %s"
                      % (r["client_port"], r["server_port"], r["close_code"], r["outcome"])
                      for r in extra])
    return 0 if all_ok else 1


def report(ok, name, diags=()):
    print("%s - %s" % ("ok" if ok else "not ok", name))
    for d in diags:
        print("#  " + d)
    return ok


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ports", help="WS,SMALL,RAW server ports (peer mode)")
    ap.add_argument("--expect", required=True)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--db")
    ap.add_argument("--pcap")
    args = ap.parse_args()
    if args.check:
        if not args.db or not args.pcap:
            ap.error("--check needs --db and --pcap")
        return check(args)
    ports = [int(p) for p in (args.ports or "").split(",") if p]
    if len(ports) != 3:
        ap.error("--ports needs three ports")
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)   # nothing held; capture.sh may send it
    logging.basicConfig(level=logging.CRITICAL)     # the failures we provoke are expected
    try:
        failures = asyncio.run(asyncio.wait_for(run_peer(ports, args.expect), 60))
    except asyncio.TimeoutError:
        print("violations: timed out", file=sys.stderr)
        return 1
    print("HOLDING 0", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
