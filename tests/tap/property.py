#!/usr/bin/python3
"""tests/tap/property.py — what a network tap does to packets must not change
the records.

For each seed, a random set of WebSocket conversations is written twice from
the same segments: as sent, and as a tap might deliver them (re-split into
other segment boundaries, retransmitted with other boundaries, duplicated,
reordered in small windows; sequence numbers near the 2^32 wrap). wsstatsd
must give exactly the same records for both, apart from times. With
--drop, one data segment in the middle of a conversation is lost instead:
that record must carry violation `gap` and still the close code and
initiator the clean capture has. With --handshake-loss, each conversation
loses part of its handshake instead (tests/tools/pcaploss.py: the
request, the response, either with the first frame after it, or the SYN
and the request), and the records must keep what tests/tools/losscheck.py
says they keep.

    property.py --bin build --seeds 60 [--first 1] [--drop | --handshake-loss] [--keep DIR]
Prints `ok - NAME` / `not ok - NAME` per seed.
"""
import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pcapgen import (Conversation, Pcap, duplicate, overlap, reorder, resplit, drop_data)  # noqa: E402
import losscheck  # noqa: E402

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")

# Compared columns: everything but ids, times and nDPI's verdict (nDPI sees a
# reordered flow's first packets in another order, and may name it otherwise).
COLUMNS = ("client_ip client_port server_ip server_port vlan host path origin user_agent subprotocol "
           "extensions http_status handshake_seen close_code close_reason close_initiator client_close_code "
           "client_close_reason server_close_code server_close_reason outcome termination frames_client "
           "frames_server messages_client messages_server bytes_client bytes_server pings pongs "
           "violations").split()

CODES = [1000, 1000, 1001, 1008, 1011, 1013, 3001, 4321]
REASONS = ["", "bye", "Tschüß – 再见 🚀", "server restart", "x" * 100]
ENDINGS = ["clean_client", "clean_server", "half_client", "half_server", "close_then_rst", "rst",
           "fin_only", "unfinished", "rejected", "empty_close"]


