#!/usr/bin/python3
"""tests/layout/layers.py — the folders are the architecture: check it.

  layers.py includes ROOT      every quoted #include of a source file names a
                               file of its own folder or of a folder below it
                               in the layers (LAYERS), and the system headers
                               of a library only where that library belongs
                               (LIBRARY_HEADERS)
  layers.py calls ROOT OBJDIR  no call cycle between source files: from the
                               objects' symbol tables (nm; gcc-nm for LTO
                               objects), which file calls a function another
                               file defines, and no two files reach each other
  layers.py lengths ROOT MAX   no source file longer than MAX lines

Each prints one line per finding and exits 1 if there is any.
"""
import os
import re
import subprocess
import sys

# What each folder may include besides itself.
LAYERS = {
    'common': [],
    'model': ['common'],
    'capture': ['common'],
    'flow': ['capture', 'model', 'common'],
    'app': ['model', 'common'],
    'engine': ['app', 'flow', 'capture', 'model', 'common'],
    'store': ['model', 'common'],
    'remote': ['common'],
    'query': ['remote', 'store', 'model', 'common'],
    'ship': ['query', 'remote', 'store', 'model', 'common'],
    'cli': ['ship', 'query', 'model', 'common'],
    'daemon': ['ship', 'engine', 'app', 'flow', 'capture', 'store', 'model', 'common'],
}
# System headers that belong to one place: header prefix -> allowed files
# (a folder, or a folder/file).
LIBRARY_HEADERS = {
    'pcap': ['capture'],
    'ndpi/': ['app/dpi.c'],
    'sqlite3.h': ['store', 'query'],
    'microhttpd.h': ['daemon'],
    'curl/': ['remote'],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^">]+)[">]', re.M)


def sources(root):
    for layer in LAYERS:
        top = os.path.join(root, layer)
        for d, _, files in os.walk(top):
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    yield os.path.join(d, f)


def layer_of(root, path):
    return os.path.relpath(path, root).split(os.sep)[0]


def check_includes(root):
    bad = []
    for path in sources(root):
        mine = layer_of(root, path)
        rel = os.path.relpath(path, root)
        with open(path, encoding='utf-8', errors='replace') as fh:
            text = fh.read()
        for kind, name in INCLUDE.findall(text):
            if kind == '"':
                target = os.path.normpath(os.path.join(os.path.dirname(path), name))
                if not os.path.exists(target):
                    bad.append(f'{rel}: includes "{name}", which is not there')
                    continue
                theirs = layer_of(root, target)
                if theirs != mine and theirs not in LAYERS[mine]:
                    bad.append(f'{rel}: includes "{name}" ({theirs}/), which {mine}/ must not')
                continue
            for prefix, allowed in LIBRARY_HEADERS.items():
                if name.startswith(prefix) and not any(rel == a or rel.startswith(a + '/') for a in allowed):
                    bad.append(f'{rel}: includes <{name}>, which only {", ".join(allowed)} may')
    return bad


def symbols(obj):
    nm = 'gcc-nm' if subprocess.run(['gcc-nm', '--version'], capture_output=True).returncode == 0 else 'nm'
    out = subprocess.run([nm, obj], capture_output=True, text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in 'TDRBC':
            defined.add(parts[2])
    return defined, used


def cycles(graph):
    """Tarjan's strongly connected components of more than one node."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_calls(root, objdir):
    owner, uses, bad = {}, {}, []
    for path in sources(root):
        if not path.endswith('.c'):
            continue
        rel = os.path.relpath(path, root)
        obj = os.path.join(objdir, rel[:-2] + '.o')
        if not os.path.exists(obj):
            bad.append(f'{rel}: no object {obj} (build first)')
            continue
        defined, used = symbols(obj)
        for s in defined:
            owner[s] = rel
        uses[rel] = used
    graph = {f: sorted({owner[s] for s in used if s in owner and owner[s] != f}) for f, used in uses.items()}
    for comp in cycles(graph):
        bad.append('call cycle between ' + ', '.join(comp))
    return bad


def check_lengths(root, limit):
    bad = []
    for path in sources(root):
        with open(path, encoding='utf-8', errors='replace') as fh:
            n = sum(1 for _ in fh)
        if n > limit:
            bad.append(f'{os.path.relpath(path, root)}: {n} lines (more than {limit})')
    return bad


def main():
    what, root = sys.argv[1], sys.argv[2]
    if what == 'includes':
        bad = check_includes(root)
    elif what == 'calls':
        bad = check_calls(root, sys.argv[3])
    elif what == 'lengths':
        bad = check_lengths(root, int(sys.argv[3]))
    else:
        sys.exit(f'unknown check {what}')
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
