#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Loopback network peers for trustlinkd's end-to-end tests (test-only).

  net_peers.py alpn-front PORTFILE TARGET_PORT PROTOCOL LOG
      a TCP front on 127.0.0.1 that reads each client's TLS ClientHello,
      and forwards the connection (bytes unchanged, TLS end to end) to
      127.0.0.1:TARGET_PORT only when its ALPN extension offers PROTOCOL;
      otherwise it closes it, as a broker's port 443 does without the
      right ALPN. Logs "accepted [names]" or "refused [names]" per client.
  net_peers.py socks5 PORTFILE USER PASSWORD LOG
      a SOCKS5 proxy on 127.0.0.1 (RFC 1928) requiring user/password
      authentication (RFC 1929), connecting only to loopback addresses.
      Logs "auth ok USER", "auth refused USER", "connect HOST:PORT".

Each writes its listening port to PORTFILE once it listens, and runs
until killed.
"""
import socket
import struct
import sys
import threading


def log_line(path, text):
    with open(path, "a") as f:
        f.write(text + "\n")


def listen(portfile):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    return srv


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed")
        buf += chunk
    return buf


def relay(a, b):
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    a.close()
    b.close()


def client_hello_alpn(hello):
    """ALPN names offered in a ClientHello handshake message (bytes)."""
    if len(hello) < 4 or hello[0] != 1:
        raise ValueError("not a ClientHello")
    p = 4 + 2 + 32                                   # header, version, random
    p += 1 + hello[p]                                # session id
    p += 2 + struct.unpack(">H", hello[p:p + 2])[0]  # cipher suites
    p += 1 + hello[p]                                # compression methods
    if p + 2 > len(hello):
        return []
    end = p + 2 + struct.unpack(">H", hello[p:p + 2])[0]
    p += 2
    while p + 4 <= end:
        ext_type, ext_len = struct.unpack(">HH", hello[p:p + 4])
        body = hello[p + 4:p + 4 + ext_len]
        p += 4 + ext_len
        if ext_type != 16:
            continue
        names, q = [], 2
        while q < len(body):
            n = body[q]
            names.append(body[q + 1:q + 1 + n].decode("ascii", "replace"))
            q += 1 + n
        return names
    return []


def alpn_front(portfile, target_port, protocol, log):
    srv = listen(portfile)

    def handle(conn):
        try:
            header = recv_exact(conn, 5)
            if header[0] != 22:
                raise ValueError("not a TLS handshake record")
            record = recv_exact(conn, struct.unpack(">H", header[3:5])[0])
            names = client_hello_alpn(record)
        except (ValueError, EOFError, OSError, IndexError, struct.error) as e:
            log_line(log, f"refused (bad ClientHello: {e})")
            conn.close()
            return
        if protocol not in names:
            log_line(log, f"refused {names}")
            conn.close()
            return
        log_line(log, f"accepted {names}")
        up = socket.create_connection(("127.0.0.1", int(target_port)))
        up.sendall(header + record)
        relay(conn, up)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def socks5(portfile, user, password, log):
    srv = listen(portfile)

    def handle(conn):
        try:
            ver, n = recv_exact(conn, 2)
            methods = recv_exact(conn, n)
            if ver != 5 or 2 not in methods:
                log_line(log, f"refused methods {list(methods)}")
                conn.sendall(b"\x05\xff")
                conn.close()
                return
            conn.sendall(b"\x05\x02")
            sub, ulen = recv_exact(conn, 2)
            got_user = recv_exact(conn, ulen).decode("utf-8", "replace")
            plen = recv_exact(conn, 1)[0]
            got_pass = recv_exact(conn, plen).decode("utf-8", "replace")
            if sub != 1 or got_user != user or got_pass != password:
                log_line(log, f"auth refused {got_user}")
                conn.sendall(b"\x01\x01")
                conn.close()
                return
            conn.sendall(b"\x01\x00")
            log_line(log, f"auth ok {got_user}")
            ver, cmd, _, atyp = recv_exact(conn, 4)
            if atyp == 1:
                host = socket.inet_ntoa(recv_exact(conn, 4))
            elif atyp == 3:
                host = recv_exact(conn, recv_exact(conn, 1)[0]).decode("ascii", "replace")
            elif atyp == 4:
                host = socket.inet_ntop(socket.AF_INET6, recv_exact(conn, 16))
            else:
                raise ValueError("bad address type")
            port = struct.unpack(">H", recv_exact(conn, 2))[0]
            log_line(log, f"connect {host}:{port}")
            # Loopback only: this proxy never reaches beyond the machine.
            if ver != 5 or cmd != 1 or host not in ("127.0.0.1", "localhost", "::1"):
                conn.sendall(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")
                conn.close()
                return
            up = socket.create_connection((host, port))
            conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack(">H", port))
            relay(conn, up)
        except (ValueError, EOFError, OSError) as e:
            log_line(log, f"error {e}")
            conn.close()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "alpn-front":
        alpn_front(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "socks5":
        socks5(*sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
