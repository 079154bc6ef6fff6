#!/usr/bin/python3
"""tests/hostile/hostile.py — captures and checks for tests/hostile/run.sh.

Writes the hostile inputs of issue 8 and judges what wsstatsd made of them.
Every input is generated here, from a seed, so that a failing case can be
reproduced with one command (run.sh prints it). Subcommands:

  synth OUT                 a mix of conversations: WebSocket over IPv4, IPv6
                            and a VLAN, rejected, mid-stream, plain HTTP, other
                            TCP (input for the snaplen and corruption cases)
  ooo OUT N ORDER           one WebSocket connection whose server sends N bytes
                            (N/4 text frames) as N one-byte segments, in ORDER:
                            window (shuffled in windows of 16), reverse, or hole
                            (the first byte withheld until the end)
  bigframe OUT              frame headers claiming 2^63, 2^64-1, 2^63-1 bytes
  badutf8 OUT               close frames whose reasons are not UTF-8
  headers OUT               upgrade requests with 10,000 headers, a 10 MB
                            header line, and 3,000 / 100 headers that fit
  smallseg OUT              raw-IP connections whose handshakes survive a
                            snaplen of 60 (a 101 with frames cut, a 403)
  tlsflows OUT N            N flows of a SYN and one TLS-like segment
  headflood OUT N SIZE      N upgrade requests of SIZE bytes that never end
  synaround OUT N           a WebSocket connection open across N SYN-only flows
  one OUT                   a single short WebSocket connection (RSS baseline)
  corrupt IN OUT SEED N WHERE
                            N random bytes of IN changed (WHERE: payload =
                            packet bytes only; any = record headers too;
                            caplen = record SEED's caplen set to 0xfffffff0);
                            prints the index of the first damaged record
  corrupt-set BASE DIR SEEDS   all of run.sh's damaged files (see corrupt_set)
  check-corrupt BASE CLEAN_DB DIR SEEDS BIN   judges what wsstatsd made of them
  libpcap-stop PCAP         the record libpcap stops at (-1: read to the end)
  snapshot DB OUT           every row of connections, captures and meta, exactly
  check-reuse SNAPSHOT DB   those rows unchanged in DB, integrity_check ok
  flows PCAP                JSON per TCP flow: packets, last packet index,
                            payload cut by the snaplen, TCP payload per side
  hdrcut PCAP               packets cut inside their headers
  check-trunc SNAPLEN (LABEL UNCUT_DB CUT_DB CUT_PCAP)...   the snaplen checks
  check-big DB PCAP         byte counts of the length-claim records
  sane DB                   invariants every record must keep (docs/design.md §2-§4)

Pcap writing: classic pcap, microsecond timestamps; tests/tools/pcapgen.py
for conversations, struct directly for the floods (a million packets must be
written in about a second). TCP/IP checksums of flood packets are 0:
wsstatsd does not verify them (a tap's copies often carry offloaded ones).
"""
import json
import os
import random
import sqlite3
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in tests/tools
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pcapgen import LINKTYPE_RAW, Conversation, Pcap, ws_frame  # noqa: E402

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3's example key/accept pair
OUTCOMES = {"clean", "half_closed", "abnormal", "unfinished", "rejected"}
TERMINATIONS = {"fin_client", "fin_server", "rst_client", "rst_server", "idle_timeout", "evicted", "capture_end"}
VIOLATIONS = {"unmasked_client_frame", "masked_server_frame", "reserved_opcode", "rsv_without_extension",
              "control_frame_too_long", "fragmented_control_frame", "bad_continuation", "non_minimal_length",
              "close_too_short", "invalid_close_code", "invalid_utf8_reason", "data_after_close", "bad_accept",
              "gap", "truncated"}


# ---- conversation captures (pcapgen) ---------------------------------------

def masker(rng):
    return lambda: bytes(rng.randrange(256) for _ in range(4))


