#!/usr/bin/python3
"""tshark conformance check for wsstatsd's close codes (docs/design.md §7).

For every capture file given, this script
  1. runs tshark and extracts every WebSocket close frame (the "oracle"),
     together with who the client of each TCP connection is;
  2. optionally checks that oracle against the corpus MANIFEST.tsv
     (ws_close_frames and close_codes_seen columns), so that a change in
     tshark's dissection is noticed instead of silently moving the goalposts;
  3. runs `$BIN/wsstatsd -r FILE -w DB` and compares the close columns of the
     `connections` table with the oracle;
and prints one TAP-style line per capture file: `ok - conformance/FILE` or
`not ok - conformance/FILE` followed by `#  ` diagnostic lines.  A last line,
`conformance/known-differences`, fails when the allow-list is malformed or has
an entry that excused nothing (stale).

Important tshark limitation: tshark only dissects WebSocket on a TCP stream
after it has seen the HTTP 101 response in that same stream.  A stream whose
101 was not captured (a capture started mid-connection) is only dissected if
the file is listed in DECODE_AS below; the decode-as pass is used only for
streams the normal pass did not dissect (decode-as would otherwise misread the
handshake of the other streams on that port as frames).  Connections tshark
does not dissect as WebSocket are not compared; if wsstatsd recorded a close
frame on one, a note goes to stderr (a hint to extend DECODE_AS).

Only the Python 3 standard library is used.  Run with /usr/bin/python3.
Usage: see `compare.py --help`; normally called by run.sh.
"""

import argparse
import ipaddress
import os
import sqlite3
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

# Captures with connections that start mid-stream (no handshake): tshark needs
# decode-as for those.  ndn-tools ipv4: tcp.stream 0 (port 59622) is mid-stream
# and carries a close 1001 each way, which MANIFEST.tsv does not count.
DECODE_AS = {
    "ndpi__websocket.pcap": ["-d", "tcp.port==12345,websocket"],
    "ndn-tools__ipv4-websocket-segmented.pcap": ["-d", "tcp.port==9696,websocket"],
    "eririmba-socket.io-sample__websocket.pcap": ["-d", "tcp.port==8008,websocket"],
}

# Packets we need from tshark: WebSocket frames, HTTP requests (the sender of
# the upgrade GET is the client), 101 responses (tshark dissects the stream as
# WebSocket from there on) and SYNs (the SYN sender is the client).
TSHARK_FILTER = "websocket || http.request || http.response.code == 101 || tcp.flags.syn == 1"

# Columns of `connections` that this test compares.
CLOSE_FIELDS = [
    "close_code", "close_reason", "close_initiator",
    "client_close_code", "client_close_reason",
    "server_close_code", "server_close_reason",
]
# The subset that does not depend on which side is the client.
UNDIRECTED_FIELDS = ["close_code", "close_reason"]

NO_CLOSE = "NULL|1006"   # expected close_code when tshark saw no close frame
TIMEOUT = 600            # seconds, per tshark / wsstatsd run


# ---------------------------------------------------------------- helpers

