#!/usr/bin/python3
"""tests/live/holder.py — another process holding a wsstats database, on command.

Reads one command per line on stdin and answers each with one line on
stdout ("ok ..." or "error ..."), so that tests/live/run.sh can drive it as
a coprocess and know when each step has happened:

  open DB     open a connection (DB as given; never created)
  read        BEGIN and read: a read transaction stays open (a reader that
              keeps a snapshot; it blocks a TRUNCATE checkpoint)
  end         end the transaction (the connection stays open, idle)
  lock        BEGIN IMMEDIATE: the write lock, held until unlock
  unlock      ROLLBACK
  count       the number of connections rows, in a transaction of its own
  close       close the connection
"""

import sqlite3
import sys


def main():
    con = None
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "open":
                con = sqlite3.connect("file:%s?mode=rw" % cmd[1], uri=True, timeout=0.1, isolation_level=None)
                answer = "ok"
            elif cmd[0] == "read":
                con.execute("BEGIN")
                answer = "ok %d" % con.execute("SELECT count(*) FROM connections").fetchone()[0]
            elif cmd[0] == "lock":
                con.execute("BEGIN IMMEDIATE")
                answer = "ok"
            elif cmd[0] in ("end", "unlock"):
                con.execute("ROLLBACK")
                answer = "ok"
            elif cmd[0] == "count":
                answer = "ok %d" % con.execute("SELECT count(*) FROM connections").fetchone()[0]
            elif cmd[0] == "close":
                con.close()
                con = None
                answer = "ok"
            else:
                answer = "error unknown command %s" % cmd[0]
        except (sqlite3.Error, AttributeError) as e:
            answer = "error %s" % e
        print(answer, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
