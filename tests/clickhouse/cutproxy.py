#!/usr/bin/python3
"""tests/clickhouse/cutproxy.py — an HTTP proxy in front of ClickHouse that
makes the first INSERT's outcome unknown to the shipper, the way a network
or a load balancer does:

  --cut request  the INSERT is read from the client and never forwarded;
                 the client's connection is closed (nothing was written);
  --cut answer   the INSERT is forwarded whole and ClickHouse answers, but
                 the answer is thrown away and the client's connection
                 closed (the rows are written);
  --cut midway   half the INSERT's body is forwarded, the client's
                 connection closed, and the rest sent 3 s later (the INSERT
                 is still running on the server when the shipper asks).

Every other request is relayed as it is, each client connection on a
connection of its own to ClickHouse. What was cut is written to --log.

  cutproxy.py --listen PORT --to PORT --cut MODE --log FILE
"""
import argparse
import socket
import threading
import time


def read_head(sock, buf):
    """buf and what sock sends until the end of an HTTP head (or its close)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return buf


def read_request(sock, buf):
    """One HTTP request from sock (headers and a Content-Length body);
    returns (head, body, rest) or None when the client closed."""
    buf = read_head(sock, buf)
    if b"\r\n\r\n" not in buf:
        return None
    head, _, buf = buf.partition(b"\r\n\r\n")
    head += b"\r\n\r\n"
    length = 0
    expect = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"expect" and b"100-continue" in value.lower():
            expect = True
    if expect:  # the body comes once we say so; ClickHouse's own 100 is dropped below
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        head = b"\r\n".join(l for l in head.split(b"\r\n") if not l.lower().startswith(b"expect:"))
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    return head, buf[:length], buf[length:]


def read_response(sock):
    """One HTTP response (Content-Length or chunked, or to the close)."""
    buf = read_head(sock, b"")
    if b"\r\n\r\n" not in buf:
        return buf
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = {l.partition(b":")[0].strip().lower(): l.partition(b":")[2].strip() for l in lines[1:]}
    if b"content-length" in fields:
        want = int(fields[b"content-length"])
        while len(body) < want:
            data = sock.recv(65536)
            if not data:
                break
            body += data
    elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        while not body.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            if not data:
                break
            body += data
    else:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            body += data
    return head + b"\r\n\r\n" + body


class Proxy:
    def __init__(self, args):
        self.args = args
        self.cut_done = False
        self.lock = threading.Lock()

    def log(self, what):
        with open(self.args.log, "a") as f:
            f.write(what + "\n")

    def take_cut(self, head):
        if b"query=INSERT" not in head.split(b"\r\n", 1)[0]:
            return False
        with self.lock:
            if self.cut_done:
                return False
            self.cut_done = True
            return True

    def serve(self, client):
        server = socket.create_connection(("127.0.0.1", self.args.to))
        buf = b""
        try:
            while True:
                req = read_request(client, buf)
                if req is None:
                    return
                head, body, buf = req
                if self.take_cut(head):
                    self.cut(client, server, head, body)
                    return
                server.sendall(head + body)
                client.sendall(read_response(server))
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def cut(self, client, server, head, body):
        mode = self.args.cut
        query_id = [p for p in head.split(b" ", 2)[1].split(b"&") if p.startswith(b"query_id=")]
        self.log("cut %s of an INSERT of %d bytes (%s)" % (mode, len(body), query_id[0].decode() if query_id else "-"))
        if mode == "request":
            client.close()
            return
        if mode == "answer":
            server.sendall(head + body)
            read_response(server)
            client.close()
            return
        server.sendall(head + body[: len(body) // 2])
        client.close()
        time.sleep(3)
        server.sendall(body[len(body) // 2:])
        read_response(server)

    def run(self):
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", self.args.listen))
        lsock.listen(16)
        while True:
            client, _ = lsock.accept()
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--to", type=int, required=True)
    ap.add_argument("--cut", choices=("request", "answer", "midway"), required=True)
    ap.add_argument("--log", required=True)
    Proxy(ap.parse_args()).run()


if __name__ == "__main__":
    main()
