"""tests/tools/pcapgen.py — a synthetic capture writer for WebSocket traffic.

Builds what real peers will not do on demand: exact byte layouts, odd link
layers, truncation, damage, and the disorder of a network tap. Packets are
kept as `Seg` objects until `close()`, so a capture can be transformed first:
reordered in small windows, duplicated, re-split into other segment
boundaries, overlapped, or have segments dropped (see `Pcap.transform` and
the functions below it). Writes classic pcap (microsecond timestamps).

    from pcapgen import Pcap, Conversation
    pcap = Pcap("out.pcap")                      # linktype 1 (Ethernet)
    c = Conversation(pcap, "10.0.0.1", 50000, "10.0.0.2", 80)
    c.handshake()                                # SYN, SYN-ACK, ACK, GET, 101
    c.send_frame("client", 1, b"hello")          # masked, as a client must
    c.close("client", 1000, "bye"); c.close("server", 1000)
    c.fin("server"); c.fin("client")
    pcap.close()
"""
import base64
import functools
import hashlib
import ipaddress
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Seg:
    """One TCP segment as it will be written: addresses, numbers, payload."""

    __slots__ = ("src", "dst", "sport", "dport", "seq", "ack", "flags", "payload", "ts", "vlans")

    def __init__(self, src, dst, sport, dport, seq, ack, flags, payload, ts, vlans=()):
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.seq, self.ack, self.flags, self.payload = seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, payload
        self.ts, self.vlans = ts, vlans

    def copy(self, **changes):
        c = Seg(self.src, self.dst, self.sport, self.dport, self.seq, self.ack, self.flags, self.payload,
                self.ts, self.vlans)
        for k, v in changes.items():
            setattr(c, k, v)
        return c


class Pcap:
    """A pcap file being built; `clock` advances 1 ms per packet. Segments
    are written by close(), after any transform."""

    def __init__(self, path, linktype=LINKTYPE_ETHERNET, snaplen=262144, start=1700000000.0):
        self.path = path
        self.linktype = linktype
        self.snaplen = snaplen
        self.clock = start
        self.segs = []
        self.raw = []  # (ts, frame) written as they are

    def add(self, seg):
        seg.ts = self.clock if seg.ts is None else seg.ts
        self.clock = max(self.clock, seg.ts) + 0.001
        self.segs.append(seg)

    def write(self, frame, ts=None):
        """A ready-made link-layer frame (not subject to transforms)."""
        ts = self.clock if ts is None else ts
        self.clock = max(self.clock, ts) + 0.001
        self.raw.append((ts, frame))

    def transform(self, fn, *args):
        """Replaces the segments by fn(segments, *args). A new segment keeps
        the time of the one it came from; afterwards the times are handed
        out again in order, so the capture's clock still runs forward."""
        self.segs = fn(self.segs, *args)
        for seg, ts in zip(self.segs, sorted(seg.ts for seg in self.segs)):
            seg.ts = ts

    def frame(self, seg):
        version = _addr(seg.src).version
        tcp = tcp_segment(seg.src, seg.dst, seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, seg.payload)
        return link_frame(self.linktype, ip_packet(seg.src, seg.dst, 6, tcp), version, seg.vlans)

    def close(self):
        packets = [(seg.ts, self.frame(seg)) for seg in self.segs] + self.raw
        packets.sort(key=lambda p: p[0])
        with open(self.path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snaplen, self.linktype))
            for ts, frame in packets:
                cap = frame[: self.snaplen]
                sec = int(ts)
                usec = int(round((ts - sec) * 1e6))
                if usec == 1000000:
                    sec, usec = sec + 1, 0
                f.write(struct.pack("<IIII", sec, usec, len(cap), len(frame)) + cap)


@functools.lru_cache(maxsize=4096)
def _addr(text):
    return ipaddress.ip_address(text)


def ip_packet(src, dst, proto, payload, ident=0):
    s, d = _addr(src), _addr(dst)
    if s.version == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64,
                          proto, 0, s.packed, d.packed)
        hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        return hdr + payload
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, s.packed, d.packed) + payload


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b""):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      65535, 0, 0)
    s, d = _addr(src), _addr(dst)
    if s.version == 4:
        pseudo = struct.pack("!4s4sBBH", s.packed, d.packed, 0, 6, len(hdr) + len(payload))
    else:
        pseudo = struct.pack("!16s16sI3xB", s.packed, d.packed, len(hdr) + len(payload), 6)
    csum = checksum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload


