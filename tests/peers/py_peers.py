#!/usr/bin/python3
"""Real WebSocket peers (Python, websockets 10.4 asyncio API) for the wsstats e2e tests.

One process runs a WebSocket server on 127.0.0.1:PORT and [::1]:PORT and the
clients that connect to it, one connection per scenario of scenarios.json
(or a random realistic mix with --demo N).  For every connection it appends
one JSON object to the expectations file (--expect): the connection's key
(client_ip, client_port, server_ip, server_port) and the values wsstatsd must
record for it (close codes, reasons, initiator, outcome, termination, message
counts, handshake fields).  tests/e2e/check.py compares them with the DB and,
independently, with tshark's dissection of the capture.

How a connection ends is chosen per scenario; the server learns the scenario
of a connection from the request header X-Test-Plan.  Connections of
scenarios with end {hold: true} stay open: after all other connections are
done the process prints "HOLDING <n>" on stdout and waits for SIGUSR2 (sent
by the orchestrator once tcpdump has stopped), then closes them and exits.
With --no-hold it releases them at once (handy when running by hand).

Usage: py_peers.py --port P --expect OUT.jsonl [--scenarios FILE]
                   [--demo N [--seed S] [--spread-ms MS]] [--no-hold]
Exit status: 0 if every scenario ran as planned, 1 otherwise.
"""

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import socket
import struct
import sys
from http import HTTPStatus

import websockets
from websockets.exceptions import InvalidStatusCode
from websockets.frames import OP_CLOSE, Close
from websockets.http import USER_AGENT

PEER = "python"
PLAN_HEADER = "X-Test-Plan"
HERE = os.path.dirname(os.path.abspath(__file__))
OVERALL_TIMEOUT = 40.0     # seconds for all scenarios (the e2e run must stay < 60 s)
HOLD_TIMEOUT = 30.0        # seconds to wait for SIGUSR2 before releasing anyway

# termination wsstatsd must report after a complete close handshake: the
# websockets server half-closes TCP first, its client waits for that (RFC 6455 §7.1.1).
CLEAN_TERMINATION = "fin_server"


# ---------------------------------------------------------------- scenarios

