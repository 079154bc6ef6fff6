#!/usr/bin/python3
"""tests/tools/pcaploss.py — lose a WebSocket handshake the way a busy tap does.

Reads a classic pcap (Ethernet, Linux cooked or raw IP; IPv4 and IPv6) and
writes it again without the packets a chosen loss takes from each TCP
connection, to show what the dissector makes of a connection whose upgrade
request or response never reached the capture. Losses, by name:

    request          the client's HTTP head (every segment carrying a byte of it)
    response         the server's HTTP head
    request+frame    the request and the client's first frame after it
    syn+request      the client's SYN and the request (the flow looks mid-stream)
    midstream        everything up to and with its third data packet: the
                     capture began in the middle of the connection
    response+frame   the response and the server's first frame after it

--mode picks one loss for every connection, or `mix` (the default) deals
them out in turn by connection, starting at --seed, one connection in six
left whole. A client SYN with a new ISN on a known 4-tuple starts a new
connection (port reuse). --out-plan writes one line per connection,
"CLIENT_IP CLIENT_PORT NTH LOSS LOST_CLOSE" (NTH counts the connections of
that client address and port from 0; LOST_CLOSE is 1 when the frame lost
with a head was a close frame), for tests/tools/losscheck.py.

    pcaploss.py IN.pcap OUT.pcap [--mode mix|none|LOSS] [--seed 0] [--out-plan PLAN]
"""
import argparse
import socket
import struct

LOSSES = ["request", "response", "request+frame", "syn+request", "response+frame"]
MIDSTREAM_SKIP = 3  # data packets a midstream loss takes


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    packets, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        packets.append(data[pos:pos + 16 + caplen])
        pos += 16 + caplen
    return data[:24], linktype, packets


def ip_offset(linktype, frame):
    """Where the IP header starts in a frame, or None."""
    if linktype == 1:  # Ethernet, with VLAN tags
        off, ethertype = 14, struct.unpack(">H", frame[12:14])[0]
        while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            ethertype = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
        return off if ethertype in (0x0800, 0x86DD) else None
    if linktype == 113:  # Linux cooked
        return 16
    if linktype in (12, 101):  # raw IP
        return 0
    return None


def tcp_of(linktype, frame):
    """(src, sport, dst, dport, seq, flags, payload) of a TCP packet, or None."""
    off = ip_offset(linktype, frame)
    if off is None or len(frame) < off + 20:
        return None
    version = frame[off] >> 4
    if version == 4:
        ihl = (frame[off] & 15) * 4
        if frame[off + 9] != 6:
            return None
        total = struct.unpack(">H", frame[off + 2:off + 4])[0]
        src, dst, t = frame[off + 12:off + 16], frame[off + 16:off + 20], off + ihl
        end = off + total
    elif version == 6:
        if frame[off + 6] != 6:
            return None
        plen = struct.unpack(">H", frame[off + 4:off + 6])[0]
        src, dst, t = frame[off + 8:off + 24], frame[off + 24:off + 40], off + 40
        end = t + plen
    else:
        return None
    if len(frame) < t + 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", frame[t:t + 8])
    doff = (frame[t + 12] >> 4) * 4
    flags = frame[t + 13]
    return src, sport, dst, dport, seq, flags, frame[t + doff:end]


def frame_length(stream, at):
    """Bytes of the WebSocket frame starting at `at` (RFC 6455 §5.2), or None."""
    if len(stream) < at + 2:
        return None
    n, head = stream[at + 1] & 0x7F, 2
    if n == 126:
        if len(stream) < at + 4:
            return None
        n, head = struct.unpack(">H", stream[at + 2:at + 4])[0], 4
    elif n == 127:
        if len(stream) < at + 10:
            return None
        n, head = struct.unpack(">Q", stream[at + 2:at + 10])[0], 10
    return head + (4 if stream[at + 1] & 0x80 else 0) + n


