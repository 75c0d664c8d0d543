#!/usr/bin/env python3
# Checks that no file in core/ includes a file of a layer above its own.
#
# The core is layered (docs/architecture.md has the map): basic helpers at
# the bottom, then the outbound clients (Redis, HTTP), configuration, the
# Engine.IO engine, its libwebsockets transport, the Socket.IO codec and
# hub, the storage and cluster backends, the module host, the layers that
# route into modules (Socket.IO server, HTTP API, cluster link), and the
# server that wires them together at the top. A file may include its own
# layer and the ones below. An upward include is how a core turns into a tangle
# one convenient shortcut at a time, so the suite fails on the first one.
#
# Every file of core/ must belong to a layer: a new file that matches none
# is an error too, so the table below stays the whole map.
#
# Prints "ok"/"not ok" lines; exits non-zero on any violation.
import fnmatch
import os
import re
import sys

# Lowest first. Patterns are relative to core/ and matched in order: the
# first layer whose pattern matches a file owns it.
LAYERS = [
    ("base", ["log.*", "metrics.*", "units.*", "random_id.*", "json.*", "errors.h", "encoding.*", "frame.h",
              "deadline_queue.*", "open_index.h", "remote_sessions.h"]),
    ("clients", ["redis/*", "http_client/*"]),
    ("config", ["config.*", "config_yaml.*"]),
    ("engine", ["engineio/*"]),
    ("transport", ["transport/*", "lws_helpers.*"]),
    ("hub", ["socketio_packet.*", "room_index.*", "hub.*"]),
    ("backends", ["storage/*", "cluster/*"]),
    ("module host", ["module_instance.h", "hook_dispatcher.*", "host_services.*", "module_host.*", "host_api*"]),
    ("routing", ["socketio_server.*", "http_api*", "cluster_link.*"]),
    ("server", ["server.*", "main.cpp"]),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    for rank, (name, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatch(rel, p) for p in patterns):
            return rank, name
    return None, None


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "core")
    core = os.path.normpath(core)
    failures = 0
    files = 0
    for dirpath, _, names in os.walk(core):
        for n in sorted(names):
            if not n.endswith((".h", ".cpp")):
                continue
            path = os.path.join(dirpath, n)
            rel = os.path.relpath(path, core)
            files += 1
            rank, name = layer_of(rel)
            if rank is None:
                print(f"not ok core/{rel} belongs to no layer (add it to tests/check-layers.py and docs/architecture.md)")
                failures += 1
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                # Quoted includes are resolved against core/ (the include path)
                # or the including file's folder, as the compiler does.
                target = None
                for base in (os.path.dirname(rel), ""):
                    cand = os.path.normpath(os.path.join(base, inc))
                    if os.path.exists(os.path.join(core, cand)):
                        target = cand
                        break
                if target is None:
                    continue  # not a core file (plugins-api, a system header in quotes)
                trank, tname = layer_of(target)
                if trank is not None and trank > rank:
                    print(f"not ok core/{rel} ({name}) includes core/{target} ({tname}), a layer above it")
                    failures += 1
    if files == 0:
        print(f"not ok no source files under {core}")
        return 1
    if failures == 0:
        print(f"ok core/: {files} files, no include reaches a layer above its own")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
