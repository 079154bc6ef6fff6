#!/usr/bin/python3
"""tests/tools/pcapmangle.py — make a capture look like a tap delivered it.

Reads a classic pcap (any link type), reorders packets within small windows
and duplicates some, and writes a pcap whose timestamps still run forward
(the tap's clock). Used on real-peer captures: the records must not change.

    pcapmangle.py IN.pcap OUT.pcap [--window 4] [--dup 0.1] [--seed 1]
"""
import argparse
import random
import struct


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    header = data[:24]
    packets, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", data[pos:pos + 16])
        packets.append(((sec, frac), data[pos + 16:pos + 16 + caplen], wirelen))
        pos += 16 + caplen
    return endian, header, packets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--dup", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    endian, header, packets = read_pcap(args.src)
    times = [p[0] for p in packets]
    body = [(p[1], p[2]) for p in packets]
    out = []
    for i in range(0, len(body), args.window):
        chunk = body[i:i + args.window]
        rng.shuffle(chunk)
        for pkt in chunk:
            out.append(pkt)
            if rng.random() < args.dup:
                out.append(pkt)
    times = sorted(times + [times[-1]] * (len(out) - len(times))) if times else []
    with open(args.dst, "wb") as f:
        f.write(header)
        for (ts, (frame, wirelen)) in zip(times, out):
            f.write(struct.pack(endian + "IIII", ts[0], ts[1], len(frame), wirelen) + frame)


if __name__ == "__main__":
    main()
