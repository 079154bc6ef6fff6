#!/usr/bin/python3
"""tests/live/traffic.py — plain WebSocket traffic on loopback for the live tests.

One process runs an echo server on 127.0.0.1:PORT and clients against it in
the same event loop (Debian's python3-websockets 10.4, asyncio API).  Every
client connects, sends --messages text messages (of --size bytes, if given),
reads their echoes and closes with 1000 "bye"; the server then closes TCP
first, so wsstatsd must record close_code 1000, outcome clean, termination
fin_server.

After each connection has fully ended, its key is appended (and flushed) to
--keys as one JSON line: {"client_ip", "client_port", "server_port",
"opened", "closing", "ended"} (the times: connected, close frame sent, TCP
closed; epoch seconds).  With --opened FILE, a line {"client_port",
"opened"} is appended there as soon as a connection is open.

  traffic.py --port P --keys FILE --count N      N connections, then exit 0
  traffic.py --port P --keys FILE --duration S   connections back to back for
                                                  S seconds (or until SIGTERM)
  --parallel N   N clients at once (--count connections in all)
  --idle N       also N connections that send one message and then stay open
                 and silent until the end (lines in --opened with "idle": 1)
  --busy N       also N connections that exchange messages (of --size bytes)
                 without pause until the end (lines in --opened, "busy": 1)

Prints "DONE n" on stdout when it finishes.  Run with /usr/bin/python3.
"""

import argparse
import asyncio
import json
import signal
import sys
import time

import websockets


async def echo(ws, _path):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


def note(f, entry):
    if f:
        f.write(json.dumps(entry) + "\n")
        f.flush()


def connect(port):
    return websockets.connect("ws://127.0.0.1:%d/live" % port, compression=None, ping_interval=None,
                              max_size=None)


async def one_connection(args, keys, opened_f):
    ws = await connect(args.port)
    client_port = ws.local_address[1]
    opened = time.time()
    note(opened_f, {"client_port": client_port, "opened": opened})
    for i in range(args.messages):
        await ws.send(("message %d " % i).ljust(args.size, "x") if args.size else "message %d" % i)
        await ws.recv()
    closing = time.time()
    await ws.close(1000, "bye")
    await ws.wait_closed()
    note(keys, {"client_ip": "127.0.0.1", "client_port": client_port, "server_port": args.port,
                "opened": opened, "closing": closing, "ended": time.time()})


async def client(args, keys, opened_f, stop, counter):
    deadline = time.monotonic() + args.duration
    while not stop.is_set():
        if args.count and counter[0] >= args.count:
            break
        if not args.count and time.monotonic() >= deadline:
            break
        counter[0] += 1
        await one_connection(args, keys, opened_f)


async def idle_connection(args, opened_f, stop):
    ws = await connect(args.port)
    await ws.send("one and then silence")
    await ws.recv()
    note(opened_f, {"client_port": ws.local_address[1], "opened": time.time(), "idle": 1})
    await stop.wait()
    ws.transport.abort()


async def busy_connection(args, opened_f, stop):
    ws = await connect(args.port)
    note(opened_f, {"client_port": ws.local_address[1], "opened": time.time(), "busy": 1})
    msg = "busy ".ljust(args.size or 100, "x")
    while not stop.is_set():
        await ws.send(msg)
        await ws.recv()
    ws.transport.abort()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys", required=True, help="append one JSON key line per finished connection")
    ap.add_argument("--opened", help="append one JSON line per connection as soon as it is open")
    ap.add_argument("--count", type=int, default=0, help="connections to make (one after another)")
    ap.add_argument("--duration", type=float, default=0.0, help="keep connecting for this many seconds")
    ap.add_argument("--messages", type=int, default=3, help="messages per connection")
    ap.add_argument("--size", type=int, default=0, help="bytes per message (default: a few)")
    ap.add_argument("--parallel", type=int, default=1, help="clients at once")
    ap.add_argument("--idle", type=int, default=0, help="connections that stay open and silent")
    ap.add_argument("--busy", type=int, default=0, help="connections that keep exchanging messages")
    args = ap.parse_args()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    counter = [0]
    opened_f = open(args.opened, "a", encoding="utf-8") if args.opened else None
    with open(args.keys, "a", encoding="utf-8") as keys:
        async with websockets.serve(echo, "127.0.0.1", args.port, compression=None, ping_interval=None,
                                    max_size=None):
            idle = [asyncio.ensure_future(idle_connection(args, opened_f, stop)) for _ in range(args.idle)]
            idle += [asyncio.ensure_future(busy_connection(args, opened_f, stop)) for _ in range(args.busy)]
            await asyncio.gather(*[client(args, keys, opened_f, stop, counter) for _ in range(args.parallel)])
            if idle:
                await stop.wait()
                await asyncio.gather(*idle, return_exceptions=True)
    if opened_f:
        opened_f.close()
    print("DONE %d" % counter[0], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
