#!/usr/bin/env python3
"""bench/gentap.py — a realistic tap capture for the speed run (issue 7).

Writes three classic pcap files (Ethernet, microsecond timestamps) into the
output directory (bench/out/ by default):

  tap.pcap         the whole tap: 1.2 GB, 3.2 million packets. Mostly
                   traffic that is not WebSocket: TLS on 443 (real
                   ClientHellos with SNI, bulk responses, ACKs), plain HTTP,
                   SSH, database protocols, refused SYNs, DNS and QUIC over
                   UDP, ARP; some IPv6 and VLAN-tagged. Plus many thousands
                   of WebSocket connections (ports 80, 8080, 8088): masked
                   client frames, small and large server frames (7-, 16- and
                   64-bit lengths), fragmented messages, permessage-deflate,
                   pings, every outcome (clean, half_closed, abnormal,
                   unfinished, rejected) and termination (fin_client,
                   fin_server, rst_client, rst_server, idle_timeout, evicted,
                   capture_end), some picked up mid-stream, some reordered,
                   duplicated or with a lost segment, a few protocol
                   violations.
  tap-ws.pcap      the WebSocket connections of tap.pcap alone: the same
                   packets, byte for byte and at the same times. wsstatsd
                   must write the same records from both files.
  tap-prefix.pcap  the first --prefix-mb MB of tap.pcap, for tools too slow
                   to read all of it (tshark).
  tap.json         what was generated: sizes, counts, the intended outcome
                   and termination of every WebSocket connection. The files
                   are reused while it matches the parameters (--force
                   regenerates).

Fast on purpose (about 30 s for the default 1.2 GB, 450 MB of memory):
packets are packed with struct from per-flow precomputed headers and
prebuilt payload templates; checksums are computed by the mod-65535 identity
(a one's complement sum of 16-bit words is the number modulo 65535), so no
per-word Python loop runs. The WebSocket part is built first, its packets
waiting in a heap keyed by time; the rest is built a window of packet time
at a time and merged in. The rules that make the two files give the same
records: the WebSocket part has address ranges of its own; only WebSocket
packets carry the capture's last timestamp (a connection still open is
written with the capture's end as its end); no connection without a teardown
falls silent near the 15-minute idle timeout before the capture ends (expiry
runs once a second of packet time, at other moments in the two files).

    bench/gentap.py [--out DIR] [--size BYTES] [--ws N] [--seed N] [--force]
"""
import argparse
import base64
import hashlib
import heapq
import itertools
import json
import math
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
from pcapgen import GUID, close_payload, ws_frame  # noqa: E402  (frame templates only)

VERSION = 1  # bump when the traffic changes: older files are regenerated

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
US = 1000000
T0 = 1700000000 * US  # first packet, µs
SPAN = 1200 * US      # the capture's length in packet time: 20 minutes
T_END = T0 + SPAN     # the last packet (a WebSocket one) carries exactly this time
IDLE = 900 * US       # wsstatsd's default --idle-timeout
WINDOW = 2 * US       # background flows are generated, and packets flushed, per window
MSS = 1460
WIN = 502
SEG_GAP = 13          # µs between back-to-back full segments (~1 Gbit/s)

IP4TCP = struct.Struct("!BBHHHBBH4s4sHHIIHHHH")
IP6TCP = struct.Struct("!IHBB16s16sHHIIHHHH")
IP4UDP = struct.Struct("!BBHHHBBH4s4sHHHH")
IP6UDP = struct.Struct("!IHBB16s16sHHHH")
REC = struct.Struct("<IIII")
SYN_OPTS = bytes.fromhex("020405b4010303070402 0101".replace(" ", ""))  # MSS 1460, NOP, WS 7, SACK ok, NOP NOP
MAC_C, MAC_S = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def frombytes(b):
    v = int.from_bytes(b, "big")
    return v << 8 if len(b) & 1 else v


def ethhdr(src, dst, vlan, ethertype):
    if vlan is None:
        return dst + src + struct.pack("!H", ethertype)
    return dst + src + struct.pack("!HHH", 0x8100, vlan, ethertype)


