#!/usr/bin/python3
"""fuzz/mkseeds.py — builds the seed corpora of the fuzz targets (issue 8).

    mkseeds.py --out build-fuzz/seeds [CAPTURE.pcap|.pcapng ...]

Seeds are made at build time, never committed. Their source is the project's
own captures: a set written here with tests/tools/pcapgen.py (every link
layer the decoder knows, tunnels, IPv6 extension headers, the handshake
variants, every violation of docs/design.md §4, a tap's disorder, gaps, snaplen cuts,
mid-stream pickup, a TLS ClientHello, pcapng and the other pcap magics), plus
the captures named on the command line (real peers' recordings such as
build/demo/demo.pcap; fuzz/fuzz.mk passes those it finds).

From each capture it cuts what each target reads (see the target's header):
  decode/    one packet each: [link type index] + frame
  http/      one TCP connection each: [flags][client length, LE16][seed, 4]
             + the client's stream head (+ a little after) + the server's
  ws/        one WebSocket connection each, same layout: the frame streams
             after the heads (or the whole streams, mid-stream)
  pipeline/  small captures whole; larger ones one file per TCP connection,
             each cut to MAX_PIPELINE bytes
And, from no capture, the database files of dbopen/ (issue 22): the schema
of every version, built with Python's sqlite3 from the migration steps in
store/schema.sql.h (the C string literals read as they are: the seeds
follow the schema, with no build needed), each with a few rows in every
table, 512-byte pages, rollback journal, vacuumed; then what the open path
must refuse or survive (see dbopen_seeds()).
File names are content hashes, so a rebuild adds nothing twice.
"""
import argparse
import hashlib
import os
import random
import re
import socket
import sqlite3
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
import pcapgen  # noqa: E402
from pcapgen import (ACK, SYN, Conversation, Pcap, close_payload, drop_data,  # noqa: E402
                     duplicate, ip_packet, overlap, reorder, resplit, tcp_segment, ws_frame)

# pcap link type (as in the file) -> index into fuzz_decode.c's `linktypes`
# (EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP, 14).
LINKTYPE_INDEX = {1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 228: 4, 229: 5, 0: 6, 108: 7, 14: 8}
MAX_DECODE = 4096      # bytes of a decode seed
MAX_STREAM = 4096      # bytes of each stream in an http/ws seed
MAX_PIPELINE = 65536   # bytes of a pipeline seed
MAX_PER_CAPTURE = 64   # http/ws/pipeline seeds taken from one capture
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCHEMA_SQL_H = os.path.join(ROOT, "store", "schema.sql.h")
TARGETS = ("decode", "http", "ws", "pipeline", "dbopen")


# ---- reading captures -----------------------------------------------------

