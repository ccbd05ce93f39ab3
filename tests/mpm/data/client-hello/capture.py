#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# capture.py NAME CLIENT-ARGV… — record the ClientHello a real client sends, into NAME.bin.
#
# Listens on a loopback port chosen at run time, runs the client with {port} in its arguments
# replaced, reads the TLS records until the handshake message they carry is complete, writes those
# records (headers included, as the client framed them) and closes: the client sees the connection
# end and gives up. How the files in this folder were made (see README.md); not run by the tests.
import socket
import subprocess
import sys


def read_hello(conn):
    data = b""
    hs = b""
    while True:
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            chunk = conn.recv(65536)
            if not chunk:
                raise SystemExit("client closed before its hello was complete")
            data += chunk
        # data holds complete records from the start: take the handshake bytes of all of them
        hs, off = b"", 0
        while off + 5 <= len(data):
            n = int.from_bytes(data[off + 3:off + 5], "big")
            if off + 5 + n > len(data):
                break
            hs += data[off + 5:off + 5 + n]
            off += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            return data[:off]
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("client closed before its hello was complete")
        data += chunk


def main():
    name, argv = sys.argv[1], sys.argv[2:]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    argv = [a.replace("{port}", str(port)) for a in argv]
    client = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    conn, _ = srv.accept()
    hello = read_hello(conn)
    conn.close()
    client.wait(timeout=10)
    with open(name + ".bin", "wb") as f:
        f.write(hello)
    print(f"{name}.bin: {len(hello)} bytes")


main()