def load_table(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def e2e_plans(table):
    """The fixed scenario list, with defaults filled in."""
    plans = []
    for sc in table["scenarios"]:
        if sc.get("only", PEER) != PEER:
            continue
        plan = {"send": table["default_send"], "pings": 0, "ip": "127.0.0.1",
                "path": "/" + sc["name"], "idle_ms": 0, "start_ms": 0}
        plan.update(sc)
        plans.append(plan)
    return plans


def demo_plans(table, count, seed, spread_ms):
    """A random but realistic mix of connections (record.sh / make demo)."""
    demo = table["demo"]
    rng = random.Random(seed)
    weights = [w for w, _ in demo["templates"]]
    plans = []
    for i in range(count):
        tpl = rng.choices([t for _, t in demo["templates"]], weights)[0]
        if i == count // 2:
            tpl = {"end": {"hold": True}}          # one connection left open
        send = []
        for _ in range(rng.randint(1, 6)):
            size = 70000 if rng.random() < 0.03 else rng.randint(2, 1500)
            send.append({"type": rng.choice(["text", "text", "binary"]), "size": size})
        plan = {"name": "mix-%03d-%s" % (i, end_label(tpl["end"])),
                "ip": "::1" if rng.random() < 0.2 else "127.0.0.1",
                "path": rng.choice(demo["paths"]),
                "user_agent": rng.choice(demo["user_agents"]),
                "origin": rng.choice(demo["origins"]),
                "subprotocols": rng.choice(demo["subprotocols"]),
                "send": send,
                "pings": rng.choice([0, 0, 0, 1, 2]),
                "idle_ms": rng.randint(0, 400),
                "start_ms": rng.randint(0, spread_ms)}
        plan.update(tpl)
        if not plan["subprotocols"]:
            del plan["subprotocols"]
        plans.append(plan)
    return plans


def end_label(end):
    """Short name of an ending, e.g. server-close-1001, client-rst, hold."""
    if end.get("hold"):
        return "hold"
    if "reject" in end:
        return "reject-%d" % end["reject"]
    if "tcp" in end:
        return "%s-%s" % (end["by"], end["tcp"])
    code = "empty" if end["code"] is None else end["code"]
    return "%s-close-%s%s" % (end["by"], code, "-rst" if end.get("then") else "")


def payload(item, size=None):
    """Deterministic message content: str for text, bytes for binary."""
    n = item["size"] if size is None else size
    if item["type"] == "text":
        return ("wsstats-e2e " * (n // 12 + 1))[:n]
    return bytes(i % 251 for i in range(n))


def whole_message(item):
    """The message as the receiver sees it (fragments joined)."""
    if "fragments" in item:
        return ("" if item["type"] == "text" else b"").join(message_of(item))
    return payload(item)


def message_of(item):
    """What ws.send() gets: one value, or a list of fragments."""
    if "fragments" in item:
        return [payload(item, n) for n in item["fragments"]]
    return payload(item)


# ---------------------------------------------------------------- expectations

def frame_tuple(close):
    return None if close is None else (close.code, close.reason)


def derive(plan, obs):
    """Expected DB values from the plan and what the client observed (docs/design.md §3)."""
    exp = {"http_status": obs["http_status"], "handshake_seen": 1,
           "path": plan["path"], "host": obs["host"], "violations": None}
    exp["origin"] = plan.get("origin")
    exp["user_agent"] = plan.get("user_agent", USER_AGENT)
    if obs["http_status"] != 101:
        exp.update(outcome="rejected", close_code=None, close_reason=None,
                   close_initiator=None, client_close_code=None, server_close_code=None,
                   messages_client=0, messages_server=0, termination=obs["termination"])
        return exp
    exp.update(subprotocol=obs["subprotocol"], extensions=obs["extensions"],
               messages_client=len(plan["send"]), messages_server=len(plan["send"]),
               pings=plan["pings"], pongs=plan["pings"])
    c, s = obs["client_frame"], obs["server_frame"]
    first = c if obs["initiator"] == "client" else s
    exp["close_initiator"] = obs["initiator"]
    exp["client_close_code"] = c[0] if c else None
    exp["client_close_reason"] = (c[1] or None) if c else None
    exp["server_close_code"] = s[0] if s else None
    exp["server_close_reason"] = (s[1] or None) if s else None
    if first:
        exp["close_code"], exp["close_reason"] = first[0], first[1] or None
        exp["outcome"] = "clean" if c and s else "half_closed"
    elif obs["termination"] == "capture_end":
        exp.update(close_code=None, close_reason=None, outcome="unfinished")
    else:
        exp.update(close_code=1006, close_reason=None, outcome="abnormal")
    exp["termination"] = obs["termination"]
    return exp


def termination_of(plan):
    end = plan["end"]
    if end.get("hold"):
        return "capture_end"
    if "reject" in end:
        return "fin_server"          # the server closes after sending its refusal
    if "tcp" in end:
        return "%s_%s" % (end["tcp"], end["by"])
    if end.get("then") == "rst":
        return "rst_" + end["by"]
    return CLEAN_TERMINATION


# ---------------------------------------------------------------- socket helpers

def set_rst_on_close(transport):
    """SO_LINGER {1, 0}: close() then sends RST instead of FIN."""
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reset(ws):
    set_rst_on_close(ws.transport)
    ws.transport.abort()


def close_payload(code, reason):
    return b"" if code is None else Close(code, reason).serialize()


def uri_host(ip):
    return "[%s]" % ip if ":" in ip else ip


# ---------------------------------------------------------------- server side

class Server:
    """Echoes each client message, then ends the connection if the plan says so."""

    def __init__(self, plans):
        self.plans = plans

    def plan_of(self, headers):
        return self.plans.get(headers.get(PLAN_HEADER, ""))

    async def process_request(self, path, headers):
        plan = self.plan_of(headers)
        if plan and "reject" in plan["end"]:
            status = HTTPStatus(plan["end"]["reject"])
            return status, [("Content-Type", "text/plain")], b"forbidden by e2e plan\n"
        return None

    async def handler(self, ws):
        plan = self.plan_of(ws.request_headers)
        for _ in plan["send"]:
            await ws.send(await ws.recv())
        end = plan["end"]
        if end.get("by") == "server":
            await asyncio.sleep(plan["idle_ms"] / 1000)
            await end_connection(ws, end)
        await ws.wait_closed()


async def end_connection(ws, end):
    """Carry out plan['end'] on our side of ws (client or server)."""
    if "tcp" in end:
        if end["tcp"] == "rst":
            reset(ws)
        else:
            ws.transport.write_eof()            # FIN, no close frame
    elif end.get("then") == "rst":
        # close frame and RST back to back: the peer cannot answer (half_closed)
        ws.write_frame_sync(True, OP_CLOSE, close_payload(end["code"], end["reason"]))
        reset(ws)
    elif end["code"] is None:
        await ws.write_close_frame(Close(1005, ""), b"")   # empty close frame
    else:
        await ws.close(end["code"], end["reason"])
    await ws.wait_closed()


# ---------------------------------------------------------------- client side

class Client:
    def __init__(self, port, held):
        self.port = port
        self.held = held          # connections kept open until the capture has stopped

    async def open_socket(self, ip):
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (ip, self.port))
        return sock

    async def run(self, plan):
        """Run one scenario; return its expectation record."""
        await asyncio.sleep(plan["start_ms"] / 1000)
        ip = plan["ip"]
        sock = await self.open_socket(ip)
        rec = {"peer": PEER, "scenario": plan["name"], "client_ip": ip,
               "client_port": sock.getsockname()[1], "server_ip": ip, "server_port": self.port}
        host = "%s:%d" % (uri_host(ip), self.port)
        obs = {"host": host, "http_status": 101, "termination": termination_of(plan)}
        try:
            ws = await websockets.connect(
                "ws://%s%s" % (host, plan["path"]), sock=sock, ping_interval=None,
                max_size=None, close_timeout=5,
                compression="deflate" if plan.get("compress") else None,
                subprotocols=plan.get("subprotocols"), origin=plan.get("origin"),
                user_agent_header=plan.get("user_agent", USER_AGENT),
                extra_headers={PLAN_HEADER: plan["id"]})
        except InvalidStatusCode as e:
            obs["http_status"] = e.status_code
            sock.close()
            rec.update(derive(plan, obs))
            return rec
        obs["subprotocol"] = ws.subprotocol
        obs["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
        await self.exchange(ws, plan)
        if plan["end"].get("hold"):
            self.held.append(ws)
            obs.update(client_frame=None, server_frame=None, initiator=None)
        else:
            await self.finish(ws, plan, obs)
        rec.update(derive(plan, obs))
        return rec

    async def exchange(self, ws, plan):
        """Pings first (each awaited), then the messages, each awaiting its echo."""
        for _ in range(plan["pings"]):
            await (await ws.ping())
        for item in plan["send"]:
            await ws.send(message_of(item))
            if await ws.recv() != whole_message(item):
                raise RuntimeError("echo mismatch")

    async def finish(self, ws, plan, obs):
        end = plan["end"]
        if end["by"] == "client":
            await asyncio.sleep(plan["idle_ms"] / 1000)
            await end_connection(ws, end)
        else:
            await ws.wait_closed()
        # What went on the wire, as seen from the client.
        if end.get("then") == "rst" or "tcp" in end:
            # raw endings: only the planned frame (if any) could reach the wire
            planned = None if "tcp" in end else (end["code"], end["reason"])
            obs["client_frame"] = planned if end["by"] == "client" else None
            obs["server_frame"] = planned if end["by"] == "server" else None
            obs["initiator"] = end["by"] if planned else None
            return
        obs["client_frame"] = frame_tuple(ws.close_sent)
        obs["server_frame"] = frame_tuple(ws.close_rcvd)
        if ws.close_sent and ws.close_rcvd:
            obs["initiator"] = "server" if ws.close_rcvd_then_sent else "client"
        else:
            obs["initiator"] = "client" if ws.close_sent else "server" if ws.close_rcvd else None


# ---------------------------------------------------------------- orchestration

def release_event():
    """An event set by SIGUSR2 (install before announcing HOLDING, so no signal is lost)."""
    released = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, released.set)
    return released


async def wait_for_release(released, no_hold):
    if no_hold:
        return
    try:
        await asyncio.wait_for(released.wait(), HOLD_TIMEOUT)
    except asyncio.TimeoutError:
        print("py_peers: no SIGUSR2 within %ds, releasing" % HOLD_TIMEOUT, file=sys.stderr)


async def run_all(args, plans):
    by_id = {}
    for i, plan in enumerate(plans):
        plan["id"] = "%s-%d" % (PEER, i)
        by_id[plan["id"]] = plan
    server = Server(by_id)
    held = []
    client = Client(args.port, held)
    failures = 0
    async with websockets.serve(server.handler, ["127.0.0.1", "::1"], args.port,
                                process_request=server.process_request,
                                ping_interval=None, max_size=None, close_timeout=5,
                                compression="deflate", subprotocols=["chat.v1", "graphql-transport-ws"]):
        if args.demo:
            results = await asyncio.gather(*(client.run(p) for p in plans), return_exceptions=True)
        else:
            results = [await guarded(client.run(p)) for p in plans]
        with open(args.expect, "w", encoding="utf-8") as out:
            for plan, res in zip(plans, results):
                if isinstance(res, BaseException):
                    failures += 1
                    print("py_peers: %s failed: %r" % (plan["name"], res), file=sys.stderr)
                    res = {"peer": PEER, "scenario": plan["name"], "peer_error": repr(res)}
                out.write(json.dumps(res, ensure_ascii=False) + "\n")
        released = release_event()
        print("HOLDING %d" % len(held), flush=True)
        await wait_for_release(released, args.no_hold)
        for ws in held:
            await ws.close(1000, "released after capture")
    return failures


async def guarded(coro):
    try:
        return await coro
    except Exception as e:     # recorded as peer_error, the run goes on
        return e


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--expect", required=True, help="write expectations (JSON lines) here")
    ap.add_argument("--scenarios", default=os.path.join(HERE, "scenarios.json"))
    ap.add_argument("--demo", type=int, default=0, help="run N random demo connections instead")
    ap.add_argument("--seed", type=int, default=6455)
    ap.add_argument("--spread-ms", type=int, default=3000,
                    help="demo: connections start at random times within this window")
    ap.add_argument("--no-hold", action="store_true", help="do not wait for SIGUSR2")
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)   # expected resets must not spam stderr
    table = load_table(args.scenarios)
    plans = demo_plans(table, args.demo, args.seed, args.spread_ms) if args.demo else e2e_plans(table)
    try:
        failures = asyncio.run(asyncio.wait_for(run_all(args, plans), OVERALL_TIMEOUT + HOLD_TIMEOUT))
    except asyncio.TimeoutError:
        print("py_peers: timed out", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
