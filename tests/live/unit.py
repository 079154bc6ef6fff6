#!/usr/bin/python3
"""tests/live/unit.py — contrib/wsstatsd.service as a setpriv(1) command line.

No systemd runs the tests, so the live test follows the unit file by hand:
it reads the [Service] section and prints, for bash to eval, how to start
wsstatsd with the privileges the unit gives it:

  UNIT_CMD=(...)       setpriv with the unit's User=/Group= (mapped to the test
                       user: the unit's user need not exist here),
                       AmbientCapabilities= (as inheritable and ambient
                       capabilities), CapabilityBoundingSet= and
                       NoNewPrivileges=, then ExecStart= with its variables
                       expanded (Environment=), the program replaced by --bin,
                       the state directory by --state, the interface by
                       --iface and a -u user by the test user
  UNIT_UMASK=0027      UMask=
  UNIT_DIR_MODE=0750   StateDirectoryMode= (systemd's default 0755)
  UNIT_TREE_OWNER=u:g  whom systemd hands the state directory and all in it
                       at each start (User=, else root) — it does so when the
                       directory's own owner differs
  UNIT_DIR_OWNER=u:g   who owns the directory itself once ExecStartPre=
                       (only "/bin/chown USER:GROUP DIR" is understood) is done
  UNIT_DB=PATH         the -w database, in --state

  unit.py UNIT --bin PATH --state DIR --iface IFACE --user USER

A setting it cannot carry out (another ExecStartPre=, a capability setpriv
does not know) is an error (exit 1, a line on stderr): the test must not
pass on a unit it did not really follow.
"""

import argparse
import grp
import pwd
import shlex
import sys


def service_settings(path):
    """The [Service] section's settings: name -> list of values, in order."""
    settings, section = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                name, value = line.split("=", 1)
                settings.setdefault(name.strip(), []).append(value.strip())
    return settings


def environment(settings):
    env = {}
    for value in settings.get("Environment", []):
        for word in shlex.split(value):
            name, _, v = word.partition("=")
            env[name] = v
    return env


def expand(words, env):
    """systemd's ExecStart= expansion: ${VAR} is one word, $VAR is split."""
    out = []
    for w in words:
        if w.startswith("${") and w.endswith("}"):
            out.append(env.get(w[2:-1], ""))
        elif w.startswith("$") and len(w) > 1:
            out.extend(env.get(w[1:], "").split())
        else:
            out.append(w)
    return out


def caps(value):
    """"CAP_NET_RAW CAP_X" -> ["net_raw", "x"] (setpriv's names)."""
    names = [c.lower()[4:] if c.upper().startswith("CAP_") else c.lower() for c in value.split()]
    for n in names:
        if not n.replace("_", "").isalnum():
            raise SystemExit("unit.py: capability %r not understood" % n)
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("unit")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--user", required=True)
    a = ap.parse_args()

    s = service_settings(a.unit)
    env = environment(s)
    user = a.user
    group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    state_dir = "/var/lib/" + s["StateDirectory"][-1] if "StateDirectory" in s else None

    setpriv = ["setpriv"]
    if "User" in s:
        setpriv += ["--reuid=" + user, "--regid=" + group, "--init-groups"]
    if "AmbientCapabilities" in s:
        amb = ",".join("+" + c for c in caps(s["AmbientCapabilities"][-1]))
        setpriv += ["--inh-caps=-all," + amb, "--ambient-caps=-all," + amb]
    if "CapabilityBoundingSet" in s:
        setpriv += ["--bounding-set=-all" + "".join(",+" + c for c in caps(s["CapabilityBoundingSet"][-1]))]
    if s.get("NoNewPrivileges", ["no"])[-1] in ("yes", "true", "1", "on"):
        setpriv += ["--no-new-privs"]

    def local(word):
        return a.state + word[len(state_dir):] if state_dir and word.startswith(state_dir) else word

    argv = expand(shlex.split(s["ExecStart"][-1]), env)
    argv[0] = a.bin
    db = None
    for i in range(1, len(argv)):
        prev = argv[i - 1]
        if prev in ("-i", "--interface"):
            argv[i] = a.iface
        elif prev in ("-u", "--user"):
            argv[i] = user
        else:
            argv[i] = local(argv[i])
        if prev in ("-w", "--db"):
            db = argv[i]

    tree_owner = (user, group) if "User" in s else ("root", "root")
    owner = tree_owner
    for pre in s.get("ExecStartPre", []):
        words = expand(shlex.split(pre.lstrip("+-!@:")), env)
        if len(words) == 3 and words[0].endswith("/chown") and ":" in words[1] and words[2] == state_dir:
            owner = (user, group)  # the unit's user:group, which the test maps to its own
        else:
            raise SystemExit("unit.py: cannot carry out ExecStartPre=%s" % pre)

    out = {
        "UNIT_UMASK": s.get("UMask", ["0022"])[-1],
        "UNIT_DIR_MODE": s.get("StateDirectoryMode", ["0755"])[-1],
        "UNIT_TREE_OWNER": "%s:%s" % tree_owner,
        "UNIT_DIR_OWNER": "%s:%s" % owner,
        "UNIT_DB": db or "",
    }
    for k, v in out.items():
        print("%s=%s" % (k, shlex.quote(v)))
    print("UNIT_CMD=(%s)" % " ".join(shlex.quote(w) for w in setpriv + ["--"] + argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