def norm_ip(text):
    """Canonical printable form of an IP address (so '::1' == '0:0::1')."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def endpoint_str(ep):
    """'1.2.3.4:80' or '[::1]:80' for an (ip, port) pair."""
    ip, port = ep
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


def conn_str(client, server):
    """The connection name used in diagnostics and the allow-list."""
    return "%s->%s" % (endpoint_str(client), endpoint_str(server))


def render(value):
    """A value as printed in diagnostics and written in the allow-list."""
    if value is None:
        return "NULL"
    if value == "":
        return '""'
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text.encode("unicode_escape").decode("ascii") if isinstance(value, str) else text


def empty_to_none(value):
    """Reasons: NULL and '' mean the same thing (no reason)."""
    return None if value in (None, "", b"") else value


# ---------------------------------------------------------------- tshark side

class Close:
    """One close frame as dissected by tshark."""

    def __init__(self, frame, time, src, code, reason):
        self.frame = frame      # tshark frame number
        self.time = time        # epoch seconds
        self.src = src          # (ip, port) of the sender
        self.on_wire = code is not None   # False: no status code (empty payload)
        self.code = 1005 if code is None else code
        self.reason = reason    # str or None


class Stream:
    """What tshark showed about one TCP stream (tcp.stream index)."""

    def __init__(self, index):
        self.index = index
        self.ends = []          # the two (ip, port) endpoints, in order seen
        self.first_time = None
        self.request_src = None  # sender of the first HTTP request
        self.syn_src = None      # sender of a SYN without ACK
        self.synack_dst = None   # receiver of a SYN+ACK
        self.masked = {}         # endpoint -> [masked frames, unmasked frames]
        self.frame_101 = None    # frame number of the 101 response
        self.first_ws_frame = None
        self.closes = []
        self.decode_as = False   # True: dissected only thanks to DECODE_AS

    def note_endpoints(self, src, dst, time):
        for ep in (src, dst):
            if ep not in self.ends:
                self.ends.append(ep)
        if self.first_time is None:
            self.first_time = time

    def dissected(self):
        """True if tshark decoded this stream as WebSocket."""
        return self.frame_101 is not None or self.first_ws_frame is not None

    def client(self):
        """(client endpoint, how it was determined), or (None, reason)."""
        if self.request_src:
            return self.request_src, "HTTP request sender"
        if self.syn_src:
            return self.syn_src, "SYN sender"
        if self.synack_dst:
            return self.synack_dst, "SYN+ACK receiver"
        return self._masked_side()

    def _masked_side(self):
        sides = [ep for ep, (m, u) in self.masked.items() if m and not u]
        others = [ep for ep, (m, u) in self.masked.items() if m]
        if len(sides) == 1 and len(others) == 1:
            return sides[0], "sender of masked frames"
        return None, "no handshake, SYN or one-sided masking"

    def server_of(self, client):
        for ep in self.ends:
            if ep != client:
                return ep
        return None


def field_map(proto):
    """name -> first <field> element with that name inside a PDML proto."""
    found = {}
    for field in proto.iter("field"):
        found.setdefault(field.get("name"), field)
    return found


def show(fields, name):
    field = fields.get(name)
    return None if field is None else field.get("show")


def parse_close(fields):
    """(code or None if absent, reason) of a close frame's websocket fields."""
    code = show(fields, "websocket.payload.close.status_code")
    reason_field = fields.get("websocket.payload.close.reason")
    reason = None
    if reason_field is not None:
        raw = bytes.fromhex(reason_field.get("value") or "")
        reason = raw.decode("utf-8", errors="replace")
    return (int(code) if code else None), empty_to_none(reason)


def parse_packet(pkt, streams):
    """Fold one PDML <packet> into the per-stream state."""
    protos = pkt.findall("proto")
    names = [p.get("name") for p in protos]
    if "icmp" in names or "icmpv6" in names:
        return  # TCP headers quoted inside ICMP errors are not traffic
    frame = time = src_ip = dst_ip = tcp = None
    for proto in protos:
        name = proto.get("name")
        fields = field_map(proto)
        if name == "frame":
            frame = int(show(fields, "frame.number"))
            time = float(show(fields, "frame.time_epoch"))
        elif name in ("ip", "ipv6") and tcp is None:
            # the innermost IP header before TCP (GTP-U etc. carry two)
            src_ip = norm_ip(show(fields, name + ".src"))
            dst_ip = norm_ip(show(fields, name + ".dst"))
        elif name == "tcp" and tcp is None:
            tcp = fields
            stream = streams.setdefault(int(show(fields, "tcp.stream")),
                                        Stream(int(show(fields, "tcp.stream"))))
            src = (src_ip, int(show(fields, "tcp.srcport")))
            dst = (dst_ip, int(show(fields, "tcp.dstport")))
            stream.note_endpoints(src, dst, time)
            note_tcp_flags(stream, fields, src, dst)
        elif name == "http" and tcp is not None:
            note_http(stream, fields, src, frame)
        elif name == "websocket" and tcp is not None:
            note_websocket(stream, fields, src, frame, time)


def note_tcp_flags(stream, fields, src, dst):
    if show(fields, "tcp.flags.syn") != "1":
        return
    if show(fields, "tcp.flags.ack") == "1":
        stream.synack_dst = stream.synack_dst or dst
    else:
        stream.syn_src = stream.syn_src or src


def note_http(stream, fields, src, frame):
    if "http.request.method" in fields and stream.request_src is None:
        stream.request_src = src
    if show(fields, "http.response.code") == "101" and stream.frame_101 is None:
        stream.frame_101 = frame


def note_websocket(stream, fields, src, frame, time):
    if stream.first_ws_frame is None:
        stream.first_ws_frame = frame
    counts = stream.masked.setdefault(src, [0, 0])
    counts[0 if show(fields, "websocket.mask") == "1" else 1] += 1
    if show(fields, "websocket.opcode") == "8":
        code, reason = parse_close(fields)
        stream.closes.append(Close(frame, time, src, code, reason))