def link_frame(linktype, ip, version, vlans=()):
    if linktype == LINKTYPE_RAW:
        return ip
    ethertype = 0x0800 if version == 4 else 0x86DD
    if linktype == LINKTYPE_LINUX_SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", ethertype) + ip
    tags = b""
    for i, vid in enumerate(vlans):
        tpid = 0x88A8 if (i == 0 and len(vlans) > 1) else 0x8100
        tags += struct.pack("!HH", tpid, vid)
    if tags:  # the tag TPIDs sit where the ethertype would, shifted by one
        first_tpid = tags[:2]
        rest = tags[2:] + struct.pack("!H", ethertype)
        return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + first_tpid + rest + ip
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", ethertype) + ip


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def ws_frame(opcode, payload=b"", fin=True, mask=None, rsv=0, force_len_form=None):
    """One WebSocket frame (RFC 6455 §5.2). mask: 4 bytes or None."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    form = force_len_form or (7 if n < 126 else 16 if n < 65536 else 64)
    mbit = 0x80 if mask else 0
    if form == 7:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""
        hdr += mask
    return hdr + payload


def close_payload(code=None, reason=""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")


class Conversation:
    """One TCP connection between a client and a server, written as it goes."""

    def __init__(self, pcap, client, cport, server, sport, vlans=(), isn=(1000, 50000)):
        self.pcap, self.vlans = pcap, vlans
        self.ep = {"client": (client, cport), "server": (server, sport)}
        self.seq = {"client": isn[0] & 0xFFFFFFFF, "server": isn[1] & 0xFFFFFFFF}

    def other(self, side):
        return "server" if side == "client" else "client"

    def packet(self, side, flags, payload=b"", seq=None, ts=None):
        src, sport = self.ep[side]
        dst, dport = self.ep[self.other(side)]
        s = self.seq[side] if seq is None else seq
        ack = self.seq[self.other(side)] if flags & ACK else 0
        self.pcap.add(Seg(src, dst, sport, dport, s, ack, flags, payload, ts, self.vlans))

    def syn(self):
        self.packet("client", SYN)
        self.seq["client"] = (self.seq["client"] + 1) & 0xFFFFFFFF
        self.packet("server", SYN | ACK)
        self.seq["server"] = (self.seq["server"] + 1) & 0xFFFFFFFF
        self.packet("client", ACK)

    def send(self, side, data, segment_size=1400):
        for i in range(0, len(data), segment_size):
            chunk = data[i:i + segment_size]
            self.packet(side, PSH | ACK, chunk)
            self.seq[side] = (self.seq[side] + len(chunk)) & 0xFFFFFFFF

    def handshake(self, path="/", host="example.test", status=101, extensions=None, protocol=None,
                  key=b"dGhlIHNhbXBsZSBub25jZQ==", accept=None, syn=True):
        if syn:
            self.syn()
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Origin: http://%s\r\nUser-Agent: pcapgen/1\r\n\r\n") % (path, host, key.decode(), host)
        self.send("client", req.encode())
        if status != 101:
            body = b"forbidden"
            resp = b"HTTP/1.1 %d Forbidden\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)
            self.send("server", resp)
            return
        if accept is None:
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n")
        if extensions:
            resp += b"Sec-WebSocket-Extensions: " + extensions.encode() + b"\r\n"
        if protocol:
            resp += b"Sec-WebSocket-Protocol: " + protocol.encode() + b"\r\n"
        self.send("server", resp + b"\r\n")

    def frame_bytes(self, side, opcode, payload=b"", **kw):
        mask = kw.pop("mask", os.urandom(4) if side == "client" else None)
        return ws_frame(opcode, payload, mask=mask, **kw)

    def send_frame(self, side, opcode, payload=b"", **kw):
        self.send(side, self.frame_bytes(side, opcode, payload, **kw))

    def close(self, side, code=None, reason=""):
        self.send_frame(side, 8, close_payload(code, reason))

    def fin(self, side):
        self.packet(side, FIN | ACK)
        self.seq[side] = (self.seq[side] + 1) & 0xFFFFFFFF
        self.packet(self.other(side), ACK)

    def rst(self, side):
        self.packet(side, RST | ACK)


# ---- transforms: what a tap does to a conversation ----------------------
# Each takes the segment list and a random.Random, returns a new list.

def _same_flow(a, b):
    return (a.src, a.sport, a.dst, a.dport) == (b.src, b.sport, b.dst, b.dport)


def resplit(segs, rng, max_size=7, large=2000):
    """Cuts every data segment into pieces of 1..max_size bytes (segments
    longer than `large` into pieces of up to 1400: a capture stays small)."""
    out = []
    for seg in segs:
        if len(seg.payload) > large:
            out.extend(resplit([seg], rng, 1400, large=1 << 30))
            continue
        if len(seg.payload) <= 1:
            out.append(seg)
            continue
        pos = 0
        while pos < len(seg.payload):
            n = rng.randint(1, max_size)
            last = pos + n >= len(seg.payload)
            flags = seg.flags if last else seg.flags & ~(FIN | PSH)
            out.append(seg.copy(seq=(seg.seq + pos) & 0xFFFFFFFF, payload=seg.payload[pos:pos + n], flags=flags))
            pos += n
    return out


def reorder(segs, rng, window=4, max_skew=0.02):
    """Shuffles within consecutive windows of `window` packets; a window
    never spans more than max_skew seconds (a tap reorders packets that
    are close in time, not across an idle pause)."""
    out, chunk = [], []
    for seg in segs:
        if chunk and (len(chunk) == window or seg.ts - chunk[0].ts > max_skew):
            rng.shuffle(chunk)
            out.extend(chunk)
            chunk = []
        chunk.append(seg)
    rng.shuffle(chunk)
    return out + chunk


def duplicate(segs, rng, prob=0.2):
    """Sends some packets twice (a retransmission seen by the tap)."""
    out = []
    for seg in segs:
        out.append(seg)
        if rng.random() < prob:
            out.append(seg.copy())
    return out


def overlap(segs, rng, prob=0.2):
    """Adds retransmissions with other boundaries: part of a data segment
    resent together with the start of the next one of its direction, placed
    after that next one (a retransmission never carries unsent bytes)."""
    out = list(segs)
    inserts = []
    for i, seg in enumerate(segs):
        if not seg.payload or rng.random() >= prob:
            continue
        j = next((k for k in range(i + 1, len(segs)) if _same_flow(segs[k], seg) and segs[k].payload), None)
        if j is None or (seg.seq + len(seg.payload)) & 0xFFFFFFFF != segs[j].seq:
            continue
        start = rng.randint(0, len(seg.payload) - 1)
        extra = segs[j].payload[: rng.randint(1, len(segs[j].payload))]
        # sent after segs[j], so it acknowledges what segs[j] did (a stack
        # puts its current ACK into a retransmission)
        inserts.append((j, seg.copy(seq=(seg.seq + start) & 0xFFFFFFFF, payload=seg.payload[start:] + extra,
                                    flags=seg.flags & ~FIN, ack=segs[j].ack)))
    for j, copy in sorted(inserts, key=lambda x: -x[0]):
        out.insert(j + 1, copy)
    return out


def drop_data(segs, predicate):
    """Removes the data segments for which predicate(seg) is true."""
    return [s for s in segs if not (s.payload and predicate(s))]


# ---- floods: many flows, written straight to a file (fast) ---------------

def syn_flood(path, n, start=1700000000.0, server="10.9.0.1", sport=443):
    """n SYN-only flows from distinct client ports/addresses to one server."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        srv = ipaddress.ip_address(server).packed
        eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
        for i in range(n):
            cli = bytes((10, 10 + (i >> 24 & 0x3F), i >> 16 & 0xFF, i >> 8 & 0xFF))
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, cli, srv)
            tcp = struct.pack("!HHIIBBHHH", 1024 + (i & 0x7FFF), sport, i, 0, 5 << 4, SYN, 65535, 0, 0)
            frame = eth + ip + tcp
            ts = start + i * 1e-5
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame)


def concurrent_websockets(path, n, start=1700000000.0):
    """n WebSocket connections all open at once: n handshakes, one frame
    each way per connection, then n closes (1000 both ways) and FINs."""
    p = Pcap(path, start=start)
    convs = []
    for i in range(n):
        c = Conversation(p, "10.%d.%d.%d" % (20 + (i >> 16), i >> 8 & 0xFF, i & 0xFF), 40000 + (i % 20000),
                         "10.8.0.1", 8080)
        c.handshake(path="/live")
        convs.append(c)
    for c in convs:
        c.send_frame("client", 1, b"ping")
        c.send_frame("server", 1, b"pong")
    for c in convs:
        c.close("client", 1000)
        c.close("server", 1000)
        c.fin("server")
        c.fin("client")
    p.close()
