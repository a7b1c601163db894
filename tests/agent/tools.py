#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Small helpers for the trustlinkd end-to-end tests (test-only).

  tools.py freeport [pair]               print a free TCP port on 127.0.0.1
                                         ("pair": port P with P+1 free too)
  tools.py control SOCKET JSON [TIMEOUT] send one request line, print the reply line
  tools.py notify-listen SOCKET OUTFILE  datagram listener for NOTIFY_SOCKET:
                                         appends each message (one per line)
  tools.py emu-fault SOCKET SPEC         sends a FAULT request to atecc608-emu
                                         (SPEC as for --fault, or "clear");
                                         exits 1 with the emulator's message
                                         if it refuses
  tools.py control-raw SOCKET FILE       sends FILE's bytes as they are, prints
                                         every reply line until EOF or 2 s idle
"""
import json
import os
import socket
import struct
import sys


def freeport(pair=False):
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if pair:
            # swtpm's TCTI reaches the control channel on port + 1.
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", port + 1))
            except OSError:
                s.close()
                continue
            finally:
                t.close()
        s.close()
        print(port)
        return
    sys.exit("no free port pair on 127.0.0.1")


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


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("atecc608-emu closed the connection")
        buf += chunk
    return buf


def emu_fault(path, spec):
    """One EMU_WIRE_OP_FAULT request (drivers/atecc608/include/atecc608/
    emu_wire.h): op(1) addr(1) flags(1) reserved(1) length(u16 LE) payload;
    reply result(1) reserved(1) length(u16 LE) payload."""
    payload = spec.encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5.0)
    s.connect(path)
    s.sendall(struct.pack("<BBBBH", ord("F"), 0, 0, 0, len(payload)) + payload)
    result, _, length = struct.unpack("<BBH", _recv_exact(s, 4))
    message = _recv_exact(s, length).decode(errors="replace") if length else ""
    s.close()
    if result != 0:
        raise SystemExit("atecc608-emu refused FAULT %r: result %d %s" % (spec, result, message))


def control_raw(path, infile, idle=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(idle))
    s.connect(path)
    with open(infile, "rb") as f:
        s.sendall(f.read())
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    s.close()
    sys.stdout.write(buf.decode(errors="replace"))


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
        freeport(sys.argv[2:] == ["pair"])
    elif cmd == "control":
        control(*sys.argv[2:])
    elif cmd == "emu-fault":
        emu_fault(*sys.argv[2:])
    elif cmd == "control-raw":
        control_raw(*sys.argv[2:])
    elif cmd == "notify-listen":
        notify_listen(*sys.argv[2:])
    else:
        sys.exit("unknown command " + cmd)
