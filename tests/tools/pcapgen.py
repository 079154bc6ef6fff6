"""tests/tools/pcapgen.py — a synthetic capture writer for WebSocket traffic.

Builds what real peers will not do on demand: exact byte layouts, odd link
layers, truncation, damage. Writes classic pcap (microsecond timestamps).

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


class Pcap:
    """A pcap file being written; `clock` advances 1 ms per packet."""

    def __init__(self, path, linktype=LINKTYPE_ETHERNET, snaplen=262144, start=1700000000.0):
        self.f = open(path, "wb")
        self.linktype = linktype
        self.snaplen = snaplen
        self.clock = start
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))

    def write(self, frame, ts=None):
        ts = self.clock if ts is None else ts
        self.clock = max(self.clock, ts) + 0.001
        cap = frame[: self.snaplen]
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        self.f.write(struct.pack("<IIII", sec, usec, len(cap), len(frame)) + cap)

    def close(self):
        self.f.close()


def ip_packet(src, dst, proto, payload, ident=0):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64,
                          proto, 0, s.packed, d.packed)
        hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        return hdr + payload
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, s.packed, d.packed) + payload


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b""):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      65535, 0, 0)
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
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
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
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
        self.seq = {"client": isn[0], "server": isn[1]}
        self.version = ipaddress.ip_address(client).version
        self.ident = 0

    def other(self, side):
        return "server" if side == "client" else "client"

    def packet(self, side, flags, payload=b"", seq=None, ts=None):
        src, sport = self.ep[side]
        dst, dport = self.ep[self.other(side)]
        s = self.seq[side] if seq is None else seq
        ack = self.seq[self.other(side)] if flags & ACK else 0
        seg = tcp_segment(src, dst, sport, dport, s, ack, flags, payload)
        self.ident += 1
        ip = ip_packet(src, dst, 6, seg, self.ident)
        self.pcap.write(link_frame(self.pcap.linktype, ip, self.version, self.vlans), ts)

    def syn(self):
        self.packet("client", SYN)
        self.seq["client"] += 1
        self.packet("server", SYN | ACK)
        self.seq["server"] += 1
        self.packet("client", ACK)

    def send(self, side, data, segment_size=1400):
        for i in range(0, len(data), segment_size):
            chunk = data[i:i + segment_size]
            self.packet(side, PSH | ACK, chunk)
            self.seq[side] += len(chunk)

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
        self.seq[side] += 1
        self.packet(self.other(side), ACK)

    def rst(self, side):
        self.packet(side, RST | ACK)