class Tcp:
    """One TCP connection; direction 0 is client to server. Packets get
    correct IPv4 and TCP checksums."""

    __slots__ = ("eth", "addr", "port", "seq", "ident", "ipsum", "psum", "v6", "emit")

    def __init__(self, emit, cli, srv, cport, sport, vlan, isn):
        self.v6 = len(cli) == 16
        et = 0x86DD if self.v6 else 0x0800
        self.eth = (ethhdr(MAC_C, MAC_S, vlan, et), ethhdr(MAC_S, MAC_C, vlan, et))
        self.addr = ((cli, srv), (srv, cli))
        self.port = ((cport, sport), (sport, cport))
        self.seq = [isn[0], isn[1]]
        self.ident = [isn[0] & 0xFFFF, isn[1] & 0xFFFF]
        self.psum = (int.from_bytes(cli + srv, "big") + 6, int.from_bytes(srv + cli, "big") + 6)
        if not self.v6:
            self.ipsum = tuple(int.from_bytes(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0x4000, 64, 6, 0, s, d),
                                              "big") for s, d in self.addr)
        self.emit = emit

    def pkt(self, d, ts, flags, payload=b"", opts=b""):
        plen, olen = len(payload), len(opts)
        seq = self.seq[d]
        ack = self.seq[1 - d] if flags & ACK else 0
        sp, dp = self.port[d]
        src, dst = self.addr[d]
        tcplen = 20 + olen + plen
        offl = ((5 + (olen >> 2)) << 12) | flags
        c = (self.psum[d] + tcplen + sp + dp + seq + ack + offl + WIN
             + (frombytes(payload) if plen else 0) + (int.from_bytes(opts, "big") if olen else 0)) % 65535
        c = 0xFFFF - c if c else 0
        if self.v6:
            hdr = IP6TCP.pack(0x60000000, tcplen, 6, 64, src, dst, sp, dp, seq, ack, offl, WIN, c, 0)
        else:
            idn = self.ident[d] = (self.ident[d] + 1) & 0xFFFF
            ic = (self.ipsum[d] + 20 + tcplen + idn) % 65535
            ic = 0xFFFF - ic if ic else 0
            hdr = IP4TCP.pack(0x45, 0, 20 + tcplen, idn, 0x4000, 64, 6, ic, src, dst, sp, dp, seq, ack, offl, WIN, c, 0)
        self.emit(ts, self.eth[d] + hdr + opts + payload)
        n = plen + (1 if flags & (SYN | FIN) else 0)
        if n:
            self.seq[d] = (seq + n) & 0xFFFFFFFF

    def syn(self, ts, rtt):
        self.pkt(0, ts, SYN, opts=SYN_OPTS)
        self.pkt(1, ts + rtt // 2, SYN | ACK, opts=SYN_OPTS)
        self.pkt(0, ts + rtt, ACK)
        return ts + rtt + 20

    def send(self, d, ts, data, ack_delay=200, skip=None, swap=None, dup=None):
        """data as MSS segments (PSH on the last), the receiver ACKing
        every second one and the end. skip/swap/dup: a segment index to
        lose (the tap missed it), to deliver after the next one, to send
        twice. Returns the time after the final ACK."""
        n = len(data)
        if n <= MSS and skip is None and dup is None:
            self.pkt(d, ts, ACK | PSH, data)
            ts += ack_delay
            self.pkt(1 - d, ts, ACK)
            return ts + 1
        i = k = 0
        while i < n:
            chunk = data[i:i + MSS]
            i += MSS
            flags = ACK | PSH if i >= n else ACK
            if k == skip:
                self.seq[d] = (self.seq[d] + len(chunk)) & 0xFFFFFFFF
            elif k == swap and i < n:  # this one just after the next one
                self.pkt(d, ts + SEG_GAP + 1, flags, chunk)
            else:
                self.pkt(d, ts, flags, chunk)
                if k == dup:  # a retransmission the tap saw too
                    self.seq[d] = (self.seq[d] - len(chunk)) & 0xFFFFFFFF
                    ts += 3
                    self.pkt(d, ts, flags, chunk)
            ts += SEG_GAP
            k += 1
            if k % 2 == 0 and i < n:
                self.pkt(1 - d, ts, ACK)
                ts += 2
        ts += ack_delay
        self.pkt(1 - d, ts, ACK)
        return ts + 1

    def fin(self, d, ts, rtt):
        """d closes first; the other side answers with its own FIN."""
        self.pkt(d, ts, FIN | ACK)
        self.pkt(1 - d, ts + rtt // 2, FIN | ACK)
        self.pkt(d, ts + rtt, ACK)
        return ts + rtt + 1

    def rst(self, d, ts):
        self.pkt(d, ts, RST | ACK)
        return ts + 1


class Udp:
    __slots__ = ("eth", "addr", "port", "v6", "ident", "emit")

    def __init__(self, emit, cli, srv, cport, sport, vlan):
        self.v6 = len(cli) == 16
        et = 0x86DD if self.v6 else 0x0800
        self.eth = (ethhdr(MAC_C, MAC_S, vlan, et), ethhdr(MAC_S, MAC_C, vlan, et))
        self.addr = ((cli, srv), (srv, cli))
        self.port = ((cport, sport), (sport, cport))
        self.ident = [cport, sport]
        self.emit = emit

    def pkt(self, d, ts, payload):
        src, dst = self.addr[d]
        sp, dp = self.port[d]
        ulen = 8 + len(payload)
        c = (int.from_bytes(src + dst, "big") + 17 + ulen + sp + dp + ulen + frombytes(payload)) % 65535
        c = 0xFFFF - c if c else 0xFFFF  # UDP: a computed 0 is sent as 0xFFFF
        if self.v6:
            hdr = IP6UDP.pack(0x60000000, ulen, 17, 64, src, dst, sp, dp, ulen, c)
        else:
            idn = self.ident[d] = (self.ident[d] + 1) & 0xFFFF
            h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, idn, 0x4000, 64, 17, 0, src, dst)
            ic = int.from_bytes(h, "big") % 65535
            ic = 0xFFFF - ic if ic else 0
            hdr = IP4UDP.pack(0x45, 0, 20 + ulen, idn, 0x4000, 64, 17, ic, src, dst, sp, dp, ulen, c)
        self.emit(ts, self.eth[d] + hdr + payload)


# ---- payload templates ----------------------------------------------------

def tls_ext(t, body):
    return struct.pack("!HH", t, len(body)) + body


def client_hello(sni, rng):
    name = sni.encode()
    r32 = lambda: bytes(rng.getrandbits(8) for _ in range(32))  # noqa: E731
    exts = (tls_ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
            + tls_ext(23, b"") + tls_ext(0xFF01, b"\x00")
            + tls_ext(10, bytes.fromhex("0008001d001700180019"))
            + tls_ext(11, b"\x01\x00")
            + tls_ext(35, b"")
            + tls_ext(16, bytes.fromhex("000c02683208687474702f312e31"))
            + tls_ext(13, bytes.fromhex("001004030804040105030805050108060601"))
            + tls_ext(43, bytes.fromhex("0403040303"))
            + tls_ext(51, struct.pack("!HHH", 36, 0x001D, 32) + r32())
            + tls_ext(45, b"\x01\x01"))
    ciphers = bytes.fromhex("130113031302c02bc02fcca9cca8c02cc030c00ac009c013c014009c009d002f0035")
    body = (b"\x03\x03" + r32() + b"\x20" + r32() + struct.pack("!H", len(ciphers)) + ciphers + b"\x01\x00")
    pad = max(0, 508 - len(body) - 2 - len(exts) - 4 - 4)  # padded to 512 bytes, as browsers do
    exts += tls_ext(21, bytes(pad))
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello(rng, extra):
    r = bytes(rng.getrandbits(8) for _ in range(32))
    exts = tls_ext(43, b"\x03\x04") + tls_ext(51, struct.pack("!HH", 0x001D, 32) + r)
    body = b"\x03\x03" + r + b"\x20" + r + b"\x13\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    rec = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"
    return rec + b"\x17\x03\x03" + struct.pack("!H", len(extra)) + extra


def tls_record(blob):
    return b"\x17\x03\x03" + struct.pack("!H", len(blob)) + blob


TLS_NAMES = ["www.google.com", "fonts.gstatic.com", "www.youtube.com", "i.ytimg.com", "graph.facebook.com",
             "static.xx.fbcdn.net", "www.instagram.com", "api.twitter.com", "abs.twimg.com",
             "s3.amazonaws.com", "d1.cloudfront.net", "login.microsoftonline.com", "outlook.office365.com",
             "teams.microsoft.com", "www.apple.com", "gateway.icloud.com", "www.netflix.com",
             "occ-0-1.nflxso.net", "api.github.com", "github.githubassets.com", "slack.com",
             "wss-primary.slack.com", "zoom.us", "www.wikipedia.org", "cdn.jsdelivr.net",
             "ajax.googleapis.com", "update.googleapis.com", "www.linkedin.com", "api.stripe.com",
             "www.dropbox.com"] + ["svc%d.internal.example.com" % i for i in range(60)] \
            + ["api%d.example.net" % i for i in range(40)]
HTTP_HOSTS = ["example.com", "intranet.example.com", "update.example.org", "packages.example.net",
              "deb.debian.org", "mirror.example.com", "metrics.example.com", "cdn.example.com"]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
       "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
       "okhttp/4.12.0", "Go-http-client/1.1", "python-requests/2.31.0", "curl/8.4.0"]
