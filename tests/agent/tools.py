#!/usr/bin/env python3
"""Small helpers for the trustlinkd end-to-end tests (test-only).

  tools.py freeport                      print a free TCP port on 127.0.0.1
  tools.py control SOCKET JSON [TIMEOUT] send one request line, print the reply line
  tools.py notify-listen SOCKET OUTFILE  datagram listener for NOTIFY_SOCKET:
                                         appends each message (one per line)
"""
import json
import os
import socket
import sys


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def control(path, request, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    s.connect(path)
    s.sendall(request.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    line = buf.decode().strip()
    json.loads(line)  # must be JSON
    print(line)


def notify_listen(path, outfile):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with open(outfile, "a", buffering=1) as out:
        out.write("LISTENING\n")
        while True:
            msg = s.recv(4096).decode(errors="replace")
            for line in msg.split("\n"):
                if line:
                    out.write(line + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "freeport":
        freeport()
    elif cmd == "control":
        control(*sys.argv[2:])
    elif cmd == "notify-listen":
        notify_listen(*sys.argv[2:])
    else:
        sys.exit("unknown command " + cmd)