def run_tshark(path, tshark="tshark"):
    """The oracle for one capture: (streams, handshake_streams), both
    {tcp.stream index: Stream}.  handshake_streams is tshark's plain dissection
    (what MANIFEST.tsv was made from); streams adds the DECODE_AS pass for the
    streams the plain pass did not dissect.  Raises on error."""
    plain = dissect(path, tshark, [])
    merged = dict(plain)
    extra = DECODE_AS.get(os.path.basename(path))
    if extra:
        for idx, stream in dissect(path, tshark, extra).items():
            if stream.dissected() and not (idx in plain and plain[idx].dissected()):
                stream.decode_as = True
                merged[idx] = stream
    return merged, plain


def dissect(path, tshark, extra):
    """One tshark run over a capture; returns {stream index: Stream}."""
    cmd = [tshark, "-n", "-r", path] + extra + ["-Y", TSHARK_FILTER, "-T", "pdml"]
    streams = {}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            for _, elem in ET.iterparse(proc.stdout, events=("end",)):
                if elem.tag == "packet":
                    parse_packet(elem, streams)
                    elem.clear()
        finally:
            proc.stdout.close()
            rc = proc.wait(timeout=TIMEOUT)
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
    if rc != 0:
        raise RuntimeError("tshark exited %d: %s" % (rc, stderr.strip()[-500:]))
    return streams


def expected_closes(stream, client):
    """Expected close columns for a stream, given the client endpoint.

    Returns {column: (value, [tshark frame numbers it comes from])}."""
    closes = stream.closes
    if not closes:
        exp = {f: (None, []) for f in CLOSE_FIELDS}
        exp["close_code"] = (NO_CLOSE, [])
        return exp
    first = closes[0]
    by_client = [c for c in closes if c.src == client]
    by_server = [c for c in closes if c.src != client]
    exp = {
        "close_code": (first.code, [first.frame]),
        "close_reason": (first.reason, [first.frame]),
        "close_initiator": ("client" if first.src == client else "server", [first.frame]),
    }
    for side, frames in (("client", by_client), ("server", by_server)):
        c = frames[0] if frames else None
        where = [c.frame] if c else []
        exp[side + "_close_code"] = (c.code if c else None, where)
        exp[side + "_close_reason"] = (c.reason if c else None, where)
    return exp


# ---------------------------------------------------------------- manifest

def read_manifest(path):
    """file -> row dict of MANIFEST.tsv, or {} if there is none."""
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        lines = [l.rstrip("\n").split("\t") for l in fh if l.strip()]
    header = lines[0]
    return {row[0]: dict(zip(header, row)) for row in lines[1:]}


def oracle_summary(streams):
    """(number of close frames, sorted list of distinct status codes on the wire)."""
    closes = [c for s in streams.values() for c in s.closes]
    codes = sorted({c.code for c in closes if c.on_wire})
    return len(closes), codes


def check_manifest(entry, streams):
    """Problems (list of str) where tshark disagrees with the manifest row."""
    if not entry:
        return []
    count, codes = oracle_summary(streams)
    want_count = int(entry.get("ws_close_frames", "0") or 0)
    seen = entry.get("close_codes_seen", "-")
    want_codes = [] if seen in ("-", "none") else sorted(int(c) for c in seen.split(","))
    problems = []
    if count != want_count:
        problems.append("oracle: tshark found %d close frames, MANIFEST.tsv says %d"
                        % (count, want_count))
    if codes != want_codes:
        problems.append("oracle: tshark status codes %s, MANIFEST.tsv close_codes_seen %s"
                        % (",".join(map(str, codes)) or "-", seen))
    return problems


def describe_oracle(streams):
    """Human-readable findings, one line per close frame / dissected stream."""
    out = []
    for idx in sorted(streams):
        s = streams[idx]
        if not s.dissected():
            continue
        client, how = s.client()
        who = conn_str(client, s.server_of(client)) if client else "client unknown"
        out.append("tcp.stream %d %s (client = %s%s): %d close frame(s)"
                   % (idx, who, how, ", via decode-as" if s.decode_as else "",
                      len(s.closes)))
        for c in s.closes:
            role = "?" if client is None else ("client" if c.src == client else "server")
            out.append("  frame %d from %s: code %d reason %s"
                       % (c.frame, role, c.code,
                          "NULL" if c.reason is None else repr(c.reason[:60])
                          + ("... (%d chars)" % len(c.reason) if len(c.reason) > 60 else "")))
    return out or ["tshark dissected no WebSocket stream"]