def synth(out):
    """Ten connections, one after the other (each ends before the next one
    starts, so a damaged record only touches the connections after it)."""
    rng = random.Random(8)
    mask = masker(rng)
    p = Pcap(out)

    def frame(c, side, op, data=b"", **kw):
        c.send_frame(side, op, data, mask=mask() if side == "client" else None, **kw)

    def close(c, side, code=None, reason=""):
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
        frame(c, side, 8, payload)

    c = Conversation(p, "10.1.0.1", 40001, "10.1.0.100", 80)
    c.handshake(path="/a")
    frame(c, "client", 1, b"hello, server")
    frame(c, "server", 1, ("text message %d " % 7 * 20).encode())
    frame(c, "server", 2, bytes(range(256)) * 20)  # 5120 bytes: four segments
    frame(c, "client", 9, b"ping")
    frame(c, "server", 10, b"ping")
    close(c, "client", 1000, "bye")
    close(c, "server", 1000)
    c.fin("server")
    c.fin("client")

    c = Conversation(p, "10.1.0.2", 40002, "10.1.0.100", 80)
    c.handshake(path="/b", protocol="chat")
    frame(c, "server", 1, b"x" * 100)
    close(c, "server", 1001, "going away")
    close(c, "client", 1001)
    c.rst("client")

    c = Conversation(p, "10.1.0.3", 40003, "10.1.0.100", 80)
    c.handshake(path="/c")
    for i in range(20):
        frame(c, "server" if i % 2 else "client", 1, b"tick %04d" % i)
    c.fin("client")
    c.fin("server")

    c = Conversation(p, "10.1.0.4", 40004, "10.1.0.100", 80)
    c.handshake(path="/forbidden", status=403)
    c.fin("server")
    c.fin("client")

    c = Conversation(p, "fd00::5", 40005, "fd00::100", 8080)
    c.handshake(path="/v6")
    frame(c, "client", 2, bytes(200))
    close(c, "client", 4000, "custom")
    close(c, "server", 4000)
    c.fin("client")
    c.fin("server")

    c = Conversation(p, "10.1.0.6", 40006, "10.1.0.100", 80, vlans=(100,))
    c.handshake(path="/vlan")
    frame(c, "server", 1, b"tagged " * 30)
    close(c, "server", 1011, "internal error")
    close(c, "client", 1011)
    c.fin("server")
    c.fin("client")

    # mid-stream, frames small enough that no snaplen >= 60 cuts a packet:
    # 14 + 20 + 20 bytes of headers leave 6 for the payload
    c = Conversation(p, "10.1.0.7", 40007, "10.1.0.100", 80, isn=(7000, 9000))
    c.send("server", ws_frame(1, b"hi"))
    c.send("client", ws_frame(9, b"", mask=b"abcd"))
    c.send("server", ws_frame(10, b""))
    c.send("server", ws_frame(1, b"yo"))
    c.send("server", ws_frame(8, b"\x03\xe8"))
    c.send("client", ws_frame(8, b"", mask=b"abcd"))
    c.fin("server")
    c.fin("client")

    # plain HTTP, no upgrade: never a record, cut or not
    c = Conversation(p, "10.1.0.8", 40008, "10.1.0.100", 80)
    c.syn()
    c.send("client", b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: curl/8.5\r\n"
                     b"Accept: */*\r\n\r\n")
    c.send("server", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 600\r\n\r\n" +
           b"<p>hello</p>" * 50)
    c.fin("server")
    c.fin("client")

    # some other TCP protocol
    c = Conversation(p, "10.1.0.9", 40009, "10.1.0.100", 5432)
    c.syn()
    c.send("client", bytes(range(256)) * 3)
    c.send("server", bytes(range(255, -1, -1)) * 3)
    c.fin("client")
    c.fin("server")

    c = Conversation(p, "10.1.0.10", 40010, "10.1.0.100", 80)
    c.handshake(path="/open")
    frame(c, "client", 1, b"still here")
    p.close()


def one(out):
    p = Pcap(out)
    c = Conversation(p, "10.0.0.1", 40000, "10.0.0.2", 80)
    c.handshake()
    c.send_frame("client", 1, b"hello", mask=b"abcd")
    c.close("client", 1000)
    c.close("server", 1000)
    c.fin("server")
    c.fin("client")
    p.close()


def bigframe(out):
    """Each connection: a normal client frame, then one side sends a header
    claiming an enormous payload followed by 4000 real bytes; then the
    server sends a close (inside that payload if the server claimed it),
    the client a close, and both FIN."""
    p = Pcap(out)
    claims = [("server", 1 << 63), ("server", (1 << 64) - 1), ("client", 1 << 63), ("client", (1 << 64) - 1),
              ("server", (1 << 63) - 1)]
    for i, (side, n) in enumerate(claims):
        c = Conversation(p, "10.5.0.%d" % (i + 1), 41000 + i, "10.5.1.1", 80)
        c.handshake(path="/claim-%s-%d" % (side, i))
        c.send_frame("client", 1, b"before", mask=b"abcd")
        hdr = struct.pack("!BBQ", 0x82, 127 | (0x80 if side == "client" else 0), n)
        c.send(side, hdr + (b"abcd" if side == "client" else b"") + b"x" * 1000)
        c.send(side, b"y" * 3000)
        c.close("server", 1000, "bye")
        c.close("client", 1000)
        c.fin("server")
        c.fin("client")
    p.close()


BADUTF8 = [  # (first closer, code, reason bytes, valid UTF-8?)
    ("server", 1001, b"\xff\xfe bad", False),        # bytes that never occur in UTF-8
    ("client", 4000, b"ok \xc3\x28", False),         # a lead byte without its continuation
    ("server", 1000, b"\xed\xa0\x80", False),        # a UTF-16 surrogate (U+D800)
    ("client", 1000, b"\xf4\x90\x80\x80", False),    # beyond U+10FFFF
    ("server", 3000, b"cut \xe2\x82", False),        # a character cut at the end
    ("server", 1000, b"overlong \xc0\xaf", False),   # an overlong '/'
    ("server", 1011, b"caf\xc3\xa9 ok", True),       # valid: the control
]


def badutf8(out):
    p = Pcap(out)
    for i, (side, code, reason, _) in enumerate(BADUTF8):
        c = Conversation(p, "10.6.0.%d" % (i + 1), 42000 + i, "10.6.1.1", 80)
        c.handshake(path="/utf8-%d" % i)
        c.send_frame(side, 8, struct.pack("!H", code) + reason, mask=b"abcd" if side == "client" else None)
        c.close(c.other(side), code)
        c.fin("server")
        c.fin("client")
    p.close()


HEADER_CASES = ["tenk", "tenmb", "upgrade-after-100", "many-3000"]


def headers(out):
    """Four upgrade requests, each answered 101 and followed by a text frame
    and closes both ways: 10,000 headers after the upgrade headers; one
    10 MB header line; 100 headers before the upgrade headers (2.5 KB in
    all); 3,000 headers after them (12 KB in all)."""
    p = Pcap(out)
    upgrade = ("Host: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n") % KEY.decode()
    reqs = [
        "GET /tenk HTTP/1.1\r\n" + upgrade + "".join("X-H%d: v\r\n" % j for j in range(10000)) + "\r\n",
        "GET /tenmb HTTP/1.1\r\n" + upgrade + "X-Big: " + "a" * (10 << 20) + "\r\n\r\n",
        "GET /upgrade-after-100 HTTP/1.1\r\n" + "".join("X-Pad-%d: 0123456789\r\n" % j for j in range(100)) +
        upgrade + "\r\n",
        "GET /many-3000 HTTP/1.1\r\n" + upgrade + "a:\r\n" * 3000 + "\r\n",
    ]
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\n\r\n")
    for i, req in enumerate(reqs):
        c = Conversation(p, "10.7.0.%d" % (i + 1), 43000 + i, "10.7.1.1", 80)
        c.syn()
        c.send("client", req.encode())
        c.send("server", resp)
        c.send_frame("client", 1, b"hi", mask=b"abcd")
        c.close("client", 1000)
        c.close("server", 1000)
        c.fin("server")
        c.fin("client")
    p.close()


