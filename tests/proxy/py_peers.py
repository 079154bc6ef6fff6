#!/usr/bin/python3
"""Python peers (Debian python3-websockets 10.4) for tests/proxy/run.sh.

Two roles, one per process:

  py_peers.py server --port P
      The backend behind nginx: a WebSocket echo server on 127.0.0.1:P that
      never pings (ping_interval=None), so the only traffic on an idle
      connection is none at all and nginx's proxy_read_timeout fires.  Prints
      "READY" once listening; runs until SIGTERM/SIGINT.

  py_peers.py clients --port P --idle N --control M --expect OUT.jsonl
      N "idle" clients and M "control" clients, all at once, to
      ws://127.0.0.1:P (nginx).  An idle client (path /idle/python-I) sends two
      messages, reads their echoes, then waits without pinging until the
      connection is taken down under it.  A control client (path
      /control/python-I) sends one message, reads the echo, waits a little
      (well under the proxy timeout) and closes with 1000.  One JSON line per
      client goes to OUT: lang, kind, name, client_port, the close code the
      library reports (1006 = no close frame received), whether a close frame
      was received, and the seconds from the last echo to the end.

Exit status 0 if every client behaved as planned (idle ones ended by the
other side within IDLE_LIMIT s, control ones closed with 1000), 1 otherwise.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys

import websockets

IDLE_LIMIT = 10.0          # seconds an idle client waits for the proxy to end it
CONTROL_DELAYS = (0.3, 0.8, 1.3, 1.8)   # seconds a control client idles before closing


async def echo(ws, _path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def serve(port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with websockets.serve(echo, "127.0.0.1", port, ping_interval=None,
                                close_timeout=2, max_size=None):
        print("READY", flush=True)
        await stop.wait()
    return 0


def connect(port, path):
    return websockets.connect("ws://127.0.0.1:%d%s" % (port, path), ping_interval=None,
                              close_timeout=2, open_timeout=5)


async def idle_client(port, i):
    loop = asyncio.get_running_loop()
    name = "python-%d" % i
    ws = await connect(port, "/idle/" + name)
    rec = {"lang": "python", "kind": "idle", "name": name,
           "client_port": ws.transport.get_extra_info("sockname")[1]}
    for n in range(2):
        await ws.send("idle %s message %d" % (name, n))
        await ws.recv()
    last = loop.time()
    await asyncio.wait_for(ws.wait_closed(), IDLE_LIMIT)
    rec.update(close_code=ws.close_code, close_frame_received=ws.close_rcvd is not None,
               idle_s=round(loop.time() - last, 3))
    rec["ok"] = ws.close_code == 1006 or ws.close_rcvd is not None
    return rec


async def control_client(port, i):
    name = "python-%d" % i
    ws = await connect(port, "/control/" + name)
    rec = {"lang": "python", "kind": "control", "name": name,
           "client_port": ws.transport.get_extra_info("sockname")[1]}
    await ws.send("control %s" % name)
    await ws.recv()
    await asyncio.sleep(CONTROL_DELAYS[i % len(CONTROL_DELAYS)])
    await ws.close(1000, "")
    rec.update(close_code=ws.close_code, close_frame_received=ws.close_rcvd is not None)
    rec["ok"] = ws.close_code == 1000
    return rec


async def clients(args):
    tasks = [idle_client(args.port, i) for i in range(args.idle)]
    tasks += [control_client(args.port, i) for i in range(args.control)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = 0
    with open(args.expect, "w", encoding="utf-8") as out:
        for res in results:
            if isinstance(res, BaseException):
                res = {"lang": "python", "error": repr(res), "ok": False}
            if not res["ok"]:
                failures += 1
                print("py_peers: client failed: %s" % json.dumps(res), file=sys.stderr)
            out.write(json.dumps(res) + "\n")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("role", choices=["server", "clients"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--idle", type=int, default=6)
    ap.add_argument("--control", type=int, default=2)
    ap.add_argument("--expect", help="clients: where to write one JSON line per client")
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    if args.role == "server":
        return asyncio.run(serve(args.port))
    if not args.expect:
        ap.error("clients need --expect")
    return asyncio.run(clients(args))


if __name__ == "__main__":
    sys.exit(main())