WS_HOSTS = ["ws.example.com", "stream.example.com", "chat.example.org", "live.example.net",
            "quotes.example.com", "push.example.com", "api.example.com", "game.example.io"]
WS_PATHS = ["/ws", "/socket", "/live", "/graphql", "/cable", "/stream/v2", "/mqtt", "/socket.io/?EIO=4&transport=websocket"]
WS_PROTOS = [None, None, None, "graphql-transport-ws", "graphql-ws", "mqtt", "wamp.2.json", "v12.stomp",
             "actioncable-v1-json"]


class Templates:
    def __init__(self, rng):
        self.blob = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 64  # 4 MiB of noise
        self.hellos = [client_hello(n, rng) for n in TLS_NAMES]
        self.shellos = [server_hello(rng, self.blob[i * 997:i * 997 + rng.randint(2500, 4200)]) for i in range(16)]
        self.dns_q, self.dns_r = [], []
        for i, n in enumerate(TLS_NAMES + HTTP_HOSTS + WS_HOSTS):
            q = b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\0"
            qt = 28 if i % 3 == 0 else 1
            self.dns_q.append((q, qt))
        self.quic_init = [bytes([0xC3]) + b"\x00\x00\x00\x01\x08" + self.blob[i * 31:i * 31 + 8] + b"\x00"
                          + b"\x44\xd0" + self.blob[i * 131:i * 131 + 1232] for i in range(32)]
        self.arp = [ethhdr(MAC_C, b"\xff" * 6, None, 0x0806)
                    + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_C, bytes((198, 18, 0, i)), b"\0" * 6,
                                  bytes((198, 18, 0, 1))) + b"\0" * 18 for i in range(1, 20)]

    def noise(self, rng, n):
        o = rng.randrange(0, len(self.blob) - n - 1) if n < len(self.blob) - 1 else 0
        return self.blob[o:o + n]


# ---- background traffic ---------------------------------------------------

