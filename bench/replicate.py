#!/usr/bin/python3
"""bench/replicate.py — a connection-dense capture from a small one (issue 21).

    replicate.py IN.pcap OUT.pcap --copies K [--stagger SECONDS]

Writes K copies of every packet of IN.pcap (classic pcap, Ethernet, as
tcpdump records on lo), each copy with addresses of its own, so that the K
copies are K times the connections: copy k maps the i-th distinct IPv4
address of IN to 10.0.0.0/8 + (k * n + i + 1) and the i-th IPv6 address to
2001:db8::(k << 16 | i + 1) (synthetic addresses in a file, never traffic).
Ports, sequence numbers and payloads stay as they are; the IPv4 header and
TCP/UDP checksums are computed again for the new addresses. Copy k starts
k * STAGGER seconds after copy 0 (default 0.01 s), and the copies are merged
in time order: many connections open at once and many ending, as on a busy
tap.

bench/dense.sh uses it on a capture of the project's own real peers
(tests/peers/record.sh) and on a one-connection template from
tests/tools/pcapgen.py (100,000 short connections). Prints one JSON line:
packets, bytes and copies written.
"""
import argparse
import heapq
import ipaddress
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
from pcapgen import checksum  # noqa: E402  (RFC 1071, as the synthetic captures use it)

ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN = 0x0800, 0x86DD, 0x8100
IPV6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


def read_pcap(path):
    """(linktype, [(ts_sec, ts_usec, orig_len, frame)])"""
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack_from("<I", data, 0)
    if magic != 0xA1B2C3D4:
        sys.exit("replicate.py: %s: not a little-endian microsecond pcap (magic %#x)" % (path, magic))
    linktype, = struct.unpack_from("<I", data, 20)
    if linktype != 1:
        sys.exit("replicate.py: %s: link type %d, only Ethernet (1) is replicated" % (path, linktype))
    packets, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, length = struct.unpack_from("<IIII", data, off)
        packets.append((sec, usec, length, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return linktype, packets


class Layout:
    """Where a frame's IP header, addresses and L4 header are (ok is False
    for frames that are not IPv4 or IPv6 over Ethernet)."""

    def __init__(self, frame):
        self.ok = False
        off = 12
        if len(frame) < off + 2:
            return
        ethertype, = struct.unpack_from("!H", frame, off)
        off += 2
        while ethertype == ETHERTYPE_VLAN and len(frame) >= off + 4:
            ethertype, = struct.unpack_from("!H", frame, off + 2)
            off += 4
        self.ip = off
        if ethertype == ETHERTYPE_IPV4 and len(frame) >= off + 20:
            self.version, ihl = 4, (frame[off] & 15) * 4
            self.proto, self.l4 = frame[off + 9], off + ihl
            self.src, self.dst, self.alen = off + 12, off + 16, 4
            total, = struct.unpack_from("!H", frame, off + 2)
            self.end = min(len(frame), off + total)
        elif ethertype == ETHERTYPE_IPV6 and len(frame) >= off + 40:
            self.version, self.proto, self.l4 = 6, frame[off + 6], off + 40
            self.src, self.dst, self.alen = off + 8, off + 24, 16
            plen, = struct.unpack_from("!H", frame, off + 4)
            self.end = min(len(frame), off + 40 + plen)
        else:
            return
        self.ok = True


class AddressMap:
    """The i-th distinct address of the input, in copy k."""

    def __init__(self):
        self.index = {4: {}, 6: {}}

    def learn(self, version, raw):
        table = self.index[version]
        table.setdefault(raw, len(table))

    def mapped(self, version, raw, k):
        i = self.index[version][raw]
        if version == 4:
            n = len(self.index[4])
            return struct.pack("!I", (10 << 24) + (k * n + i + 1) % (1 << 24))
        return ipaddress.IPv6Address(IPV6_BASE + (k << 16 | (i + 1))).packed


def rewrite(frame, lay, amap, k):
    b = bytearray(frame)
    b[lay.src:lay.src + lay.alen] = amap.mapped(lay.version, frame[lay.src:lay.src + lay.alen], k)
    b[lay.dst:lay.dst + lay.alen] = amap.mapped(lay.version, frame[lay.dst:lay.dst + lay.alen], k)
    if lay.version == 4:
        b[lay.ip + 10:lay.ip + 12] = b"\0\0"
        b[lay.ip + 10:lay.ip + 12] = struct.pack("!H", checksum(bytes(b[lay.ip:lay.l4])))
    csum_at = {6: 16, 17: 6}.get(lay.proto)
    if csum_at is None or lay.end < lay.l4 + csum_at + 2 or len(frame) < lay.end:
        return bytes(b)  # another protocol, or cut by the snap length: left as it was
    seg_len = lay.end - lay.l4
    b[lay.l4 + csum_at:lay.l4 + csum_at + 2] = b"\0\0"
    pseudo = bytes(b[lay.src:lay.src + lay.alen] + b[lay.dst:lay.dst + lay.alen])
    pseudo += struct.pack("!HH", lay.proto, seg_len) if lay.version == 4 else struct.pack("!IxxxB", seg_len, lay.proto)
    c = checksum(pseudo + bytes(b[lay.l4:lay.end]))
    if lay.proto == 17 and c == 0:
        c = 0xFFFF
    b[lay.l4 + csum_at:lay.l4 + csum_at + 2] = struct.pack("!H", c)
    return bytes(b)


def copy_stream(packets, layouts, amap, k, stagger_us):
    for (sec, usec, length, frame), lay in zip(packets, layouts):
        t = sec * 1000000 + usec + k * stagger_us
        yield t, k, rewrite(frame, lay, amap, k) if lay.ok else frame, length


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--copies", type=int, required=True)
    ap.add_argument("--stagger", type=float, default=0.01, help="seconds between the starts of two copies")
    a = ap.parse_args()
    linktype, packets = read_pcap(a.input)
    layouts = [Layout(p[3]) for p in packets]
    amap = AddressMap()
    for (_, _, _, frame), lay in zip(packets, layouts):
        if lay.ok:
            amap.learn(lay.version, frame[lay.src:lay.src + lay.alen])
            amap.learn(lay.version, frame[lay.dst:lay.dst + lay.alen])
    stagger_us = int(round(a.stagger * 1e6))
    streams = [copy_stream(packets, layouts, amap, k, stagger_us) for k in range(a.copies)]
    n = size = 0
    with open(a.output + ".part", "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for t, _, frame, length in heapq.merge(*streams):
            out.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), length) + frame)
            n += 1
        size = out.tell()
    os.replace(a.output + ".part", a.output)
    print(json.dumps({"packets": n, "bytes": size, "copies": a.copies}))


if __name__ == "__main__":
    main()
