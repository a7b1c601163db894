#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Watches a fleet of trustlinkd control sockets (benchmark helper).

  fleet_watch.py wait-state STATE SINCE TIMEOUT SOCKET...
      polls every socket's status every 10 ms until all report STATE;
      prints the seconds from SINCE (a time.time() value) to the moment
      the last one did, or exits 1 after TIMEOUT seconds naming the
      stragglers and their states.
  fleet_watch.py cpu PID...
      prints the summed user+system CPU seconds of each PID, one a line.
"""
import json
import os
import socket
import sys
import time


def request(path, req, timeout=2.0):
    """One request on a control socket: the reply object (raises OSError
    or ValueError)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf.decode())
    finally:
        s.close()


def status(path):
    try:
        return request(path, {"cmd": "status"})
    except (OSError, ValueError):
        return {"state": "unreachable"}


def wait_state(state, since, timeout, sockets):
    pending = set(sockets)
    deadline = time.time() + timeout
    last = {}
    while pending:
        for path in list(pending):
            st = status(path)
            last[path] = st.get("state")
            if st.get("state") == state:
                pending.discard(path)
        if not pending:
            break
        if time.time() > deadline:
            for path in sorted(pending):
                print(f"not {state}: {path} ({last.get(path)})", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.01)
    print(f"{time.time() - since:.3f}")


def cpu(pids):
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the command name: state is field 3, utime 14, stime 15.
        print(f"{(int(fields[11]) + int(fields[12])) / tick:.2f}")


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "wait-state":
        wait_state(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "cpu":
        cpu(sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
