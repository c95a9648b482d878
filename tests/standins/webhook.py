#!/usr/bin/env python3
"""A webhook receiver for tests: records every request (headers and body) as a JSON line in
--log, and answers with the statuses given by --statuses in turn (the last one repeats).
Usage: webhook.py --log FILE [--port 0] [--statuses 500,200] [--delay-first SECS] [--echo]
                  [--redirect URL]
--redirect: every answer is a 307 to URL (GET and POST), after the request is logged.
--echo: every answer's body is the request itself (path, headers, body) as JSON, as a careless
receiver or a proxy's error page shows it.   Prints "PORT <n>" once listening."""
import argparse, json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--statuses", default="200")
    ap.add_argument("--delay-first", type=float, default=0.0, help="seconds the first answer waits")
    ap.add_argument("--echo", action="store_true", help="answer with the request")
    ap.add_argument("--redirect", default=None, help="answer 307 to this URL")
    args = ap.parse_args()
    statuses = [int(s) for s in args.statuses.split(",")]
    lock = threading.Lock()
    seen = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def echo(self, body):
            return json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                               "body": body.decode("utf-8", "replace")}).encode()

        def redirect(self):
            self.send_response(307)
            self.send_header("Location", args.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            # Heartbeat pings: logged, always 200.
            with lock:
                with open(args.log, "a") as f:
                    f.write(json.dumps({"method": "GET", "path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
            if args.redirect:
                return self.redirect()
            reply = self.echo(b"") if args.echo else b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                status = statuses[min(seen["n"], len(statuses) - 1)]
                seen["n"] += 1
                with open(args.log, "a") as f:
                    f.write(json.dumps({"path": self.path, "status": status, "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": body.decode("utf-8", "replace")}) + "\n")
            if args.redirect:
                return self.redirect()
            if seen["n"] == 1 and args.delay_first:
                import time
                time.sleep(args.delay_first)
            reply = self.echo(body) if args.echo else (b"ok" if status < 300 else b"nope")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *a: None  # a client that gave up (timeout test) is expected
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