def payload(rng):
    n = rng.choice([0, 1, 5, 125, 126, 300, 1400, 4000, 70000])
    return bytes(rng.getrandbits(8) for _ in range(min(n, 64))) * (n // 64 + 1) if n else b""


def messages(rng, c):
    for _ in range(rng.randint(0, 4)):
        side = rng.choice(["client", "server"])
        kind = rng.random()
        if kind < 0.15:
            c.send_frame(side, 9, b"ping")
            c.send_frame("server" if side == "client" else "client", 10, b"ping")
        elif kind < 0.3:  # fragmented text message with a ping in between
            c.send_frame(side, 1, b"frag-one ", fin=False)
            c.send_frame(side, 9, b"")
            c.send_frame(side, 0, b"frag-two", fin=True)
        else:
            c.send_frame(side, rng.choice([1, 2]), payload(rng) if kind > 0.5 else "héllo ✓".encode())


def ending(rng, c, kind):
    code, reason = rng.choice(CODES), rng.choice(REASONS)
    other = {"client": "server", "server": "client"}
    if kind in ("clean_client", "clean_server"):
        first = "client" if kind == "clean_client" else "server"
        c.close(first, code, reason)
        c.close(other[first], code)
        c.fin("server")
        c.fin("client")
    elif kind in ("half_client", "half_server"):
        first = "client" if kind == "half_client" else "server"
        c.close(first, code, reason)
        c.fin(first)
        c.fin(other[first])
    elif kind == "close_then_rst":
        c.close("client", code, reason)
        c.rst("client")
    elif kind == "rst":
        c.rst(rng.choice(["client", "server"]))
    elif kind == "fin_only":
        c.fin(rng.choice(["client", "server"]))
    elif kind == "empty_close":
        c.close("server")
        c.close("client")
        c.fin("server")
        c.fin("client")
    # unfinished: nothing


def conversations(pcap, rng, count):
    reuse = None
    for i in range(count):
        v6 = rng.random() < 0.3
        client = "2001:db8::%x" % (i + 1) if v6 else "10.1.%d.%d" % (i // 200, i % 200 + 1)
        server = "2001:db8::ffff" if v6 else "10.2.0.1"
        cport, sport = 40000 + i, rng.choice([80, 443, 8080])
        if reuse and rng.random() < 0.3:  # port reuse: the last finished 4-tuple again,
            client, cport, server, sport = reuse
            pcap.clock += 0.05  # after a pause (no tap reorders across it)
        isn = (rng.choice([rng.getrandbits(32), 2 ** 32 - rng.randint(1, 3000)]),
               rng.choice([rng.getrandbits(32), 2 ** 32 - rng.randint(1, 3000)]))
        vlans = rng.choice([(), (), (42,), (100, 200)])
        c = Conversation(pcap, client, cport, server, sport, vlans=vlans, isn=isn)
        kind = rng.choice(ENDINGS)
        if kind == "rejected":
            c.handshake(status=403, path="/private")
            c.fin("server")
            c.fin("client")
        else:
            c.handshake(path="/ws/%d?x=%d" % (i, rng.randint(0, 9)),
                        protocol=rng.choice([None, "graphql-transport-ws"]))
            messages(rng, c)
            ending(rng, c, kind)
        if kind not in ("unfinished", "fin_only", "rst", "close_then_rst"):
            reuse = (client, cport, server, sport)
        else:
            reuse = None


def records(binary, pcap_path, db_path):
    if os.path.exists(db_path):
        os.unlink(db_path)
    r = subprocess.run([binary, "-q", "-r", pcap_path, "-w", db_path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("wsstatsd exited %d: %s" % (r.returncode, r.stderr.strip()))
    db = sqlite3.connect(db_path)
    cols = COLUMNS + ["started_at", "ended_at"]
    rows = db.execute("SELECT %s FROM connections ORDER BY started_at, client_port" % ",".join(cols)).fetchall()
    db.close()
    return [dict(zip(cols, row)) for row in rows]


def messy(pcap, rng):
    pcap.transform(resplit, rng, rng.choice([1, 7, 200, 1000]))
    pcap.transform(overlap, rng, 0.15)
    pcap.transform(duplicate, rng, 0.15)
    pcap.transform(reorder, rng, rng.choice([2, 3, 4, 6]))


def describe(clean, mangled):
    lines = []
    if len(clean) != len(mangled):
        lines.append("%d records from the clean capture, %d from the mangled one" % (len(clean), len(mangled)))
    for a, b in zip(clean, mangled):
        diff = ["%s: %r -> %r" % (k, a[k], b[k]) for k in COLUMNS if a[k] != b[k]]
        if diff:
            lines.append("%s:%s %s" % (a["client_ip"], a["client_port"], "; ".join(diff)))
    return lines


def check_handshake_loss(binary, seed, work):
    """The clean capture's conversations, each losing part of its handshake."""
    clean_path, lossy_path = os.path.join(work, "clean.pcap"), os.path.join(work, "mangled.pcap")
    plan_path = os.path.join(work, "plan.txt")
    subprocess.run([sys.executable, os.path.join(TOOLS, "pcaploss.py"), clean_path, lossy_path, "--seed", str(seed),
                    "--out-plan", plan_path], check=True)
    records(binary, lossy_path, os.path.join(work, "mangled.db"))
    _, bad = losscheck.check(os.path.join(work, "clean.db"), os.path.join(work, "mangled.db"), plan_path)
    return ["%s (%s)" % (line, loss) for loss, lines in sorted(bad.items()) for line in lines]


def check_seed(binary, seed, work, drop):
    rng = random.Random(seed)
    clean_path, mangled_path = os.path.join(work, "clean.pcap"), os.path.join(work, "mangled.pcap")
    pcap = Pcap(clean_path)
    conversations(pcap, rng, rng.randint(2, 6))
    pcap.close()
    clean = records(binary, clean_path, os.path.join(work, "clean.db"))
    pcap.path = mangled_path
    if drop == "handshake":
        return check_handshake_loss(binary, seed, work)
    if drop:
        return check_drop(binary, pcap, rng, clean, work)
    messy(pcap, rng)
    pcap.close()
    mangled = records(binary, mangled_path, os.path.join(work, "mangled.db"))
    return describe(clean, mangled)


def check_drop(binary, pcap, rng, clean, work):
    """Drops one client data segment that carries no close frame; the
    record must say `gap` and keep the close code and initiator."""
    # a whole small data frame in one segment, in a conversation that both
    # sides closed and FINed: there the loss is provable (later bytes, FINs)
    clean_tuples = {(r["client_ip"], r["client_port"], r["started_at"], r["ended_at"]) for r in clean
                    if r["outcome"] == "clean"}

    def whole_frame(s):
        p = s.payload
        if len(p) < 2 or p[0] & 0x0F not in (1, 2) or not p[0] & 0x80 or p[1] & 0x7F >= 126:
            return False
        return len(p) == 2 + (4 if p[1] & 0x80 else 0) + (p[1] & 0x7F)

    def in_clean(s):
        return any({(s.src, s.sport), (s.dst, s.dport)} & {(ip, port)} and t0 <= s.ts <= t1 + 1e-7
                   for ip, port, t0, t1 in clean_tuples)
    victims = [s for s in pcap.segs if whole_frame(s) and in_clean(s)]
    if not victims:
        return []
    victim = rng.choice(victims)
    pcap.transform(drop_data, lambda s: s is victim)
    pcap.close()
    mangled = records(binary, pcap.path, os.path.join(work, "mangled.db"))
    problems = []
    for a, b in zip(clean, mangled):
        if (a["client_port"], a["server_port"]) != (b["client_port"], b["server_port"]):
            return ["records differ in order or number"]
        ends = {(a["client_ip"], a["client_port"]), (a["server_ip"], a["server_port"])}
        hit = {(victim.src, victim.sport), (victim.dst, victim.dport)} == ends and \
            a["started_at"] <= victim.ts + 1e-7 and victim.ts <= a["ended_at"] + 1e-7
        if not hit:
            continue
        if "gap" not in (b["violations"] or ""):
            problems.append("no gap violation on %s:%s" % (b["client_ip"], b["client_port"]))
        for k in ("close_code", "close_initiator", "client_close_code", "server_close_code", "outcome"):
            if a[k] != b[k]:
                problems.append("%s changed by the loss: %r -> %r" % (k, a[k], b[k]))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build")
    ap.add_argument("--seeds", type=int, default=60)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--drop", action="store_true", help="lose one data segment instead of mangling")
    ap.add_argument("--handshake-loss", action="store_true", help="lose part of each handshake instead")
    ap.add_argument("--keep", help="keep the captures of failing seeds in this folder")
    args = ap.parse_args()
    binary = os.path.join(args.bin, "wsstatsd")
    failed = 0
    name = "handshake-loss" if args.handshake_loss else "drop" if args.drop else "reorder"
    drop = "handshake" if args.handshake_loss else args.drop
    with tempfile.TemporaryDirectory() as work:
        for seed in range(args.first, args.first + args.seeds):
            try:
                problems = check_seed(binary, seed, work, drop)
            except Exception as e:  # noqa: BLE001 - report, don't stop the run
                problems = ["%s: %s" % (type(e).__name__, e)]
            if problems:
                failed += 1
                print("not ok - tap/%s-seed-%d" % (name, seed))
                for p in problems[:12]:
                    print("#  " + p)
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    for f in ("clean.pcap", "mangled.pcap"):
                        os.replace(os.path.join(work, f), os.path.join(args.keep, "%s-%d-%s" % (name, seed, f)))
            else:
                print("ok - tap/%s-seed-%d" % (name, seed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
