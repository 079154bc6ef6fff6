#!/usr/bin/python3
"""tests/http/clients.py — plain HTTP/1.1 conversations with a server, for
tests/http/run.sh: what surrounds WebSocket traffic on a real tap.

    clients.py PORT

Each is one TCP connection to 127.0.0.1:PORT; the server is a plain nginx:
  - pipelined: three GETs written at once (RFC 9112 §9.3.2), three answers read;
  - keep-alive: three GETs one after another on one connection;
  - post: a POST with a body;
  - h2c: a GET asking Upgrade: h2c (RFC 7540 §3.2), answered 200 by nginx;
  - websocket-refused: a complete WebSocket upgrade request (RFC 6455 §4.1)
    to a location that serves a file: nginx answers 200, the one
    WebSocket handshake in the traffic, a refused one.
Prints one line per conversation, "NAME STATUS...", and exits 1 if one failed.
"""
import base64
import os
import socket
import sys


def read_responses(sock, n):
    """The status codes of n responses (Content-Length bodies) read from sock."""
    data, codes = b"", []
    while len(codes) < n:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return codes
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        codes.append(int(lines[0].split()[1]))
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(data) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return codes
            data += chunk
        data = data[length:]
    return codes


def get(path, extra=b"", close=False):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: plain.test\r\nUser-Agent: clients.py\r\n" + extra +
            (b"Connection: close\r\n" if close else b"") + b"\r\n")


def main():
    port = int(sys.argv[1])
    key = base64.b64encode(os.urandom(16))
    failed = False
    results = {}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # pipelined
        s.sendall(get(b"/f1k") + get(b"/f100k") + get(b"/f1k", close=True))
        results["pipelined"] = read_responses(s, 3)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # keep-alive, one after another
        codes = []
        for i, path in enumerate([b"/f1k", b"/f100k", b"/f3m"]):
            s.sendall(get(path, close=i == 2))
            codes += read_responses(s, 1)
        results["keep-alive"] = codes
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        body = b"x=1&y=" + b"z" * 3000
        s.sendall(b"POST /f1k HTTP/1.1\r\nHost: plain.test\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        results["post"] = read_responses(s, 1)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(get(b"/f100k", b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                      b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"))
        results["h2c"] = read_responses(s, 1)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /plain?room=1 HTTP/1.1\r\nHost: plain.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\nOrigin: http://plain.test\r\n\r\n")
        results["websocket-refused"] = read_responses(s, 1)
    for name, codes in results.items():
        print(name, " ".join(map(str, codes)))
        if not codes or any(c not in (200, 206) for c in codes):
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