# ---------------------------------------------------------------- wsstatsd side

def run_wsstatsd(binary, path, db):
    """Run the daemon offline; returns (exit code or why not, stderr text)."""
    if os.path.exists(db):
        os.unlink(db)
    try:
        proc = subprocess.run([binary, "-r", path, "-w", db], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timeout", "no exit after %ds" % TIMEOUT
    except OSError as e:
        return "not run", "%s: %s" % (binary, e.strerror or e)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def read_rows(db):
    """All rows of `connections` as dicts, ordered by started_at."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    con.row_factory = sqlite3.Row
    try:
        cols = ["id", "client_ip", "client_port", "server_ip", "server_port",
                "started_at", "ended_at"] + CLOSE_FIELDS
        rows = con.execute("SELECT %s FROM connections ORDER BY started_at, id"
                           % ", ".join(cols)).fetchall()
        return [dict(r) for r in rows]
    finally:
        con.close()


def to_number(value):
    """int/float from a DB value, None if it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def row_ends(row):
    """((client ip, port), (server ip, port)) of a DB row."""
    def end(ip, port):
        num = to_number(port)
        return (norm_ip(str(ip)), int(num) if num is not None else port)
    return (end(row["client_ip"], row["client_port"]),
            end(row["server_ip"], row["server_port"]))


def pick_row(stream, rows, used):
    """The DB row for a tshark stream: same endpoints (either orientation);
    if a 4-tuple was reused, the latest row started before the stream."""
    ends = set(stream.ends)
    cands = [r for r in rows if id(r) not in used and set(row_ends(r)) == ends]
    if not cands:
        return None
    t0 = stream.first_time if stream.first_time is not None else float("inf")
    before = [r for r in cands if (to_number(r["started_at"]) or 0) <= t0 + 1]
    row = before[-1] if before else cands[0]
    used.add(id(row))
    return row


def note_uncompared(fname, streams, rows):
    """stderr note for rows with a close frame on a stream tshark did not dissect."""
    dissected = [set(s.ends) for s in streams.values() if s.dissected()]
    for row in rows:
        closed = row["client_close_code"] is not None or row["server_close_code"] is not None
        if closed and set(row_ends(row)) not in dissected:
            print("conformance: %s: %s has a close frame in the DB but tshark did not "
                  "dissect that stream as WebSocket (no 101 seen; consider DECODE_AS), "
                  "not compared" % (fname, conn_str(*row_ends(row))), file=sys.stderr)


# ---------------------------------------------------------------- comparison

class Diff:
    """One disagreement between the DB and tshark."""

    def __init__(self, conn, field, ours, tshark, frames, note=""):
        self.conn, self.field = conn, field
        self.ours, self.tshark = render(ours), render(tshark)
        self.frames, self.note = frames, note

    def key(self, fname):
        return (fname, self.conn, self.field, self.ours, self.tshark)

    def text(self):
        where = (" (tshark frame %s)" % ",".join(map(str, self.frames))) if self.frames else ""
        return "%s %s: ours=%s tshark=%s%s%s" % (
            self.conn, self.field, self.ours, self.tshark, where,
            ("; " + self.note) if self.note else "")


def values_agree(field, ours, want):
    if field.endswith("reason"):
        return empty_to_none(ours) == empty_to_none(want)
    if want == NO_CLOSE:
        return ours is None or render(ours) == "1006"
    return render(ours) == render(want)


def compare_stream(stream, row):
    """Diffs for one dissected tshark stream against its DB row (or None)."""
    client, how = stream.client()
    if row is None:
        c = client or stream.ends[0]
        frames = [stream.frame_101 or stream.first_ws_frame]
        return [Diff(conn_str(c, stream.server_of(c)), "row", "missing",
                     "websocket connection", frames,
                     "no row in connections for this TCP connection")]
    db_client, db_server = row_ends(row)
    diffs, fields, note = [], CLOSE_FIELDS, ""
    if client is None:
        client, note = db_client, "client side taken from wsstatsd (tshark: %s)" % how
    elif client != db_client:
        diffs.append(Diff(conn_str(client, stream.server_of(client)), "client",
                          endpoint_str(db_client), endpoint_str(client),
                          [], "tshark: client = " + how))
        fields = UNDIRECTED_FIELDS
    conn = conn_str(client, stream.server_of(client))
    exp = expected_closes(stream, client)
    for field in fields:
        want, frames = exp[field]
        if not values_agree(field, row[field], want):
            diffs.append(Diff(conn, field, row[field], want, frames, note))
    return diffs


def compare_file(streams, rows):
    """All diffs for one capture (only streams tshark decoded as WebSocket)."""
    diffs, used = [], set()
    for idx in sorted(streams):
        stream = streams[idx]
        if stream.dissected():
            diffs.extend(compare_stream(stream, pick_row(stream, rows, used)))
    return diffs


# ---------------------------------------------------------------- allow-list

HEADER = ["file", "connection", "field", "ours", "tshark", "why"]


def read_allow_list(path):
    """({key: [entry, used flag]}, problems). Comment lines start with '#'."""
    entries, problems, seen_header = {}, [], False
    if not path or not os.path.exists(path):
        return entries, problems
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if not seen_header:
                seen_header = True
                if cols != HEADER:
                    problems.append("line %d: header must be %s" % (lineno, "\\t".join(HEADER)))
                continue
            if len(cols) != len(HEADER) or not cols[5].strip():
                problems.append("line %d: need 6 tab-separated columns incl. a why" % lineno)
                continue
            entries[tuple(cols[:5])] = [lineno, False]
    return entries, problems


def apply_allow_list(fname, diffs, allow):
    """Drop diffs excused by an allow-list entry (marking the entry used)."""
    kept = []
    for d in diffs:
        entry = allow.get(d.key(fname))
        if entry:
            entry[1] = True
        else:
            kept.append(d)
    return kept


def report_allow_list(allow, problems, path):
    stale = ["line %d: stale entry, matched no difference: %s"
             % (lineno, "\t".join(key)) for key, (lineno, used) in allow.items() if not used]
    problems = problems + sorted(stale)
    print("%s - conformance/known-differences" % ("not ok" if problems else "ok"))
    for p in problems:
        print("#  %s: %s" % (os.path.basename(path or "known-differences.tsv"), p))
    return not problems


# ---------------------------------------------------------------- per file

def check_capture(path, args, manifest, allow):
    """Print the ok / not ok line for one capture; returns True if ok."""
    fname = os.path.basename(path)
    problems, notes = [], []
    try:
        streams, plain = run_tshark(path, args.tshark)
    except (RuntimeError, ET.ParseError, OSError, subprocess.TimeoutExpired) as e:
        streams = None
        problems.append("oracle: tshark failed: %s" % e)
    if streams is not None:
        problems += check_manifest(manifest.get(fname), plain)
        notes = describe_oracle(streams)
    if not args.oracle_only:
        problems += check_daemon(path, fname, args, streams, allow)
    name = ("conformance/tshark/" if args.oracle_only else "conformance/") + fname
    print("%s - %s" % ("not ok" if problems else "ok", name))
    for line in problems + (notes if args.verbose else []):
        print("#  " + line)
    sys.stdout.flush()
    return not problems


def check_daemon(path, fname, args, streams, allow):
    """Problems from running wsstatsd on one capture and comparing its DB."""
    db = os.path.join(args.tmp, fname + ".db")
    rc, stderr = run_wsstatsd(args.wsstatsd, path, db)
    if rc != 0:
        tail = stderr.strip().splitlines()[-3:]
        return ["wsstatsd -r %s -w DB: exit %s%s"
                % (fname, rc, (": " + " | ".join(tail)) if tail else "")]
    if streams is None:
        return []
    try:
        rows = read_rows(db)
    except sqlite3.Error as e:
        return ["cannot read table connections from %s: %s" % (db, e)]
    diffs = apply_allow_list(fname, compare_file(streams, rows), allow)
    note_uncompared(fname, streams, rows)
    return [d.text() for d in diffs]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("captures", nargs="+", help="capture files (.pcap/.pcapng)")
    p.add_argument("--wsstatsd", default="build/wsstatsd", help="daemon binary")
    p.add_argument("--tmp", default="/tmp", help="directory for the per-file databases")
    p.add_argument("--manifest", help="corpus MANIFEST.tsv to check tshark against")
    p.add_argument("--allow", help="known-differences.tsv allow-list")
    p.add_argument("--tshark", default="tshark", help="tshark binary")
    p.add_argument("--oracle-only", action="store_true",
                   help="only check tshark against the manifest; do not run wsstatsd")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print what tshark found in each file")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    manifest = read_manifest(args.manifest)
    allow, allow_problems = read_allow_list(args.allow)
    ok = True
    for path in args.captures:
        ok = check_capture(path, args, manifest, allow) and ok
    if not args.oracle_only:
        ok = report_allow_list(allow, allow_problems, args.allow) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
