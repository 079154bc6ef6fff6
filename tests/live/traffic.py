#!/usr/bin/python3
"""tests/live/traffic.py — plain WebSocket traffic on loopback for the live tests.

One process runs an echo server on 127.0.0.1:PORT and clients against it in
the same event loop (Debian's python3-websockets 10.4, asyncio API).  Every
client connects, sends --messages text messages, reads their echoes and
closes with 1000 "bye"; the server then closes TCP first, so wsstatsd must
record close_code 1000, outcome clean, termination fin_server.

After each connection has fully ended, its key is appended (and flushed) to
--keys as one JSON line: {"client_ip", "client_port", "server_port"}.

  traffic.py --port P --keys FILE --count N      N connections, then exit 0
  traffic.py --port P --keys FILE --duration S   connections back to back for
                                                  S seconds (or until SIGTERM)

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


async def one_connection(port, messages, keys):
    async with websockets.connect("ws://127.0.0.1:%d/live" % port, compression=None) as ws:
        client_port = ws.local_address[1]
        for i in range(messages):
            await ws.send("message %d" % i)
            await ws.recv()
        await ws.close(1000, "bye")
    keys.write(json.dumps({"client_ip": "127.0.0.1", "client_port": client_port,
                           "server_port": port}) + "\n")
    keys.flush()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys", required=True, help="append one JSON key line per finished connection")
    ap.add_argument("--count", type=int, default=0, help="connections to make (one after another)")
    ap.add_argument("--duration", type=float, default=0.0, help="keep connecting for this many seconds")
    ap.add_argument("--messages", type=int, default=3, help="messages per connection")
    args = ap.parse_args()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    done = 0
    with open(args.keys, "a", encoding="utf-8") as keys:
        async with websockets.serve(echo, "127.0.0.1", args.port, compression=None):
            deadline = time.monotonic() + args.duration
            while not stop.is_set():
                if args.count and done >= args.count:
                    break
                if not args.count and time.monotonic() >= deadline:
                    break
                await one_connection(args.port, args.messages, keys)
                done += 1
    print("DONE %d" % done, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
