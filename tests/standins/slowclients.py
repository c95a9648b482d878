#!/usr/bin/env python3
"""Slow HTTP clients, as a hostile peer sends them: each connection sends a request line and
then one header line every few seconds, never ending its head. They come from loopback
addresses other than 127.0.0.1 (127.0.0.2 and up, one per --per-address connections), so a
per-address cap does not refuse a health probe from 127.0.0.1.

Usage: slowclients.py --target 127.0.0.1:PORT [--target ...] --count N [--every S]
         [--per-address K] [--for S]
Opens N connections spread over the targets (round robin), prints "OPENED <n>" once it tried
them all, then keeps them going; every second it prints "OPEN <n>", the connections the
server has not closed yet. Ends after --for seconds (default 60), or on stdin's end.
"""
import argparse, select, socket, sys, threading, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", action="append", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("--per-address", type=int, default=4)
    ap.add_argument("--for", dest="lasting", type=float, default=60.0)
    args = ap.parse_args()
    targets = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in args.target]
    conns = []
    for i in range(args.count):
        host, port = targets[i % len(targets)]
        n = 2 + i // args.per_address
        src = "127.0.%d.%d" % (n // 254, 1 + n % 254) if n >= 254 else "127.0.0.%d" % n
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.bind((src, 0))
            s.connect((host, port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.setblocking(False)
            conns.append(s)
        except OSError:
            s.close()
    print("OPENED %d" % len(conns), flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    end = time.time() + args.lasting
    next_send = time.time() + args.every
    while not stop.is_set() and time.time() < end:
        if time.time() >= next_send:
            next_send += args.every
            for s in list(conns):
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    conns.remove(s)
                    s.close()
        # A closed connection reads as end of file (or an error).
        readable = select.select(conns, [], [], 0)[0] if conns else []
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                conns.remove(s)
                s.close()
        print("OPEN %d" % len(conns), flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main()