def smallseg(out):
    """Raw-IP captures whose handshakes come in segments of at most 20
    payload bytes (whole at snaplen 60: 40 bytes of IPv4 and TCP headers),
    so that records survive every cut: a WebSocket connection with a
    200-byte frame (cut at 60, 96 and 200) and close frames small enough to
    stay whole, and an upgrade refused with a 403 whose status line's first
    20 bytes fit in one packet, followed by a body that is cut."""
    p = Pcap(out, linktype=LINKTYPE_RAW)
    rng = random.Random(60)
    mask = masker(rng)

    def small(c, side, data):
        c.send(side, data, segment_size=20)

    c = Conversation(p, "10.2.0.1", 41001, "10.2.0.100", 80)
    c.syn()
    small(c, "client", ("GET /small HTTP/1.1\r\nHost: s.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % KEY.decode()).encode())
    small(c, "server", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\n\r\n")
    c.send("server", ws_frame(1, b"x" * 200))
    c.send("client", ws_frame(8, struct.pack("!H", 1000), mask=mask()))
    c.send("server", ws_frame(8, struct.pack("!H", 1000)))
    c.fin("client")
    c.fin("server")

    c = Conversation(p, "10.2.0.2", 41002, "10.2.0.100", 80)
    c.syn()
    small(c, "client", ("GET /refused HTTP/1.1\r\nHost: s.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % KEY.decode()).encode())
    small(c, "server", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 300\r\n\r\n")
    c.send("server", b"f" * 300)
    c.fin("server")
    c.fin("client")
    p.close()


# ---- floods: struct directly ----------------------------------------------------

ETH = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"


class FastPcap:
    """Ethernet/IPv4 packets written as they come, checksums 0 (see above)."""
    pack_ip = struct.Struct("!BBHHHBBH4s4s").pack
    pack_tcp = struct.Struct("!HHIIBBHHH").pack
    pack_rec = struct.Struct("<IIII").pack

    def __init__(self, out, start=1700000000 * 1000000):
        self.f = open(out, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.clock = start

    def pkt(self, src, dst, sport, dport, seq, ack, flags, payload=b"", step=1):
        frame = (ETH + self.pack_ip(0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst) +
                 self.pack_tcp(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0) + payload)
        ts = self.clock
        self.clock += step
        self.f.write(self.pack_rec(ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)

    def raw(self, records):
        """Records read from another capture (read_pcap), re-timed to follow on."""
        for frame, wire in records:
            ts = self.clock
            self.clock += 1000
            self.f.write(self.pack_rec(ts // 1000000, ts % 1000000, len(frame), wire) + frame)

    def close(self):
        self.f.close()


def client_addr(i, net=20):
    return bytes((10, net + (i >> 16 & 0x3F), i >> 8 & 0xFF, i & 0xFF))


TLS_LIKE = b"\x17\x03\x03" + bytes(range(60))  # a TLS application-data record header and 60 bytes


def tlsflows(out, n):
    """n flows to 10.99.0.1:5000, each a SYN and one client segment that
    looks like TLS (nDPI keeps its state for it, waiting for more, and
    guesses TLS when the flow is given up): the use-after-free at exit of
    issue 8's audit (commit 4de8cfb) with one flow, and the per-flow nDPI
    state against the memcap with many."""
    w = FastPcap(out)
    srv = bytes((10, 99, 0, 1))
    for i in range(n):
        cli = client_addr(i)
        w.pkt(cli, srv, 50505, 5000, 1000, 0, 0x02, step=10)
        w.pkt(cli, srv, 50505, 5000, 1001, 50001, 0x18, TLS_LIKE, step=10)
    w.close()


def headflood(out, n, size):
    """n connections, each a SYN and an upgrade request of `size` bytes
    (1400-byte segments) that never ends: a head buffer each (16 KiB),
    which the memcap must cover."""
    w = FastPcap(out)
    srv = bytes((10, 98, 0, 1))
    for i in range(n):
        cli = client_addr(i)
        head = (b"GET /flood-%d HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Pad: " % i)
        data = head + b"a" * (size - len(head))
        w.pkt(cli, srv, 50505, 80, 1000, 0, 0x02, step=10)
        for at in range(0, len(data), 1400):
            w.pkt(cli, srv, 50505, 80, 1001 + at, 50001, 0x18, data[at:at + 1400], step=10)
    w.close()


def synaround(out, n):
    """A WebSocket connection opened (handshake, a frame each way), then n
    SYN-only flows from other clients (10 µs apart), then its closes both
    ways and FINs: the flood must not evict it."""
    tmp = out + ".conv"
    p = Pcap(tmp)
    c = Conversation(p, "10.3.0.1", 40000, "10.3.0.2", 80)
    c.handshake(path="/through-the-flood")
    c.send_frame("client", 1, b"before", mask=b"abcd")
    c.send_frame("server", 1, b"before")
    split = len(p.segs)
    c.close("client", 1000, "after")
    c.close("server", 1000)
    c.fin("client")
    c.fin("server")
    p.close()
    data, _, recs = read_pcap(tmp)
    os.unlink(tmp)
    records = [(data[pos + 16:pos + 16 + cap], wire) for pos, cap, wire in recs]
    w = FastPcap(out)
    w.raw(records[:split])
    srv = bytes((10, 9, 0, 1))
    for i in range(n):
        w.pkt(client_addr(i, 10), srv, 1024 + (i & 0x7FFF), 443, i, 0, 0x02, step=10)
    w.raw(records[split:])
    w.close()


# ---- the out-of-order flood: struct directly -------------------------------

def ooo(out, n, order):
    cli, srv = bytes((10, 4, 0, 1)), bytes((10, 4, 0, 2))
    cport, sport = 40000, 80
    clock = [1700000000 * 1000000]
    f = open(out, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    w = f.write
    pack_ip, pack_tcp, pack_rec = struct.Struct("!BBHHHBBH4s4s").pack, struct.Struct("!HHIIBBHHH").pack, \
        struct.Struct("<IIII").pack

    def pkt(from_client, seq, ack, flags, payload=b""):
        src, dst, sp, dp = (cli, srv, cport, sport) if from_client else (srv, cli, sport, cport)
        frame = (ETH + pack_ip(0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst) +
                 pack_tcp(sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0) + payload)
        ts = clock[0]
        clock[0] += 1
        w(pack_rec(ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)

    cs, ss = 1000, 50000
    pkt(True, cs, 0, 0x02)
    cs += 1
    pkt(False, ss, cs, 0x12)
    ss += 1
    pkt(True, cs, ss, 0x10)
    req = (b"GET /ooo HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    pkt(True, cs, ss, 0x18, req)
    cs += len(req)
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\n\r\n")
    pkt(False, ss, cs, 0x18, resp)
    ss += len(resp)
    data = b"\x81\x02ab" * (n // 4)
    n = len(data)
    if order == "hole":
        seq_order = list(range(1, n)) + [0]
    elif order == "reverse":
        seq_order = list(range(n - 1, -1, -1))
    elif order == "window":
        rng = random.Random(1)
        seq_order = []
        for i in range(0, n, 16):
            block = list(range(i, min(n, i + 16)))
            rng.shuffle(block)
            seq_order += block
    else:
        raise SystemExit("ooo: ORDER is window, reverse or hole")
    for i in seq_order:
        pkt(False, ss + i, cs, 0x18, data[i:i + 1])
    ss += n
    pkt(False, ss, cs, 0x18, b"\x88\x02\x03\xe8")  # close 1000
    ss += 4
    pkt(True, cs, ss, 0x18, b"\x88\x82abcd" + bytes((0x03 ^ 0x61, 0xE8 ^ 0x62)))
    cs += 8
    pkt(False, ss, cs, 0x11)
    ss += 1
    pkt(True, cs, ss, 0x11)
    cs += 1
    pkt(False, ss, cs, 0x10)
    f.close()


# ---- reading captures ------------------------------------------------------

def read_pcap(path):
    """(endian, global header bytes, [(record offset, caplen, wirelen)])."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D, 0xD4C3B2A1, 0x4D3CB2A1):
        raise SystemExit("%s: not a classic pcap (editcap -F pcap makes one)" % path)
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    recs, pos = [], 24
    while pos + 16 <= len(data):
        caplen, wirelen = struct.unpack_from(endian + "II", data, pos + 8)
        recs.append((pos, caplen, wirelen))
        pos += 16 + caplen
    return data, endian, recs


def ip_text(b):
    import ipaddress
    return str(ipaddress.ip_address(b))


def decode(frame, linktype):
    """(key, src endpoint, header complete, payload captured, payload on the
    wire, captured payload) of a TCP packet; None for anything else; key "?"
    when the packet is TCP but cut before its ports."""
    off = 0
    if linktype == 1:
        off, et = 12, None
        while True:
            if len(frame) < off + 2:
                return None
            et = struct.unpack_from("!H", frame, off)[0]
            off += 2
            if et in (0x8100, 0x88A8, 0x9100):
                off += 2
                continue
            break
        if et not in (0x0800, 0x86DD):
            return None
    elif linktype == 113:
        off = 16
    elif linktype == 276:
        off = 20
    elif linktype in (0, 108):
        off = 4
    elif linktype not in (101, 228, 229, 12):
        return None
    return decode_ip(frame, off, 0)


def decode_ip(frame, off, depth):
    """IPv4/IPv6 (extension headers walked), GTP-U tunnels followed as
    capture/decode.c does."""
    if len(frame) < off + 1:
        return None
    v = frame[off] >> 4
    if v == 4:
        if len(frame) < off + 20:
            return ("?", None, False, 0, 0, b"")
        ihl = (frame[off] & 15) * 4
        total, proto = struct.unpack_from("!H", frame, off + 2)[0], frame[off + 9]
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        if struct.unpack_from("!H", frame, off + 6)[0] & 0x3FFF:
            return None  # a fragment
        l4, end = off + ihl, off + total
    elif v == 6:
        if len(frame) < off + 40:
            return ("?", None, False, 0, 0, b"")
        plen, proto = struct.unpack_from("!H", frame, off + 4)[0], frame[off + 6]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        l4, end = off + 40, off + 40 + plen
        while proto in (0, 43, 60, 51):
            if len(frame) < l4 + 2:
                return ("?", None, False, 0, 0, b"")
            proto, n = frame[l4], frame[l4 + 1]
            l4 += (n + 2) * 4 if proto == 51 else (n + 1) * 8
        if proto == 44:
            return None
    else:
        return None
    if proto == 17 and depth < 2:
        if len(frame) < l4 + 8:
            return None
        sport, dport = struct.unpack_from("!HH", frame, l4)
        if 2152 not in (sport, dport) or len(frame) < l4 + 16:
            return None
        flags, pos = frame[l4 + 8], l4 + 16
        if flags >> 5 != 1 or not flags & 0x10 or frame[l4 + 9] != 0xFF:
            return None
        if flags & 0x07:
            if len(frame) < pos + 4:
                return None
            nxt, pos = frame[pos + 3], pos + 4
            while nxt:
                if len(frame) < pos + 1 or frame[pos] == 0:
                    return None
                pos += frame[pos] * 4
                if len(frame) < pos:
                    return None
                nxt = frame[pos - 1]
        return decode_ip(frame, pos, depth + 1)
    if proto != 6:
        return None
    if len(frame) < l4 + 4:
        return ("?", None, False, 0, 0, b"")
    sport, dport = struct.unpack_from("!HH", frame, l4)
    a, b = (ip_text(src), sport), (ip_text(dst), dport)
    key = "%s|%d|%s|%d" % (min(a, b) + max(a, b))
    if len(frame) < l4 + 13:
        return (key, a, False, 0, 0, b"")
    thl = (frame[l4 + 12] >> 4) * 4
    if len(frame) < l4 + thl:
        return (key, a, False, 0, 0, b"")
    wire = max(0, end - l4 - thl)
    payload = frame[l4 + thl:max(l4 + thl, min(len(frame), end))]
    return (key, a, True, len(payload), wire, payload)


def one_close_frame(payload):
    """Is this payload exactly one whole close frame (RFC 6455 §5.5.1)?"""
    if len(payload) < 2 or payload[0] & 0x0F != 8 or payload[1] & 0x7F > 125:
        return False
    return len(payload) == 2 + (4 if payload[1] & 0x80 else 0) + (payload[1] & 0x7F)


def status_code(payload):
    """The status of an HTTP/1.1 status line at the start of payload."""
    if len(payload) >= 12 and payload[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ") and payload[9:12].isdigit():
        return int(payload[9:12])
    return None


def flows(path):
    """Per flow key: packets, last record index, payload cut (TCP header
    whole, payload short), packets cut inside their headers, TCP payload
    bytes on the wire per source endpoint, whether a whole close frame was
    captured in one packet, HTTP status lines captured."""
    data, endian, recs = read_pcap(path)
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    out, hdrcut = {}, 0
    for i, (pos, caplen, _) in enumerate(recs):
        d = decode(data[pos + 16:pos + 16 + caplen], linktype)
        if d is None:
            continue
        key, src, whole, cap, wire, payload = d
        if not whole:
            hdrcut += 1
        if key == "?":
            continue
        f = out.setdefault(key, {"packets": 0, "last": i, "cut": False, "hdrcut": 0, "wire": {},
                                 "close_visible": False, "status": []})
        f["packets"] += 1
        f["last"] = i
        if not whole:
            f["hdrcut"] += 1
        elif cap < wire:
            f["cut"] = True
        elif one_close_frame(payload):
            f["close_visible"] = True
        if whole and status_code(payload) is not None:
            f["status"].append(status_code(payload))
        if src and whole:
            k = "%s|%d" % src
            f["wire"][k] = f["wire"].get(k, 0) + wire
    return {"flows": out, "hdrcut": hdrcut, "records": len(recs)}


def record_key(r):
    a, b = (r["client_ip"], r["client_port"]), (r["server_ip"], r["server_port"])
    return "%s|%d|%s|%d" % (min(a, b) + max(a, b))


def rows(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    con.text_factory = bytes
    out = []
    for r in con.execute("SELECT * FROM connections ORDER BY id"):
        d = {}
        for k in r.keys():
            v = r[k]
            d[k] = v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
        out.append(d)
    con.close()
    return out


def viol(r):
    return set((r["violations"] or "").split(",")) - {""}


# ---- corruption --------------------------------------------------------------

def corrupt(data, endian, recs, seed, count, where):
    """The damaged bytes and the index of the first record touched."""
    buf = bytearray(data)
    if where == "caplen":  # SEED is the record
        struct.pack_into(endian + "I", buf, recs[seed][0] + 8, 0xFFFFFFF0)
        return buf, seed
    rng = random.Random(seed)
    positions = []  # (record index, byte offset)
    while len(positions) < count:
        i = rng.randrange(len(recs))
        pos, caplen, _ = recs[i]
        if where == "payload":
            if caplen:
                positions.append((i, pos + 16 + rng.randrange(caplen)))
        else:
            positions.append((i, pos + rng.randrange(16 + caplen)))
    for _, at in positions:
        buf[at] = (buf[at] + rng.randrange(1, 256)) & 0xFF
    return buf, min(i for i, _ in positions)


LIBPCAP_MAX_SNAPLEN = 262144  # max_snaplen_for_dlt() of libpcap 1.10 for these link types


def libpcap_stop(data, endian):
    """Where libpcap (sf-pcap.c, pcap_next_packet) stops a classic pcap
    with an error: the index of the record whose header is cut short, whose
    caplen exceeds the snaplen (the files here have libpcap's maximum), or
    that claims more bytes than the file holds; -1 if it reads to the end.
    Damaged caplens are followed as libpcap follows them."""
    snaplen = max(struct.unpack_from(endian + "I", data, 16)[0], LIBPCAP_MAX_SNAPLEN)
    pos, i = 24, 0
    while pos < len(data):
        if pos + 16 > len(data):
            return i
        caplen = struct.unpack_from(endian + "I", data, pos + 8)[0]
        if caplen > snaplen or pos + 16 + caplen > len(data):
            return i
        pos += 16 + caplen
        i += 1
    return -1


def seed_count(seed):
    return 1 + seed % 16


def corrupt_set(base, outdir, seeds):
    """OUTDIR/payload-S/NAME.pcap and OUTDIR/any-S/NAME.pcap for seeds
    1..SEEDS (1 + S % 16 bytes changed), OUTDIR/caplen/NAME.pcap (the middle
    record's caplen); the first damaged record of each in OUTDIR/NAME.first.
    The files keep the base name: the sensor column stays the same."""
    data, endian, recs = read_pcap(base)
    name = os.path.basename(base)
    first = {}
    jobs = [(w, s) for w in ("payload", "any") for s in range(1, seeds + 1)] + [("caplen", len(recs) // 2)]
    for where, seed in jobs:
        d = os.path.join(outdir, where if where == "caplen" else "%s-%d" % (where, seed))
        os.makedirs(d, exist_ok=True)
        buf, first[d] = corrupt(data, endian, recs, seed, seed_count(seed), where)
        with open(os.path.join(d, name), "wb") as f:
            f.write(buf)
    with open(os.path.join(outdir, name + ".first"), "w") as f:
        json.dump(first, f)


def check_corrupt(base, clean_db, outdir, seeds, binary):
    """The corruption cases over corrupt_set's files, each run by run.sh
    into NAME.db / NAME.err / NAME.rc: packet bytes damaged: exit 0, quiet,
    sane records. Record headers too, as wsstatsd(8) documents it: where
    libpcap reads the file to its end (libpcap_stop), exit 0 and quiet;
    where it stops at a damaged record, exit 1 and exactly one line,
    "wsstatsd: FILE: <libpcap's reason> (after packet N)", N the packets
    read before it; either way sane records, and the records of connections
    that ended before the first damaged record unchanged. The caplen case
    is one such stop, with at least one record kept."""
    name = os.path.basename(base)
    stem = name[:-5] if name.endswith(".pcap") else name
    with open(os.path.join(outdir, name + ".first")) as f:
        first = json.load(f)
    failed = 0
    for where in ("payload", "any", "caplen"):
        problems, kept_all, exit1 = [], 0, 0
        dirs = [os.path.join(outdir, "caplen")] if where == "caplen" else \
            [os.path.join(outdir, "%s-%d" % (where, s)) for s in range(1, seeds + 1)]
        for d in dirs:
            seed = int(d.rsplit("-", 1)[1]) if where != "caplen" else first[d]
            redo = "python3 tests/hostile/hostile.py corrupt %s OUT.pcap %d %d %s; %s/wsstatsd -q -r OUT.pcap -w OUT.db" % (
                name, seed, seed_count(seed), where, binary)
            if stem == "synth":
                redo = "python3 tests/hostile/hostile.py synth synth.pcap; " + redo
            else:
                redo = "recorded anew each run, KEEP=1 keeps it in cut/%s: " % name + redo
            out = os.path.join(d, stem)
            with open(out + ".rc") as f:
                rc = int(f.read().strip() or -1)
            with open(out + ".err", errors="replace") as f:
                err = f.read()
            lines = err.splitlines()
            tag = "%s %s seed %d (damage from record %d)" % (stem, where, seed, first[d])
            if "Sanitizer" in err or "runtime error:" in err or rc not in (0, 1):
                sys.stderr.write(err)
                problems.append("%s: exit %d: %s [%s]" % (tag, rc, err[:300].replace("\n", " "), redo))
                continue
            with open(out + ".pcap", "rb") as f:
                data = f.read()
            stop = -1 if where == "payload" else libpcap_stop(data, "<" if data[0] == 0xD4 else ">")
            if where == "caplen" and stop != first[d]:
                problems.append("%s: libpcap would stop at record %d, not at the damaged caplen" % (tag, stop))
            if stop < 0:
                ok = rc == 0 and not lines
                want = "exit 0, nothing on stderr (libpcap reads to the end)"
            else:
                prefix, suffix = "wsstatsd: %s.pcap: " % out, " (after packet %d)" % stop
                ok = rc == 1 and len(lines) == 1 and lines[0].startswith(prefix) and lines[0].endswith(suffix)
                want = "exit 1, one line %r...%r (libpcap stops at record %d)" % (prefix, suffix, stop)
            if not ok:
                problems.append("%s: want %s; got exit %d, stderr %r [%s]" % (tag, want, rc, err[:300], redo))
                continue
            exit1 += rc == 1
            bad = sane(out + ".db")
            if where != "payload":
                lost, kept = kept_records(clean_db, out + ".db", base, first[d])
                bad += lost
                kept_all += kept
                if where == "caplen" and not kept:
                    bad.append("no record before the damage to compare (move the damage later)")
            problems += ["%s: %s [%s]" % (tag, b, redo) for b in bad]
        what = {"payload": "packet bytes, %d seeds: exit 0, quiet, sane records" % seeds,
                "any": "record headers too, %d seeds: %d exit 1 with one error line; %d earlier records kept" % (
                    seeds, exit1, kept_all),
                "caplen": "record %d's caplen 0xfffffff0: exit 1, one error line, %d earlier records kept" % (
                    first[dirs[0]], kept_all)}[where]
        failed |= tap("corrupt-%s-%s" % (where, stem), problems, what)
    return failed


# ---- checks --------------------------------------------------------------------

def sane(db):
    """Invariants of docs/design.md §2-§4 that no input may break. Returns problems."""
    bad = []
    for r in rows(db):
        who = "id %s (%s:%s -> %s:%s %s)" % (r["id"], r["client_ip"], r["client_port"], r["server_ip"],
                                             r["server_port"], r["path"])
        def no(msg):
            bad.append("%s: %s" % (who, msg))
        if r["outcome"] not in OUTCOMES:
            no("outcome %r" % r["outcome"])
        if r["termination"] not in TERMINATIONS:
            no("termination %r" % r["termination"])
        code, outcome = r["close_code"], r["outcome"]
        if outcome in ("rejected", "unfinished") and code is not None:
            no("%s with close_code %s" % (outcome, code))
        if outcome == "abnormal" and code != 1006:
            no("abnormal with close_code %s" % code)
        if outcome in ("clean", "half_closed") and code is None:
            no("%s without close_code" % outcome)
        if code is not None and not 0 <= code <= 65535:
            no("close_code %s" % code)
        for col in ("frames_client", "frames_server", "messages_client", "messages_server", "bytes_client",
                    "bytes_server", "pings", "pongs"):
            if not isinstance(r[col], int) or r[col] < 0:
                no("%s = %r" % (col, r[col]))
        for side in ("client", "server"):
            if isinstance(r["messages_" + side], int) and isinstance(r["frames_" + side], int) and \
                    r["messages_" + side] > r["frames_" + side]:
                no("messages_%s %s > frames_%s %s" % (side, r["messages_" + side], side, r["frames_" + side]))
        for col in ("client_port", "server_port"):
            if not isinstance(r[col], int) or not 0 <= r[col] <= 65535:
                no("%s = %r" % (col, r[col]))
        if r["started_at"] is None or r["ended_at"] is None or r["ended_at"] < r["started_at"] - 1e-6:
            no("started_at %s, ended_at %s" % (r["started_at"], r["ended_at"]))
        v = (r["violations"] or "").split(",") if r["violations"] is not None else []
        if r["violations"] is not None and (v != sorted(set(v)) or not set(v) <= VIOLATIONS):
            no("violations %r" % r["violations"])
    return bad


def check_sane(db):
    bad = sane(db)
    for b in bad[:10]:
        print(b)
    return 1 if bad else 0


def tap(name, problems, good):
    """One TAP line (tests/CONTRACT.md); returns 1 on failure."""
    if not problems:
        print("ok - hostile/%s (%s)" % (name, good))
        return 0
    print("not ok - hostile/%s" % name)
    for p in problems[:8]:
        print("#  %s" % p)
    if len(problems) > 8:
        print("#  ... %d in all" % len(problems))
    return 1


def check_trunc(snaplen, triples):
    """The snaplen checks over (label, uncut DB, cut DB, cut pcap) groups:
    a cut connection is marked `truncated`, an uncut one is not (unless it
    was uncut too); no record for a flow that was no WebSocket connection
    uncut; a close frame captured whole still counts; an HTTP status other
    than 101 captured whole still makes the record `rejected`; and every
    record keeps the invariants."""
    unmarked, phantom, closes, rejections, insane = [], [], [], [], []
    n_cut = n_records = n_phantom_checked = n_close = n_reject = 0
    for label, orig_db, cut_db, cut_pcap in triples:
        info = flows(cut_pcap)["flows"]
        before = {record_key(r): r for r in rows(orig_db)}
        for r in rows(cut_db):
            n_records += 1
            k = record_key(r)
            f = info.get(k)
            desc = "%s: %s:%s->%s:%s path=%s close=%s outcome=%s violations=%s" % (
                label, r["client_ip"], r["client_port"], r["server_ip"], r["server_port"], r["path"],
                r["close_code"], r["outcome"], r["violations"])
            was = before.get(k)
            if f and f["cut"]:
                n_cut += 1
                if "truncated" not in viol(r):
                    unmarked.append("cut but not marked truncated: " + desc)
            elif "truncated" in viol(r) and not (was and "truncated" in viol(was)):
                unmarked.append("truncated but nothing of it was cut: " + desc)
            n_phantom_checked += 1
            if was is None:
                phantom.append("no WebSocket connection uncut, a record cut: " + desc)
                continue
            if f and f["close_visible"] and was["close_code"] is not None:
                n_close += 1
                if r["outcome"] not in ("clean", "half_closed"):
                    closes.append("a close frame was captured whole (uncut: %s %s), record says: %s" %
                                  (was["close_code"], was["outcome"], desc))
            rejected = [c for c in (f["status"] if f else []) if c != 101]
            if rejected and was["outcome"] == "rejected":
                n_reject += 1
                if r["outcome"] != "rejected" or r["http_status"] != rejected[0]:
                    rejections.append("status line 'HTTP/1.1 %d' captured whole, record says: http_status=%s %s" %
                                      (rejected[0], r["http_status"], desc))
        insane += ["%s: %s" % (label, b) for b in sane(cut_db)]
    # a check that saw nothing proves nothing (smallseg's records survive every cut)
    if n_cut == 0:
        unmarked.append("no record had a packet cut: nothing was checked")
    if n_close == 0:
        closes.append("no record had a close frame captured whole: nothing was checked")
    if n_reject == 0:
        rejections.append("no refused handshake had its status line captured: nothing was checked")
    groups = len(triples)
    failed = tap("snaplen-%s-truncated-marked" % snaplen, unmarked,
                 "%d records of %d in %d captures had packets cut, all marked" % (n_cut, n_records, groups))
    failed |= tap("snaplen-%s-no-phantom-records" % snaplen, phantom,
                  "every record is a WebSocket connection of the uncut capture")
    failed |= tap("snaplen-%s-visible-close-recorded" % snaplen, closes,
                  "%d connections with a close frame captured whole" % n_close)
    failed |= tap("snaplen-%s-visible-rejection-recorded" % snaplen, rejections,
                  "%d rejected handshakes with the status line captured" % n_reject)
    failed |= tap("snaplen-%s-records-sane" % snaplen, insane, "%d records" % n_records)
    return failed


TABLES = ("connections", "captures", "tls_flows", "meta")


def table_rows(con, t):
    """Every row of table t, exactly (repr of the values as stored: floats
    round-trip, text as bytes); each holds its key (id, or the key columns)."""
    return sorted(repr(r) for r in con.execute("SELECT * FROM %s" % t))


def snapshot(db, out):
    con = sqlite3.connect(db)
    con.text_factory = bytes
    with open(out, "w") as f:
        for t in TABLES:
            for row in table_rows(con, t):
                f.write("%s %s\n" % (t, row))
    con.close()


def check_reuse(snap, db):
    """Every row of the snapshot is in db unchanged (more may have come),
    and SQLite finds the file intact. Prints problems; 1 if any."""
    want = {}
    with open(snap) as f:
        for line in f:
            t, row = line.rstrip("\n").split(" ", 1)
            want.setdefault(t, []).append(row)
    con = sqlite3.connect(db)
    con.text_factory = bytes
    bad = []
    integrity = con.execute("PRAGMA integrity_check").fetchall()
    if integrity != [(b"ok",)]:
        bad.append("PRAGMA integrity_check: %r" % integrity[:5])
    for t in TABLES:
        have = set(table_rows(con, t))
        bad += ["%s: row changed or gone: %s" % (t, w[:240]) for w in want.get(t, []) if w not in have]
    con.close()
    for b in bad[:10]:
        print(b)
    return 1 if bad else 0


def check_big(db, pcap):
    """The length-claim records: the side that did not claim the enormous
    payload has its bytes exactly (client: 'before' + a close with a code =
    8, server: a close with code and 'bye' = 5); the claiming side counts no
    fewer than its whole frames before the claim ('before' = 6 for the
    client) and no more than it sent over TCP after the handshake."""
    info = flows(pcap)["flows"]
    bad = []
    for r in rows(db):
        path = r["path"] or ""
        wire = info[record_key(r)]["wire"]
        sent = {side: wire.get("%s|%d" % (r[side + "_ip"], r[side + "_port"]), 0) for side in ("client", "server")}
        claimer = "server" if path.startswith("/claim-server") else "client"
        other = "client" if claimer == "server" else "server"
        exact = {"client": 8, "server": 5}[other]
        low = 6 if claimer == "client" else 0
        if r["bytes_" + other] != exact:
            bad.append("%s: bytes_%s %s, want %d" % (path, other, r["bytes_" + other], exact))
        n = r["bytes_" + claimer]
        if not isinstance(n, int) or not low <= n <= sent[claimer]:
            bad.append("%s: bytes_%s %s, want %d..%d (the TCP payload that side sent, handshake included)" %
                       (path, claimer, n, low, sent[claimer]))
    for b in bad:
        print(b)
    return 1 if bad else 0


def kept_records(clean_db, damaged_db, pcap, first):
    """Records of connections whose packets all precede record `first` and
    that ended by a teardown must be in damaged_db unchanged: (problems,
    how many were compared)."""
    info = flows(pcap)["flows"]
    got = {}
    for r in rows(damaged_db):
        got.setdefault(record_key(r), []).append(r)
    bad, kept = [], 0
    for r in rows(clean_db):
        k = record_key(r)
        if info.get(k, {"last": 1 << 62})["last"] >= first or r["termination"] in ("capture_end", "idle_timeout",
                                                                                     "evicted"):
            continue
        want = {c: v for c, v in r.items() if c != "id"}
        if not any({c: v for c, v in g.items() if c != "id"} == want for g in got.get(k, [])):
            bad.append("record of %s (%s), which ended before the damage, lost or changed" % (k, r["path"]))
        else:
            kept += 1
    return bad, kept


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "synth":
        synth(args[0])
    elif cmd == "one":
        one(args[0])
    elif cmd == "ooo":
        ooo(args[0], int(args[1]), args[2])
    elif cmd == "bigframe":
        bigframe(args[0])
    elif cmd == "badutf8":
        badutf8(args[0])
    elif cmd == "headers":
        headers(args[0])
    elif cmd == "smallseg":
        smallseg(args[0])
    elif cmd == "tlsflows":
        tlsflows(args[0], int(args[1]))
    elif cmd == "headflood":
        headflood(args[0], int(args[1]), int(args[2]))
    elif cmd == "synaround":
        synaround(args[0], int(args[1]))
    elif cmd == "snapshot":
        snapshot(args[0], args[1])
    elif cmd == "check-reuse":
        sys.exit(check_reuse(args[0], args[1]))
    elif cmd == "libpcap-stop":
        data, endian, recs = read_pcap(args[0])
        print(libpcap_stop(data, endian))
    elif cmd == "corrupt":  # one file, as corrupt-set makes it: IN OUT SEED COUNT WHERE
        data, endian, recs = read_pcap(args[0])
        buf, first = corrupt(data, endian, recs, int(args[2]), int(args[3]), args[4])
        with open(args[1], "wb") as f:
            f.write(buf)
        print(first)
    elif cmd == "corrupt-set":
        corrupt_set(args[0], args[1], int(args[2]))
    elif cmd == "check-corrupt":
        sys.exit(check_corrupt(args[0], args[1], args[2], int(args[3]), args[4]))
    elif cmd == "flows":
        json.dump(flows(args[0]), sys.stdout, indent=1)
        print()
    elif cmd == "check-trunc":
        sys.exit(check_trunc(args[0], [args[i:i + 4] for i in range(1, len(args), 4)]))
    elif cmd == "hdrcut":
        print(flows(args[0])["hdrcut"])
    elif cmd == "check-big":
        sys.exit(check_big(args[0], args[1]))
    elif cmd == "sane":
        sys.exit(check_sane(args[0]))
    else:
        raise SystemExit("hostile.py: unknown command %s" % cmd)


if __name__ == "__main__":
    main()
