#!/usr/bin/env python3
"""A stand-in for the OpenClaw gateway's HTTP side, reproducing the answers recorded in
shared/fixtures/openclaw-gateway-observed.md for two versions:

  2026.1.30  every path (the guide's /health and /api/health included) -> 200 text/html, the web UI
  2026.9.6   JSON /health, /healthz, /readyz (503 until ready), /startupz; 404 for the guide's paths

Usage: gateway.py --version 2026.9.6 [--port 0] [--ready-after SECONDS] [--token T]
Prints "PORT <n>" on stdout once listening. Test controls (not in the real gateway):
  GET /__test/slow?ms=N   answers /readyz after N ms from now on (latency)
  GET /__test/hang        never answers (connection stays open)
"""
import argparse, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

UI = b"<!doctype html><html><head><title>OpenClaw Control</title></head><body><div id=app></div></body></html>"
STARTED = time.time()
STATE = {"delay_ms": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default="2026.9.6", choices=["2026.1.30", "2026.9.6"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-after", type=float, default=0.0)
    ap.add_argument("--token", default="test-token")
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, ctype, body):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def json(self, code, obj):
            self.send(code, "application/json; charset=utf-8", json.dumps(obj).encode())

        def do_GET(self):
            url = urlparse(self.path)
            path = url.path
            if path == "/__test/slow":
                STATE["delay_ms"] = int(parse_qs(url.query).get("ms", ["0"])[0])
                return self.send(200, "text/plain", b"ok")
            if path == "/__test/hang":
                time.sleep(3600)
                return
            if args.version == "2026.1.30":
                return self.send(200, "text/html; charset=utf-8", UI)
            uptime = int((time.time() - STARTED) * 1000)
            if path in ("/health", "/healthz"):
                return self.json(200, {"ok": True, "status": "live"})
            if path in ("/ready", "/readyz"):
                if STATE["delay_ms"]:
                    time.sleep(STATE["delay_ms"] / 1000)
                ready = time.time() - STARTED >= args.ready_after
                body = {"ready": ready, "failing": [] if ready else ["startup"], "uptimeMs": uptime,
                        "eventLoop": {"degraded": False, "degradedSinceMs": None, "reasons": [], "intervalMs": 1005.8,
                                      "delayP99Ms": 40.6, "delayMaxMs": 40.6, "utilization": 0.501, "cpuCoreRatio": 0.868}}
                return self.json(200 if ready else 503, body)
            if path == "/startupz":
                return self.json(200, {"ok": True, "status": "started", "version": args.version, "uptimeMs": uptime})
            if path.startswith("/api/"):
                return self.send(404, "text/plain", b"Not Found")
            return self.send(200, "text/html; charset=utf-8", UI)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if urlparse(self.path).path == "/tools/invoke":
                if self.headers.get("Authorization") != f"Bearer {args.token}":
                    return self.json(401, {"ok": False, "error": "unauthorized"})
                req = json.loads(body or b"{}")
                return self.json(200, {"ok": True, "tool": req.get("tool"), "result": {"sessions": []}})
            return self.send(404, "text/plain", b"Not Found")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