class Background:
    """Flows that are not WebSocket, built one at a time; flow() returns
    the bytes it wrote."""

    def __init__(self, rng, tpl, emit):
        self.rng, self.tpl, self.emit = rng, tpl, emit
        self.kinds = [(self.tls, 36), (self.dns, 36), (self.http, 5), (self.quic, 4), (self.ssh, 1),
                      (self.db, 6), (self.refused, 10), (self.arp, 2)]
        self.cum = list(itertools.accumulate(w for _, w in self.kinds))
        self.counts = {fn.__name__: 0 for fn, _ in self.kinds}

    def flow(self, t):
        fn = self.kinds[self.pick()][0]
        self.counts[fn.__name__] += 1
        fn(t)

    def pick(self):
        x = self.rng.random() * self.cum[-1]
        for i, c in enumerate(self.cum):
            if x < c:
                return i
        return len(self.cum) - 1

    def endpoints(self, v6_share=0.12):
        rng = self.rng
        vlan = None if rng.random() < 0.8 else rng.choice((100, 200))
        if rng.random() < v6_share:
            cli = bytes.fromhex("20010db8000100000000000000") + rng.getrandbits(24).to_bytes(3, "big")
            srv = bytes.fromhex("20010db8ffff000000000000000000") + bytes((rng.randrange(1, 250),))
        else:
            cli = bytes((192, 168, rng.randrange(0, 256), rng.randrange(1, 255)))
            srv = bytes((198, 18 + rng.randrange(0, 2), rng.randrange(0, 256), rng.randrange(1, 255)))
        return cli, srv, rng.randrange(32768, 61000), vlan

    def tcp(self, port):
        cli, srv, cport, vlan = self.endpoints()
        return Tcp(self.emit, cli, srv, cport, port, vlan, (self.rng.getrandbits(32), self.rng.getrandbits(32)))

    def size(self, median, sigma, cap):
        return max(1, min(cap, int(self.rng.lognormvariate(math.log(median), sigma))))

    def teardown(self, c, t, rtt):
        x = self.rng.random()
        if x < 0.86:
            return c.fin(0 if x < 0.5 else 1, t, rtt)
        if x < 0.96:
            return c.rst(0 if x < 0.92 else 1, t)
        return t  # still open when the capture ends, or its end was missed

    def tls(self, t):
        rng, tpl = self.rng, self.tpl
        c = self.tcp(443)
        rtt = rng.randint(800, 60000)
        t = c.syn(t, rtt)
        t = c.send(0, t, rng.choice(tpl.hellos), rtt // 2)
        t = c.send(1, t + 300, rng.choice(tpl.shellos), rtt // 2)
        t = c.send(0, t + 50, tls_record(tpl.noise(rng, 58)), rtt // 2)
        for _ in range(min(8, int(rng.expovariate(0.8)) + 1)):
            t = c.send(0, t + rng.randint(50, 200000), tls_record(tpl.noise(rng, rng.randint(80, 700))), rtt // 2)
            t = c.send(1, t + rng.randint(200, 30000), tpl.noise(rng, self.size(1500, 1.5, 1000000)), rtt // 2)
        self.teardown(c, t + rng.randint(1000, 3000000), rtt)

    def http(self, t):
        rng, tpl = self.rng, self.tpl
        c = self.tcp(rng.choice((80, 80, 80, 8080)))
        rtt = rng.randint(800, 40000)
        t = c.syn(t, rtt)
        host = rng.choice(HTTP_HOSTS)
        for _ in range(rng.randint(1, 4)):
            req = ("GET /%s/%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
                   "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
                   % (rng.choice(("static", "api/v1/items", "pool/main", "img")), rng.randrange(1 << 20),
                      host, rng.choice(UAS))).encode()
            t = c.send(0, t + rng.randint(50, 500000), req, rtt // 2)
            body = tpl.noise(rng, self.size(4000, 1.7, 2000000))
            head = ("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: application/octet-stream\r\n"
                    "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)).encode()
            t = c.send(1, t + rng.randint(200, 50000), head + body, rtt // 2)
        self.teardown(c, t + rng.randint(1000, 5000000), rtt)

    def ssh(self, t):
        rng, tpl = self.rng, self.tpl
        c = self.tcp(22)
        rtt = rng.randint(800, 80000)
        t = c.syn(t, rtt)
        t = c.send(1, t + 2000, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n", rtt // 2)
        t = c.send(0, t + 300, b"SSH-2.0-OpenSSH_9.6\r\n", rtt // 2)
        t = c.send(0, t + 300, tpl.noise(rng, 1500), rtt // 2)
        t = c.send(1, t + 300, tpl.noise(rng, 1100), rtt // 2)
        for _ in range(rng.randint(10, 150)):  # keystrokes and their echoes
            t = c.send(0, t + rng.randint(30000, 900000), tpl.noise(rng, 36), 300)
            t = c.send(1, t + rng.randint(200, 5000), tpl.noise(rng, rng.choice((36, 52, 100, 500))), rtt // 2)
        self.teardown(c, t + 100000, rtt)

    def db(self, t):
        rng, tpl = self.rng, self.tpl
        c = self.tcp(rng.choice((5432, 3306, 6379, 9092)))
        rtt = rng.randint(100, 2000)
        t = c.syn(t, rtt)
        for _ in range(rng.randint(3, 80)):
            t = c.send(0, t + rng.randint(100, 300000), tpl.noise(rng, rng.randint(20, 300)), 40)
            t = c.send(1, t + rng.randint(50, 3000), tpl.noise(rng, self.size(200, 1.5, 60000)), 40)
        self.teardown(c, t + 1000, rtt)

    def refused(self, t):
        c = self.tcp(self.rng.choice((443, 25, 23, 3389, 8443, 445)))
        c.pkt(0, t, SYN, opts=SYN_OPTS)
        if self.rng.random() < 0.7:
            c.seq[0] = (c.seq[0] + 1) & 0xFFFFFFFF
            c.pkt(1, t + self.rng.randint(200, 40000), RST | ACK)
        else:  # unanswered: retransmitted
            c.pkt(0, t + 1000000, SYN, opts=SYN_OPTS)

    def dns(self, t):
        rng, tpl = self.rng, self.tpl
        cli, srv, cport, vlan = self.endpoints(0.1)
        srv = srv[:-1] + b"\x35"
        u = Udp(self.emit, cli, srv, cport, 53, vlan)
        for _ in range(rng.randint(1, 3)):
            q, qt = rng.choice(tpl.dns_q)
            tid = rng.getrandbits(16)
            u.pkt(0, t, struct.pack("!HHHHHH", tid, 0x0100, 1, 0, 0, 1) + q + struct.pack("!HH", qt, 1)
                  + bytes.fromhex("0000291000000000000000"))
            ans = 1 + rng.randrange(4)
            rr = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", qt, 1, 300, 4 if qt == 1 else 16)
                          + tpl.noise(rng, 4 if qt == 1 else 16) for _ in range(ans))
            t += rng.randint(300, 40000)
            u.pkt(1, t, struct.pack("!HHHHHH", tid, 0x8180, 1, ans, 0, 0) + q + struct.pack("!HH", qt, 1) + rr)
            t += rng.randint(10, 2000)

    def quic(self, t):
        rng, tpl = self.rng, self.tpl
        cli, srv, cport, vlan = self.endpoints(0.3)
        u = Udp(self.emit, cli, srv, cport, 443, vlan)
        rtt = rng.randint(2000, 60000)
        u.pkt(0, t, rng.choice(tpl.quic_init))
        t += rtt
        for i in range(int(rng.expovariate(1 / 40.0)) + 3):
            u.pkt(1, t, b"\x45" + tpl.noise(rng, rng.choice((1251, 1251, 1251, 400, 80))))
            t += rng.randint(15, 3000)
            if i % 3 == 2:
                u.pkt(0, t, b"\x52" + tpl.noise(rng, rng.randint(32, 60)))
                t += rng.randint(15, 300)

    def arp(self, t):
        self.emit(t, self.rng.choice(self.tpl.arp))


# ---- WebSocket connections -------------------------------------------------

def weighted(rng, table):
    x = rng.random() * sum(w for _, w in table)
    for v, w in table:
        x -= w
        if x < 0:
            return v
    return table[-1][0]


CLIENT_CODES = [((1000, ""), 50), ((1000, "bye"), 10), ((1001, ""), 20), ((1001, "page unload"), 8),
                ((None, ""), 5), ((4001, "logout"), 4), ((1002, "protocol error"), 3)]
SERVER_CODES = [((1000, ""), 30), ((1001, "server shutting down"), 20), ((1008, "unauthorized"), 10),
                ((1011, "internal error"), 10), ((4000, "session expired"), 10), ((1012, ""), 5),
                ((1009, "message too big"), 5), ((3000, "unauthorized"), 5), ((1013, "try again later"), 5)]
TEARDOWNS = [("fin_server", 60), ("fin_client", 22), ("rst_client", 12), ("rst_server", 6)]
# (outcome, termination) -> weight, per 1000 connections
SCENARIOS = [
    (("clean", "teardown"), 470),
    (("half_closed", "teardown"), 60),
    (("half_closed", "idle_timeout"), 10),
    (("half_closed", "capture_end"), 10),
    (("abnormal", "teardown"), 180),
    (("unfinished", "idle_timeout"), 60),
    (("unfinished", "capture_end"), 60),
    (("unfinished", "evicted"), 20),
    (("rejected", "teardown"), 100),
    (("midstream", "teardown"), 30),
]


class WebSockets:
    def __init__(self, rng, tpl, emit):
        self.rng, self.tpl, self.emit = rng, tpl, emit
        nz = tpl.noise
        self.srv_small = [ws_frame(1, b'{"type":"update","seq":%d,"data":"' % i + base64.b64encode(nz(rng, n))
                                   + b'"}') for i, n in enumerate(int(math.exp(rng.uniform(math.log(10), math.log(1500))))
                                                                  for _ in range(400))]
        self.srv_small_z = [ws_frame(1, nz(rng, int(math.exp(rng.uniform(math.log(10), math.log(1000))))), rsv=4)
                            for _ in range(200)]
        self.srv_medium = [ws_frame(2, nz(rng, int(math.exp(rng.uniform(math.log(130), math.log(30000))))))
                           for _ in range(60)]
        self.srv_multi = [f for f in self.srv_medium if len(f) > 3 * MSS]
        self.srv_large = [ws_frame(2, nz(rng, rng.randint(66000, 200000))) for _ in range(6)]
        rb = lambda: bytes(rng.getrandbits(8) for _ in range(4))  # noqa: E731
        self.cli_small = [ws_frame(1, b'{"op":"sub","id":%d,"q":"%s"}' % (i, base64.b64encode(nz(rng, rng.randint(4, 250)))),
                                   mask=rb()) for i in range(400)]
        self.cli_small_z = [ws_frame(1, nz(rng, rng.randint(8, 200)), mask=rb(), rsv=4) for _ in range(200)]
        self.cli_medium = [ws_frame(2, nz(rng, rng.randint(1000, 20000)), mask=rb()) for _ in range(10)]
        self.rb = rb
        self.planned = {}
        self.connections = 0

    def plan(self, outcome, termination):
        self.planned[outcome + "/" + termination] = self.planned.get(outcome + "/" + termination, 0) + 1

    def endpoints(self, i):
        rng = self.rng
        vlan = None if rng.random() < 0.85 else rng.choice((100, 200))
        port = rng.choice((80, 80, 8080, 8088))
        if rng.random() < 0.1:
            cli = bytes.fromhex("20010db8000200000000000000") + i.to_bytes(3, "big")
            srv = bytes.fromhex("20010db800ff000000000000000000") + bytes((1 + i % 8,))
        else:
            cli = bytes((172, 16 + (i >> 16), i >> 8 & 0xFF, i & 0xFF))
            srv = bytes((10, 200, 0, 1 + i % 16))
        return cli, srv, 32768 + (i * 7919) % 28000, port, vlan

    def handshake(self, c, t, rtt, status=101):
        rng = self.rng
        host, path = rng.choice(WS_HOSTS), rng.choice(WS_PATHS)
        key = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(16)))
        proto = rng.choice(WS_PROTOS)
        deflate = rng.random() < 0.4
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nOrigin: https://%s\r\nUser-Agent: %s\r\n"
               % (path, host, key.decode(), host, rng.choice(UAS)))
        if proto:
            req += "Sec-WebSocket-Protocol: %s\r\n" % proto
        if deflate:
            req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        t = c.send(0, t, (req + "\r\n").encode(), 200)
        if status != 101:
            body = b'{"error":"forbidden"}'
            reason = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 426: "Upgrade Required",
                      429: "Too Many Requests", 503: "Service Unavailable"}[status]
            resp = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                status, reason.encode(), len(body), body)
            return c.send(1, t + rng.randint(300, 20000), resp, rtt // 2), False
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n")
        if proto:
            resp += b"Sec-WebSocket-Protocol: " + proto.encode() + b"\r\n"
        if deflate:
            resp += b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n"
        return c.send(1, t + rng.randint(300, 20000), resp + b"\r\n", rtt // 2), deflate

    def session(self, c, t, until, rtt, deflate, season):
        """Messages both ways until `until` (µs), gaps under a minute."""
        rng = self.rng
        sm = self.srv_small_z if deflate else self.srv_small
        cm = self.cli_small_z if deflate else self.cli_small
        # about 30 messages a connection at most, however long it lasts
        mean_gap = max(rng.choice((200000, 1000000, 5000000, 15000000)), (min(until, T_END) - t) // 30)
        next_ping = t + 25000000
        while True:
            t += min(50000000, int(rng.expovariate(1.0 / mean_gap)) + 100)
            if t >= until:
                return until
            x = rng.random()
            if t >= next_ping:  # keepalive: the server pings, the client answers
                p = rng.getrandbits(32).to_bytes(4, "big")
                t = c.send(1, t, ws_frame(9, p), rtt // 2)
                t = c.send(0, t + rtt // 2, ws_frame(10, p, mask=self.rb()), 200)
                next_ping = t + 25000000
            elif season in ("gap", "swap", "dup"):  # a lost, a reordered, a repeated segment
                frame = rng.choice(self.srv_multi)
                skip, swap, dup = {"gap": (1, None, None), "swap": (None, 1, None), "dup": (None, None, 2)}[season]
                season = None
                t = c.send(1, t, frame, rtt // 2, skip, swap, dup)
            elif x < 0.62:
                t = c.send(1, t, rng.choice(sm), rtt // 2)
            elif x < 0.64:  # several messages in one segment
                burst = rng.choice(sm)
                for _ in range(rng.randint(1, 5)):
                    f = rng.choice(sm)
                    if len(burst) + len(f) > 2 * MSS:
                        break
                    burst += f
                t = c.send(1, t, burst, rtt // 2)
            elif x < 0.655:
                t = c.send(1, t, rng.choice(self.srv_medium), rtt // 2)
            elif x < 0.6555:
                t = c.send(1, t, rng.choice(self.srv_large), rtt // 2)
            elif x < 0.68:  # a fragmented message
                body = self.tpl.noise(rng, rng.randint(30, 3000))
                k = len(body) // 3
                t = c.send(1, t, ws_frame(1, body[:k], fin=False) + ws_frame(0, body[k:2 * k], fin=False)
                           + ws_frame(0, body[2 * k:]), rtt // 2)
            elif x < 0.97:
                if season == "unmasked":
                    frame, season = ws_frame(1, b'{"op":"ping"}'), None
                elif season == "rsv":
                    frame, season = ws_frame(1, b'{"op":"x"}', mask=self.rb(), rsv=4), None
                elif season == "nonminimal":
                    frame, season = ws_frame(1, b'{"op":"y"}', mask=self.rb(), force_len_form=16), None
                else:
                    frame = rng.choice(cm)
                t = c.send(0, t, frame, 200)
            else:
                t = c.send(0, t, rng.choice(self.cli_medium), 200)

    def close_frame(self, side, code, reason):
        if code == -1:
            payload = b"\x03"  # close_too_short
        else:
            payload = close_payload(code, reason)
        return ws_frame(8, payload, mask=self.rb() if side == 0 else None)

    def teardown(self, c, t, rtt, how):
        if how.startswith("fin_"):
            return c.fin(0 if how == "fin_client" else 1, t, rtt)
        return c.rst(0 if how == "rst_client" else 1, t)

    def connection(self, i, start, outcome, term, last=False):
        """One connection, by its planned outcome; returns its last time."""
        rng = self.rng
        self.connections += 1
        cli, srv, cport, sport, vlan = self.endpoints(i)
        isn = (rng.getrandbits(32), rng.getrandbits(32))
        c = Tcp(self.emit, cli, srv, cport, sport, vlan, isn)
        rtt = rng.randint(400, 80000)
        season = weighted(rng, [(None, 950), ("gap", 8), ("swap", 12), ("dup", 10), ("unmasked", 4), ("rsv", 2),
                                ("nonminimal", 2), ("badcode", 4), ("short", 4)])
        t = start
        if outcome == "midstream":  # began before the capture: frames only
            deflate = False
        else:
            t = c.syn(t, rtt)
            if outcome == "rejected":
                t, _ = self.handshake(c, t + 50, rtt, weighted(rng, [(403, 40), (401, 25), (404, 10), (426, 5),
                                                                      (429, 10), (503, 10)]))
                self.plan(outcome, "fin_server")
                return c.fin(1, t + rng.randint(100, 3000), rtt)
            t, deflate = self.handshake(c, t + 50, rtt)
        if last:  # the capture's last packet: a server message at exactly T_END
            t = self.session(c, t, T_END - 2 * US, rtt, deflate, None)
            c.pkt(1, T_END, ACK | PSH, rng.choice(self.srv_small))
            self.plan("unfinished", "capture_end")
            return T_END
        if term == "idle_timeout":
            until = min(T_END - IDLE - 30 * US, start + int(math.exp(rng.uniform(math.log(1e6), math.log(300e6)))))
        elif term == "capture_end":
            until = T_END + 1
        elif term == "evicted":
            until = start + rng.randint(US, 100 * US)
        else:
            until = start + int(math.exp(rng.uniform(math.log(3e5), math.log(400e6))))
        if outcome == "half_closed" and term == "capture_end":  # the close frame, then silence
            until = rng.randint(t + US, T_END - 5 * US)
        if outcome == "midstream":
            season = None
        t = self.session(c, t, until, rtt, deflate, season)
        if t > T_END:  # cut by the end of the capture
            self.plan(outcome, term)
            return t
        if outcome in ("clean", "half_closed", "midstream"):
            closer = 0 if rng.random() < 0.45 else 1
            code, reason = weighted(rng, CLIENT_CODES if closer == 0 else SERVER_CODES)
            if season == "badcode":
                code = 1005
            elif season == "short":
                code = -1
            t = c.send(closer, t + 10, self.close_frame(closer, code, reason), rtt // 2)
            if outcome != "half_closed":
                echo = None if rng.random() < 0.2 or code in (None, -1) else code
                t = c.send(1 - closer, t + rtt // 2, self.close_frame(1 - closer, echo, ""), rtt // 2)
        if term in ("idle_timeout", "capture_end"):
            self.plan("half_closed" if outcome == "half_closed" else "unfinished", term)
            return t
        if term == "evicted":  # the 4-tuple is used again: the old connection is written as evicted
            self.plan("unfinished", "evicted")
            c2 = Tcp(self.emit, cli, srv, cport, sport, vlan,
                     ((isn[0] + 0x80000000) & 0xFFFFFFFF, (isn[1] + 0x80000000) & 0xFFFFFFFF))
            t = c2.syn(t + rng.randint(5 * US, 120 * US), rtt)
            t, deflate = self.handshake(c2, t + 50, rtt)
            t = self.session(c2, t, t + rng.randint(US, 60 * US), rtt, deflate, None)
            t = c2.send(0, t, self.close_frame(0, 1000, ""), rtt // 2)
            t = c2.send(1, t + rtt // 2, self.close_frame(1, 1000, ""), rtt // 2)
            self.plan("clean", "fin_server")
            return c2.fin(1, t + 100, rtt)
        how = weighted(rng, TEARDOWNS)
        if outcome == "abnormal":
            how = weighted(rng, [("rst_client", 40), ("fin_client", 20), ("rst_server", 20), ("fin_server", 20)])
        self.plan("clean" if outcome == "midstream" else outcome, how)
        return self.teardown(c, t + rng.randint(100, 50000), rtt, how)

    def all(self, n):
        """n connections: (start time, outcome, termination) drawn first, so
        that the ones that must fall silent early start early."""
        rng = self.rng
        for i in range(n):
            outcome, term = weighted(rng, SCENARIOS)
            if outcome == "midstream":
                start = T0 + rng.randint(0, 3 * US)
            elif term == "idle_timeout":
                start = T0 + rng.randint(0, SPAN - IDLE - 60 * US)
            elif term == "capture_end":
                start = T_END - rng.randint(30 * US, 700 * US)
            else:
                start = T0 + rng.randint(0, SPAN - 420 * US)
            self.connection(i + 1, start, outcome, term)
        self.connection(n + 1, T_END - 20 * US, "unfinished", "capture_end", last=True)


# ---- the files --------------------------------------------------------------

class Out:
    def __init__(self, path):
        self.path, self.tmp = path, path + ".tmp"
        self.f = open(self.tmp, "wb", buffering=1 << 22)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.size, self.packets = 24, 0

    def close(self):
        self.f.close()
        os.replace(self.tmp, self.path)


def generate(args, meta_path):
    t_start = time.time()
    rng = random.Random(args.seed)
    tpl = Templates(rng)
    heap = []
    counter = itertools.count()
    push = heapq.heappush
    ws_stats = [0, 0]
    bg_stats = [0, 0]

    def emit_ws(ts, frame):
        if ts <= T_END:
            push(heap, (ts, next(counter), frame, True))
            ws_stats[0] += 1
            ws_stats[1] += 16 + len(frame)

    def emit_bg(ts, frame):
        if ts < T_END:
            push(heap, (ts, next(counter), frame, False))
            bg_stats[0] += 1
            bg_stats[1] += 16 + len(frame)

    ws = WebSockets(random.Random(args.seed + 1), tpl, emit_ws)
    ws.all(args.ws)
    print("gentap: %d WebSocket connections, %d packets, %.1f MB (%.1f s)"
          % (ws.connections, ws_stats[0], ws_stats[1] / 1e6, time.time() - t_start), flush=True)
    bg = Background(rng, tpl, emit_bg)
    budget = max(0, args.size - ws_stats[1] - 24)
    big, wsf, pre = Out(os.path.join(args.out, "tap.pcap")), Out(os.path.join(args.out, "tap-ws.pcap")), \
        Out(os.path.join(args.out, "tap-prefix.pcap"))
    pre_left = args.prefix_mb * 1000000
    pop = heapq.heappop
    rec = REC.pack
    nwin = SPAN // WINDOW
    bw, ww, pw = big.f.write, wsf.f.write, pre.f.write
    for w in range(nwin + 1):
        lo = T0 + w * WINDOW
        if w < nwin:
            goal = budget * (w + 1) // nwin
            while bg_stats[1] < goal:  # flows start uniformly over the window
                bg.flow(lo + rng.randrange(WINDOW))
        boundary = lo + WINDOW if w < nwin else T_END + 1
        while heap and heap[0][0] < boundary:
            ts, _, frame, is_ws = pop(heap)
            n = len(frame)
            r = rec(ts // US, ts % US, n, n) + frame
            bw(r)
            big.packets += 1
            big.size += 16 + n
            if is_ws:
                ww(r)
                wsf.packets += 1
                wsf.size += 16 + n
            if pre_left > 0:
                pw(r)
                pre.packets += 1
                pre.size += 16 + n
                pre_left -= 16 + n
        if w % 60 == 0:
            print("gentap: %3d%% %.0f MB (%.0f s)" % (100 * w // nwin, big.size / 1e6, time.time() - t_start),
                  flush=True)
    assert not heap
    for o in (big, wsf, pre):
        o.close()
    meta = {
        "version": VERSION, "seed": args.seed, "size": args.size, "ws": args.ws, "prefix_mb": args.prefix_mb,
        "span_s": SPAN / US, "first_ts": T0 / US, "last_ts": T_END / US,
        "tap": {"packets": big.packets, "bytes": big.size},
        "ws_only": {"packets": wsf.packets, "bytes": wsf.size},
        "prefix": {"packets": pre.packets, "bytes": pre.size},
        "ws_connections": ws.connections, "ws_records_planned": ws.planned,
        "background_flows": bg.counts, "seconds": round(time.time() - t_start, 1),
    }
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    os.replace(meta_path + ".tmp", meta_path)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    ap.add_argument("--size", type=int, default=1200000000, help="bytes of tap.pcap (default 1.2e9)")
    ap.add_argument("--ws", type=int, default=20000, help="WebSocket connections (default 20000)")
    ap.add_argument("--prefix-mb", type=int, default=50, help="MB of tap-prefix.pcap (default 50)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--force", action="store_true", help="generate even if the files are there")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    meta_path = os.path.join(args.out, "tap.json")
    want = {"version": VERSION, "seed": args.seed, "size": args.size, "ws": args.ws, "prefix_mb": args.prefix_mb}
    if not args.force and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        files = [os.path.join(args.out, n) for n in ("tap.pcap", "tap-ws.pcap", "tap-prefix.pcap")]
        if all(meta.get(k) == v for k, v in want.items()) and all(os.path.exists(p) for p in files) \
                and os.path.getsize(files[0]) == meta["tap"]["bytes"]:
            print("gentap: using %s (%d packets, %.2f GB; --force to regenerate)"
                  % (files[0], meta["tap"]["packets"], meta["tap"]["bytes"] / 1e9))
            return 0
    meta = generate(args, meta_path)
    print("gentap: tap.pcap %d packets %.2f GB, tap-ws.pcap %d packets %.1f MB, tap-prefix.pcap %d packets; %.0f s"
          % (meta["tap"]["packets"], meta["tap"]["bytes"] / 1e9, meta["ws_only"]["packets"],
             meta["ws_only"]["bytes"] / 1e6, meta["prefix"]["packets"], meta["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