class Side:
    """One direction of a connection: its ISN and its bytes by offset."""

    def __init__(self):
        self.isn = None
        self.chunks = {}

    def add(self, seq, flags, payload):
        if flags & 0x02:
            self.isn = seq
        elif self.isn is not None and payload:
            self.chunks.setdefault((seq - self.isn - 1) & 0xFFFFFFFF, payload)

    def stream(self):
        out = bytearray()
        for off in sorted(self.chunks):
            if off <= len(out):
                out[off:off + len(self.chunks[off])] = self.chunks[off]
        return bytes(out)

    def lost_range(self, with_frame):
        """[start, end) of the head (and the first frame after it), and
        whether that frame was a close frame."""
        s = self.stream()
        end = s.find(b"\r\n\r\n")
        if end < 0:
            return None, False
        end += 4
        closing = False
        if with_frame:
            n = frame_length(s, end)
            closing = n is not None and s[end] & 0x0F == 0x8
            end += n if n is not None else 0
        return (0, end), closing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--mode", default="mix", choices=["mix", "none", "midstream"] + LOSSES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-plan")
    args = ap.parse_args()
    header, linktype, packets = read_pcap(args.src)
    parsed = [tcp_of(linktype, p[16:]) for p in packets]
    current, convs = {}, []  # 4-tuple -> its connection now; connections in order
    owner = []  # per packet: (connection, side) or None
    for t in parsed:
        who = None
        if t:
            src, sport, dst, dport, seq, flags, payload = t
            key = (src, sport, dst, dport)
            if flags & 0x12 == 0x02:  # a SYN alone: the client's
                conv = current.get(key)
                if conv is None or conv["client"].isn not in (None, seq):
                    conv = {"key": key, "client": Side(), "server": Side()}
                    current[key] = conv
                    convs.append(conv)
            if key in current:
                who = (current[key], "client")
            elif (dst, dport, src, sport) in current:
                who = (current[(dst, dport, src, sport)], "server")
            if who:
                who[0][who[1]].add(seq, flags, payload)
        owner.append(who)
    nth = {}
    for i, conv in enumerate(convs):
        k = (i + args.seed) % (len(LOSSES) + 1)
        conv["loss"] = args.mode if args.mode != "mix" else LOSSES[k] if k < len(LOSSES) else "none"
        conv["nth"] = nth.get(conv["key"][:2], 0)
        nth[conv["key"][:2]] = conv["nth"] + 1
        conv["range"], conv["lost_close"], conv["data_seen"] = None, False, 0
        if conv["loss"] not in ("none", "midstream"):
            conv["side"] = "server" if conv["loss"].startswith("response") else "client"
            conv["range"], conv["lost_close"] = conv[conv["side"]].lost_range(conv["loss"].endswith("+frame"))
    kept = [p for p, t, who in zip(packets, parsed, owner) if not who or not lost(who, t)]
    with open(args.dst, "wb") as f:
        f.write(header)
        for p in kept:
            f.write(p)
    if args.out_plan:
        with open(args.out_plan, "w") as f:
            for conv in convs:
                f.write("%s %d %d %s %d\n" % (ip_text(conv["key"][0]), conv["key"][1], conv["nth"], conv["loss"],
                                             conv["lost_close"]))


def lost(who, t):
    """Whether the packet t of (connection, side) is one the loss takes."""
    conv, side = who
    src, sport, dst, dport, seq, flags, payload = t
    if conv["loss"] == "none":
        return False
    if conv["loss"] == "midstream":
        conv["data_seen"] += 1 if payload else 0
        return conv["data_seen"] <= MIDSTREAM_SKIP
    if conv["loss"].startswith("syn") and side == "client" and flags & 0x12 == 0x02:
        return True
    isn, rng = conv[side].isn, conv["range"]
    if side != conv["side"] or not rng or not payload or isn is None:
        return False
    off = (seq - isn - 1) & 0xFFFFFFFF
    return off < rng[1] and off + len(payload) > rng[0]


def ip_text(raw):
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


if __name__ == "__main__":
    main()