def read_capture(data):
    """(linktype, [(ts_sec, ts_frac, frame, wire_len)], header) of a pcap or
    pcapng (first interface's link type); None if neither."""
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        pkts, pos = [], 24
        while pos + 16 <= len(data):
            sec, frac, cap, wire = struct.unpack(e + "IIII", data[pos:pos + 16])
            pkts.append((sec, frac, data[pos + 16:pos + 16 + cap], wire))
            pos += 16 + cap
        return linktype, pkts, (e, data[:24])
    if magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        linktype, pkts, pos = None, [], 0
        while pos + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[pos:pos + 8])
            if blen < 12 or pos + blen > len(data):
                break
            body = data[pos + 8:pos + blen - 4]
            if btype == 1 and linktype is None:
                linktype = struct.unpack(e + "H", body[:2])[0]
            elif btype == 6 and len(body) >= 20:
                _, hi, lo, cap, wire = struct.unpack(e + "IIIII", body[:20])
                ts = (hi << 32 | lo)
                pkts.append((ts // 1000000, ts % 1000000, body[20:20 + cap], wire))
            pos += blen
        if linktype is None:
            return None
        return linktype, pkts, ("<", struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
    return None


def ip_tcp(buf, off, depth=0):
    """(key, seq, flags, payload) of a TCP packet at buf[off:], or None."""
    if off >= len(buf):
        return None
    v = buf[off] >> 4
    if v == 4 and off + 20 <= len(buf):
        ihl = (buf[off] & 15) * 4
        total = struct.unpack("!H", buf[off + 2:off + 4])[0]
        proto = buf[off + 9]
        src, dst = buf[off + 12:off + 16], buf[off + 16:off + 20]
        l4, end = off + ihl, min(len(buf), off + total)
    elif v == 6 and off + 40 <= len(buf):
        plen = struct.unpack("!H", buf[off + 4:off + 6])[0]
        proto = buf[off + 6]
        src, dst = buf[off + 8:off + 24], buf[off + 24:off + 40]
        l4, end = off + 40, min(len(buf), off + 40 + plen)
        while proto in (0, 43, 60) and l4 + 2 <= end:  # hop-by-hop, routing, destination options
            proto, l4 = buf[l4], l4 + (buf[l4 + 1] + 1) * 8
    else:
        return None
    if proto == 17 and depth == 0 and l4 + 8 <= end:  # GTP-U (port 2152), minimal header
        sport, dport = struct.unpack("!HH", buf[l4:l4 + 4])
        if 2152 in (sport, dport):
            return ip_tcp(buf, l4 + 16, 1)
    if proto != 6 or l4 + 20 > end:
        return None
    sport, dport, seq = struct.unpack("!HHI", buf[l4:l4 + 8])
    hlen = (buf[l4 + 12] >> 4) * 4
    flags = buf[l4 + 13] & 0x3F
    return (bytes(src), sport, bytes(dst), dport), seq, flags, bytes(buf[l4 + hlen:end])


def decode_frame(linktype, f):
    if linktype == 1:
        off, et = 14, f[12:14]
        while et in (b"\x81\x00", b"\x88\xa8", b"\x91\x00") and off + 4 <= len(f):
            et, off = f[off + 2:off + 4], off + 4
        if et == b"\x88\x47":  # MPLS: to the bottom of the stack
            while off + 4 <= len(f) and not f[off + 2] & 1:
                off += 4
            off += 4
        elif et == b"\x88\x64":  # PPPoE session
            off += 8
        elif et not in (b"\x08\x00", b"\x86\xdd"):
            return None
        return ip_tcp(f, off)
    if linktype == 113:
        return ip_tcp(f, 16)
    if linktype == 276:
        return ip_tcp(f, 20)
    if linktype in (0, 108):
        return ip_tcp(f, 4)
    return ip_tcp(f, 0)


# ---- streams ---------------------------------------------------------------

def stream(segs):
    """The in-order bytes of one direction (from its SYN, or its lowest
    sequence number), up to the first hole."""
    start = None
    for seq, flags, _ in segs:
        if flags & SYN:
            start = (seq + 1) & 0xFFFFFFFF
    data = {}
    for seq, _, payload in segs:
        if payload and seq not in data:
            data[seq] = payload
    if not data:
        return b""
    if start is None or start not in data:
        start = min(data)
    out, nxt = bytearray(), start
    while len(out) < 1 << 20:
        piece = data.get(nxt)
        if piece is None:
            # a segment that starts before nxt and reaches past it (overlap)
            piece = next((p[(nxt - s) & 0xFFFFFFFF:] for s, p in data.items()
                          if 0 < (nxt - s) & 0xFFFFFFFF < len(p)), None)
            if piece is None:
                break
        out += piece
        nxt = (nxt + len(piece)) & 0xFFFFFFFF
    return bytes(out)


def head_end(b):
    i, j = b.find(b"\r\n\r\n"), b.find(b"\n\n")
    ends = [x + 4 for x in (i,) if x >= 0] + [x + 2 for x in (j,) if x >= 0]
    return min(ends) if ends else 0


def connections(linktype, pkts):
    """{(client key)}: {"c2s": segs, "s2c": segs, "client": key, "pkts": [indices]}"""
    conns = {}
    for i, (_, _, f, _) in enumerate(pkts):
        d = decode_frame(linktype, f)
        if not d:
            continue
        key, seq, flags, payload = d
        rev = (key[2], key[3], key[0], key[1])
        k = min(key, rev)
        c = conns.setdefault(k, {"dirs": {}, "pkts": [], "syn": None})
        c["dirs"].setdefault(key, []).append((seq, flags, payload))
        c["pkts"].append(i)
        if flags & SYN and not flags & ACK:
            c["syn"] = key
    out = []
    for c in conns.values():
        keys = list(c["dirs"])
        streams = {k: stream(c["dirs"][k]) for k in keys}
        client = c["syn"] or next((k for k in keys if streams[k].startswith(b"GET ")), None)
        if client is None:
            client = max(keys, key=lambda k: k[1])  # the higher port is the client's
        server = (client[2], client[3], client[0], client[1])
        out.append({"pkts": c["pkts"], "cli": streams.get(client, b""), "srv": streams.get(server, b"")})
    return out


# ---- writing seeds ------------------------------------------------------------

class Seeds:
    def __init__(self, out):
        self.out = out
        self.count = {}
        for t in TARGETS:
            os.makedirs(os.path.join(out, t), exist_ok=True)

    def add(self, target, data):
        name = hashlib.sha1(data).hexdigest()[:16]
        path = os.path.join(self.out, target, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] = self.count.get(target, 0) + 1


def two_streams(flags, cli, srv, seed):
    cli, srv = cli[:MAX_STREAM], srv[:MAX_STREAM]
    return bytes([flags]) + struct.pack("<HI", len(cli), seed) + cli + srv


def two_streams_whole(flags, cli, srv, seed):
    """two_streams() without the cut: for heads over the 16 KiB limit."""
    return bytes([flags]) + struct.pack("<HI", len(cli), seed) + cli + srv


def pcap_bytes(header, pkts):
    e, hdr = header
    out = bytearray(hdr)
    for sec, frac, f, wire in pkts:
        rec = struct.pack(e + "IIII", sec & 0xFFFFFFFF, frac & 0xFFFFFFFF, len(f), wire) + f
        if len(out) + len(rec) > MAX_PIPELINE:
            break
        out += rec
    return bytes(out)


def seeds_from(seeds, data, decode_seen):
    cap = read_capture(data)
    if not cap:
        return
    linktype, pkts, header = cap
    idx = LINKTYPE_INDEX.get(linktype)
    if idx is not None:
        for _, _, f, _ in pkts:
            d = decode_frame(linktype, f)
            # one seed per distinct header layout and payload size class
            shape = (idx, f[:64] if not d else f[:len(f) - len(d[3])][:16] + bytes([d[2]]),
                     min(len(d[3]) if d else 0, 2000).bit_length())
            if shape not in decode_seen:
                decode_seen.add(shape)
                seeds.add("decode", bytes([idx]) + f[:MAX_DECODE])
    if len(data) <= MAX_PIPELINE:
        seeds.add("pipeline", data)
    conns = connections(linktype, pkts)
    rng = random.Random(len(data))
    for c in conns[:MAX_PER_CAPTURE]:
        if len(data) > MAX_PIPELINE or len(conns) > 1:
            seeds.add("pipeline", pcap_bytes(header, [pkts[i] for i in c["pkts"]]))
        cli, srv = c["cli"], c["srv"]
        if not cli and not srv:
            continue
        ce, se = head_end(cli), head_end(srv)
        if cli.startswith(b"GET ") or srv.startswith(b"HTTP/"):
            seeds.add("http", two_streams(16, cli[:ce + 256], srv[:se + 256], rng.getrandbits(32)))
            if srv.startswith(b"HTTP/1.1 101"):
                seeds.add("ws", two_streams(0, cli[ce:], srv[se:], rng.getrandbits(32)))
                seeds.add("ws", two_streams(1, cli[ce:], srv[se:], rng.getrandbits(32)))
        else:
            seeds.add("ws", two_streams(0, cli, srv, rng.getrandbits(32)))


# ---- the project's own captures, written with pcapgen ---------------------------

class LinkPcap(Pcap):
    """A Pcap whose frames use a link layer (or encapsulation) pcapgen does
    not write itself."""

    def __init__(self, path, linktype, wrap, **kw):
        super().__init__(path, linktype=linktype, **kw)
        self.wrap = wrap

    def frame(self, seg):
        tcp = tcp_segment(seg.src, seg.dst, seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, seg.payload)
        return self.wrap(ip_packet(seg.src, seg.dst, 6, tcp), seg)


def eth(ethertype, body):
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01" + struct.pack("!H", ethertype) + body


def ipv6_with_ext(ip):
    """Inserts a hop-by-hop options header into an IPv6 packet."""
    if ip[0] >> 4 != 6:
        return ip
    plen, nxt = struct.unpack("!HB", ip[4:7])
    ext = bytes([nxt, 0]) + b"\x01\x04\0\0\0\0"  # PadN
    return ip[:4] + struct.pack("!HB", plen + 8, 0) + ip[7:40] + ext + ip[40:]


def gtpu(ip, seg):
    inner = struct.pack("!BBHI", 0x30, 0xFF, len(ip), 1) + ip
    udp = struct.pack("!HHHH", 2152, 2152, 8 + len(inner), 0) + inner
    return eth(0x0800, ip_packet("192.0.2.1", "192.0.2.2", 17, udp))


WRAPS = {
    "null": (0, lambda ip, s: struct.pack("<I", 2 if ip[0] >> 4 == 4 else 30) + ip),
    "loop": (108, lambda ip, s: struct.pack("!I", 2 if ip[0] >> 4 == 4 else 24) + ip),
    "sll2": (276, lambda ip, s: struct.pack("!HHIHBB8s", 0x0800 if ip[0] >> 4 == 4 else 0x86DD, 0, 1, 1, 0, 6,
                                            b"\x02\0\0\0\0\x01\0\0") + ip),
    "ipv4": (228, lambda ip, s: ip),
    "ipv6ext": (229, lambda ip, s: ipv6_with_ext(ip)),
    "mpls": (1, lambda ip, s: eth(0x8847, struct.pack("!II", 0x00010040, 0x00020140) + ip)),
    "pppoe": (1, lambda ip, s: eth(0x8864, struct.pack("!BBHHH", 0x11, 0, 1, len(ip) + 2, 0x0021) + ip)),
    "gtpu": (1, gtpu),
}


def basic(c, side="client"):
    c.handshake(path="/chat?room=1", host="ws.example.test")
    c.send_frame("client", 1, b"hello")
    c.send_frame("server", 1, "h\u00e9llo \u2713".encode())
    c.send_frame("client", 2, bytes(range(40)))
    c.send_frame("client", 9, b"p")
    c.send_frame("server", 10, b"p")
    c.send_frame("client", 1, b"frag", fin=False)
    c.send_frame("client", 9, b"")
    c.send_frame("client", 0, b"ment", fin=False)
    c.send_frame("client", 0, b"ed", fin=True)
    c.send_frame("server", 2, bytes(300))
    c.close(side, 1000, "bye")
    c.close("server" if side == "client" else "client", 1000)
    c.fin("server")
    c.fin("client")


def violations(c):
    c.handshake(accept=b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    c.send_frame("client", 1, b"unmasked", mask=None)
    c.send_frame("server", 1, b"masked", mask=b"\1\2\3\4")
    c.send_frame("client", 3, b"reserved")
    c.send_frame("client", 9, bytes(200))
    c.send_frame("client", 9, b"x", fin=False)
    c.send_frame("client", 0, b"orphan")
    c.send_frame("client", 1, b"rsv", rsv=4)
    c.send_frame("client", 1, b"nonminimal", force_len_form=16)
    c.send_frame("server", 2, b"long form", force_len_form=64)
    c.send_frame("client", 1, b"\xff\xfe")
    c.send_frame("server", 8, b"\x03")
    c.send_frame("client", 8, struct.pack("!H", 999) + b"\xc3\x28")
    c.send_frame("client", 1, b"after close")
    c.rst("client")


def scenarios(tmp):
    """Writes the captures; returns their paths."""
    paths = []

    def new(name, **kw):
        p = Pcap(os.path.join(tmp, name + ".pcap"), **kw)
        paths.append(p.path)
        return p

    p = new("basic")
    basic(Conversation(p, "10.0.0.1", 50000, "10.0.0.2", 80))
    p.close()

    p = new("ipv6-sll", linktype=pcapgen.LINKTYPE_LINUX_SLL)
    c = Conversation(p, "2001:db8::1", 50001, "2001:db8::2", 8080)
    c.handshake(extensions="permessage-deflate; client_max_window_bits", protocol="chat.v1")
    c.send_frame("client", 1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4)
    c.send_frame("server", 1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4)
    c.close("server", 1001, "going away")
    c.close("client", 1001)
    c.fin("client")
    c.fin("server")
    p.close()

    p = new("raw-large", linktype=pcapgen.LINKTYPE_RAW)
    c = Conversation(p, "10.0.1.1", 50002, "10.0.1.2", 80, isn=(0xFFFFFF00, 0xFFFFFFF0))
    c.handshake()
    c.send_frame("client", 2, os.urandom(3000))
    c.send_frame("server", 2, bytes(70000)[:200], force_len_form=64)
    c.close("client", 4321, "\u00fcber")
    p.close()

    p = new("rejected")
    c = Conversation(p, "10.0.2.1", 50003, "10.0.2.2", 80)
    c.handshake(status=403)
    c.fin("server")
    c.fin("client")
    p.close()

    p = new("vlan-rst")
    c = Conversation(p, "10.0.3.1", 50004, "10.0.3.2", 80, vlans=(100, 200))
    c.handshake()
    c.send_frame("server", 1, b"x" * 130)
    c.close("client", 1008, "policy \u2713")
    c.rst("server")
    p.close()

    p = new("violations")
    violations(Conversation(p, "10.0.4.1", 50005, "10.0.4.2", 80))
    p.close()

    for seed in range(3):
        rng = random.Random(seed)
        p = new("tap%d" % seed)
        basic(Conversation(p, "10.0.5.%d" % seed, 50010 + seed, "10.0.5.200", 80))
        p.transform(resplit, rng, 9)
        p.transform(overlap, rng, 0.3)
        p.transform(duplicate, rng, 0.2)
        p.transform(reorder, rng, 4)
        p.close()

    p = new("gap")
    c = Conversation(p, "10.0.6.1", 50020, "10.0.6.2", 80)
    c.handshake()
    c.send_frame("client", 1, b"a" * 100)
    c.send_frame("client", 1, b"lost message")
    c.send_frame("server", 2, b"b" * 3000)
    c.close("client", 1000)
    c.close("server", 1000)
    c.fin("client")
    c.fin("server")
    p.transform(drop_data, lambda s: s.payload.startswith(b"\x81\x8c") or len(s.payload) == 1400)
    p.close()

    p = new("midstream")
    c = Conversation(p, "10.0.7.1", 50030, "10.0.7.2", 9000)
    for i in range(4):
        c.send_frame("client", 1, b"tick %d" % i)
        c.send_frame("server", 1, b"tock %d" % i)
    c.close("server", 1011, "oops")
    c.close("client", 1011)
    c.fin("server")
    c.fin("client")
    p.close()

    p = new("snaplen", snaplen=80)
    c = Conversation(p, "10.0.8.1", 50040, "10.0.8.2", 80)
    c.handshake()
    c.send_frame("server", 1, b"s" * 200)
    c.close("client", 1000)
    c.close("server", 1000)
    p.close()

    p = new("many")
    for i in range(6):
        c = Conversation(p, "10.0.9.%d" % (i % 3), 50050 + (i % 2), "10.0.9.100", 80, isn=(i * 7777, i * 9999))
        c.handshake(path="/n%d" % i)
        c.send_frame("client", 1, b"m%d" % i)
        c.close("client", 1000 + i)
        if i % 2:
            c.close("server", 1000 + i)
        c.fin("client")
    p.close()

    p = new("interim")
    c = Conversation(p, "10.0.10.1", 50060, "10.0.10.2", 80)
    c.syn()
    c.send("client", b"GET /x HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: keep-alive, Upgrade\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n")
    c.send("server", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
                     + ws_frame(1, b"coalesced"))
    c.send_frame("client", 8, close_payload(1000))
    c.fin("client")
    p.close()

    p = new("one-sided")
    c = Conversation(p, "10.0.11.1", 50070, "10.0.11.2", 80)
    c.handshake()
    c.send_frame("client", 1, b"only the client")
    c.close("client", 3001, "x")
    p.transform(lambda segs: [s for s in segs if s.sport == 50070])
    p.close()

    p = new("not-websocket")
    c = Conversation(p, "10.0.12.1", 50080, "10.0.12.2", 80)
    c.syn()
    c.send("client", b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n")
    c.send("server", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    c.fin("server")
    p.close()

    p = new("tls")
    c = Conversation(p, "10.0.13.1", 50090, "10.0.13.2", 443)
    c.syn()
    name = b"secure.example.test"
    sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + struct.pack("!H", len(sni)) + sni
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    c.send("client", b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs)
    c.send("server", b"\x16\x03\x03\x00\x04\x02\x00\x00\x00")
    c.fin("client")
    p.close()

    # hostile (issue 8): an upgrade request over the 16 KiB head limit, a
    # 2^63-byte length claim, a close reason that is not UTF-8, and a flow
    # nDPI keeps state for (a TLS-like record on another port)
    p = new("hostile")
    c = Conversation(p, "10.0.14.1", 50095, "10.0.14.2", 80)
    c.syn()
    upgrade = (b"GET /big HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
    c.send("client", upgrade + b"".join(b"X-P%d: v\r\n" % i for i in range(1700)) + b"\r\n")
    c.send("server", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    c.send("server", struct.pack("!BBQ", 0x82, 127, 1 << 63) + b"x" * 100)
    c.send_frame("client", 8, struct.pack("!H", 1000) + b"\xff\xfe bad", mask=b"abcd")
    c.fin("client")
    c = Conversation(p, "10.0.14.3", 50096, "10.0.14.4", 5000)
    c.syn()
    c.send("client", b"\x17\x03\x03" + bytes(range(60)))
    p.close()

    for name, (linktype, wrap) in WRAPS.items():
        p = LinkPcap(os.path.join(tmp, "link-%s.pcap" % name), linktype, wrap)
        paths.append(p.path)
        v6 = name in ("ipv6ext", "null", "loop")
        c = Conversation(p, "2001:db8::%d" % len(name) if v6 else "10.1.0.1", 50100 + len(name),
                         "2001:db8::ff" if v6 else "10.1.0.2", 80)
        c.handshake()
        c.send_frame("client", 1, b"via " + name.encode())
        c.close("client", 1000)
        c.close("server", 1000)
        c.fin("client")
        p.close()

    # the same basic capture as pcapng, big-endian pcap and nanosecond pcap
    with open(os.path.join(tmp, "basic.pcap"), "rb") as f:
        data = f.read()
    _, pkts, _ = read_capture(data)
    ng = bytearray()

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    ng += block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    ng += block(1, struct.pack("<HHI", 1, 0, 262144))
    for sec, usec, frame, wire in pkts:
        ts = sec * 1000000 + usec
        ng += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), wire) + frame)
    be = bytearray(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    nano = bytearray(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
    for sec, usec, frame, wire in pkts:
        be += struct.pack(">IIII", sec, usec, len(frame), wire) + frame
        nano += struct.pack("<IIII", sec, usec * 1000, len(frame), wire) + frame
    for name, blob in (("basic.pcapng", ng), ("basic-be.pcap", be), ("basic-nano.pcap", nano)):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(blob)
        paths.append(path)
    return paths


# ---- databases, for dbopen ---------------------------------------------------------

def migration_steps(path=SCHEMA_SQL_H):
    """The SQL of each step of store/schema.sql.h's `migrations[]`: its C
    string literals, concatenated, one entry per top-level comma."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    body = text[text.index("migrations[] = {") + len("migrations[] = {"):]
    steps, cur, depth = [], [], 0
    for m in re.finditer(r'/\*.*?\*/|//[^\n]*|"((?:[^"\\]|\\.)*)"|([(),}])|(\S)', body, re.S):
        lit, punct, other = m.group(1), m.group(2), m.group(3)
        if lit is not None:
            cur.append(re.sub(r'\\(.)', lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)), lit))
        elif punct == "(":
            depth += 1
        elif punct == ")":
            depth -= 1
        elif punct == "," and depth == 0:
            steps.append("".join(cur))
            cur = []
        elif punct == "}" and depth == 0:
            break
        elif other is not None:
            raise SystemExit("mkseeds: %s: cannot read `migrations[]` near %r" % (path, body[m.start():m.start() + 40]))
    if cur:
        steps.append("".join(cur))
    if not steps:
        raise SystemExit("mkseeds: %s: no migration steps" % path)
    return steps


# Values of the columns that the schema constrains, or that the readers
# interpret; one per row (cycled). Other columns get a value by their type.
COLUMN_VALUES = {
    "kind": ["file", "live", "file"],
    "outcome": ["clean", "abnormal", "rejected", "unfinished", "half_closed"],
    "close_initiator": ["client", "server", None],
    "termination": ["fin_client", "rst_server", "capture_end"],
    "status": ["complete", "stopped", "failed: disk full"],
    "violations": ["gap,truncated", None, "masked_server_frame"],
    "capture_id": [1, 2, None],
    "close_code": [1000, 1006, None],
    "client_close_code": [1000, None, 4001],
    "server_close_code": [1000, 1011, None],
    "http_status": [101, 101, 403],
    "handshake_seen": [1, 1, 0],
    "vlan": [None, 100, 4095],
    "sni": ["", "secure.example.test", "x"],
    "host": ["ws.example.test", None, "ws.example.test:8080"],
    "path": ["/chat?room=1", "/n1", None],
    "pid": [None, 0, 1],
}


def column_value(name, decltype, notnull, row):
    if name in COLUMN_VALUES:
        v = COLUMN_VALUES[name][row % len(COLUMN_VALUES[name])]
        return v if v is not None or not notnull else 1
    t = (decltype or "").upper()
    if not notnull and row == 2:
        return None
    if "INT" in t:
        return 1000 * (row + 1) + len(name)
    if "REAL" in t:
        return 1700000000.25 + 3600 * row + len(name)
    return "%s-%d" % (name, row)


def fill_table(db, table, rows, **fixed):
    cols = [c for c in db.execute("PRAGMA table_info(%s)" % table) if not (c[5] and c[1] == "id")]
    for row in range(rows):
        vals = [fixed.get(c[1], column_value(c[1], c[2], c[3], row)) for c in cols]
        db.execute("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(c[1] for c in cols),
                                                           ", ".join("?" * len(cols))), vals)


def tables(db):
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def database(tmp, name, build, journal="delete"):
    """The bytes of a database of 512-byte pages that build(db) fills."""
    path = os.path.join(tmp, name + ".db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA page_size = 512")
    build(db)
    db.execute("PRAGMA journal_mode = %s" % journal)
    db.execute("VACUUM")
    db.close()
    with open(path, "rb") as f:
        return f.read()


def wsstats_db(steps, version, rows=3, running=False, extra=""):
    """A builder for a database of this schema version with `rows` rows in
    each table; `running`: one more captures row left running by this host
    with a pid that is gone (the writer marks it interrupted)."""
    def build(db):
        for v in range(version):
            db.executescript(steps[v])
            db.execute("PRAGMA user_version = %d" % (v + 1))
        if rows:
            have = tables(db)
            fill_table(db, "captures", min(rows, 2))
            if running and {"host", "pid"} <= {c[1] for c in db.execute("PRAGMA table_info(captures)")}:
                fill_table(db, "captures", 1, status="running", host=socket.gethostname(), pid=0, ended_at=None)
            fill_table(db, "connections", rows)
            if "tls_flows" in have:
                fill_table(db, "tls_flows", rows)
        if extra:
            db.executescript(extra)
    return build


def sql_db(script):
    return lambda db: db.executescript(script)


def dbopen_seeds(seeds):
    steps = migration_steps()
    current = len(steps)
    rng = random.Random(22)
    with tempfile.TemporaryDirectory() as tmp:
        def add(name, build, **kw):
            data = database(tmp, name, build, **kw)
            seeds.add("dbopen", data)
            return data

        # every schema version, with records; the current one also empty,
        # in WAL mode, and with a capture to mark interrupted
        for v in range(1, current + 1):
            add("v%d" % v, wsstats_db(steps, v))
        full = add("current", wsstats_db(steps, current))
        add("current-empty", wsstats_db(steps, current, rows=0))
        add("current-wal", wsstats_db(steps, current), journal="wal")
        add("current-running", wsstats_db(steps, current, running=True))
        # ours, but damaged where the records go: accepted, then a commit fails
        add("current-trigger", wsstats_db(steps, current, extra="CREATE TRIGGER no AFTER INSERT ON connections"
                                                               " BEGIN SELECT RAISE(ABORT, 'no'); END;"))
        # our table names, other columns: at the current version (the shape
        # check), at the one before (a migration step that fails), and the
        # current tables under an older version (a step that finds its work done)
        for v in (current, current - 1):
            add("ours-not-v%d" % v, sql_db("PRAGMA user_version = %d; CREATE TABLE connections (a);"
                                           " CREATE TABLE meta (k, v);" % v))
        add("old-shape", wsstats_db(steps, current - 1, extra="PRAGMA user_version = %d" % current))
        add("no-tls-key", wsstats_db(steps, current, rows=1, extra="DROP TABLE tls_flows; CREATE TABLE tls_flows"
                                                                  " (hour, sensor, server_ip, server_port, sni,"
                                                                  " connections)"))
        add("views", sql_db("PRAGMA user_version = %d; CREATE VIEW connections AS SELECT 1 AS id;"
                            " CREATE VIEW captures AS SELECT 1 AS id" % current))
        add("too-old-label", wsstats_db(steps, current, extra="PRAGMA user_version = 1"))
        # somebody else's, a schema too new, a negative version, no tables
        add("foreign", sql_db("CREATE TABLE t (x); INSERT INTO t VALUES (1), ('two')"))
        add("too-new", sql_db("PRAGMA user_version = 99; CREATE TABLE connections (id INTEGER)"))
        add("negative", sql_db("PRAGMA user_version = -1; CREATE TABLE connections (id INTEGER)"))
        add("no-tables", sql_db("CREATE TABLE x (a); DROP TABLE x"))
        # truncated copies of the current database, an empty file, random bytes
        for n in (len(full) // 2, len(full) - 512, 512, 100):
            seeds.add("dbopen", full[:n])
        seeds.add("dbopen", b"")
        seeds.add("dbopen", bytes(rng.getrandbits(8) for _ in range(600)))
        seeds.add("dbopen", b"SQLite format 3\0" + bytes(rng.getrandbits(8) for _ in range(1008)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("captures", nargs="*", help="more captures to cut seeds from")
    args = ap.parse_args()
    seeds = Seeds(args.out)
    decode_seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        for path in scenarios(tmp) + args.captures:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                print("mkseeds: %s: %s (skipped)" % (path, e.strerror), file=sys.stderr)
                continue
            seeds_from(seeds, data, decode_seen)
    # a few hand-made heads and frame streams the captures lack
    seeds.add("http", two_streams(3, b"GET / HTTP/1.0\r\nA: b\r\nC: d\r\nE: f\r\nG: h\r\n\r\n",
                                  b"HTTP/1.1 101\r\n\r\n\x81\x00", 1))
    seeds.add("ws", two_streams(1, ws_frame(1, b"x" * 126, mask=b"abcd") + ws_frame(9, mask=b"abcd"),
                                ws_frame(2, b"y" * 65536)[:300], 2))
    # heads over the 16 KiB limit (fuzz/options.sh lets http inputs be that long)
    big = b"".join(b"X-P%d: v\r\n" % i for i in range(1700)) + b"\r\n"
    seeds.add("http", two_streams_whole(16, b"GET /big HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" + big +
                                        ws_frame(1, b"early", mask=b"abcd"),
                                        b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + ws_frame(1, b"hi"), 3))
    seeds.add("http", two_streams_whole(16, b"GET /r HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
                                        b"HTTP/1.1 101 Switching Protocols\r\n" + big + ws_frame(1, b"hi"), 4))
    dbopen_seeds(seeds)
    total = {t: len(os.listdir(os.path.join(args.out, t))) for t in TARGETS}
    print("mkseeds: " + ", ".join("%s %d" % kv for kv in total.items()) + " seeds in " + args.out)


if __name__ == "__main__":
    main()
