#!/usr/bin/env python3
"""A stand-in for an Ollama server that follows Ollama's documented REST API (docs/api.md):
/api/generate (load with no prompt, unload with keep_alive 0, streaming NDJSON or one JSON object,
timings in nanoseconds), /api/embed, /api/ps, /api/tags, and error bodies {"error": "..."}.
No Ollama can be installed here; clawcron's Ollama kinds were verified against this, not a live one.

Usage: ollama.py [--port 0] [--models llama3.2:3b,nomic-embed-text] [--start-after S]
                 [--tokens-per-s 40] [--fail N] [--hang]
  --start-after S   refuse connections for S seconds (Ollama still starting at login)
  --fail N          answer the first N requests with 500 {"error": ...}
  --hang            accept requests and never answer
Prints "PORT <n>" on stdout once it has a port (before --start-after elapses).
"""
import argparse, json, socket, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = "The sea is calm tonight and the tide is full under a quiet moon .".split()


def keep_alive_seconds(v):
    """Ollama's keep_alive: a number of seconds, or a Go duration string; negative keeps forever."""
    if isinstance(v, (int, float)):
        return float(v)
    total, num = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    i = 0
    v = str(v).strip()
    if v.startswith("-"):
        return -1.0
    while i < len(v):
        if v[i].isdigit() or v[i] == ".":
            num += v[i]; i += 1; continue
        unit = "ms" if v[i:i + 2] == "ms" else v[i]
        total += float(num or 0) * units[unit]; num = ""; i += len(unit)
    return total + (float(num) if num else 0.0)


# Tag -> (size in bytes, parameter size), as Ollama's library lists llama3.2's.
PARAMS = {"1b": (1_321_098_329, "1.2B"), "3b": (2_019_393_189, "3.2B")}


def now():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    # Real tags (llama3.2 comes in 1b and 3b), with their sizes as `ollama list` shows them.
    ap.add_argument("--models", default="llama3.2:3b,nomic-embed-text")
    ap.add_argument("--start-after", type=float, default=0.0)
    ap.add_argument("--tokens-per-s", type=float, default=40.0)
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--hang", action="store_true")
    args = ap.parse_args()
    def size(m):
        if "embed" in m:
            return 274_000_000
        for tag, (n, _) in PARAMS.items():
            if m.endswith(":" + tag):
                return n
        return 4_920_000_000

    def params(m):
        for tag, (_, p) in PARAMS.items():
            if m.endswith(":" + tag):
                return p
        return "8.0B"

    models = {m: {"size": size(m), "params": params(m)} for m in args.models.split(",") if m}
    loaded = {}  # name -> expires_at
    lock = threading.Lock()
    counters = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def gate(self):
            with lock:
                counters["requests"] += 1
                n = counters["requests"]
            if args.hang:
                time.sleep(3600)
                return False
            if n <= args.fail:
                self.reply(500, {"error": "llama runner process has terminated: exit status 2"})
                return False
            return True

        def read_json(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError as e:
                self.reply(400, {"error": f"invalid character in request body: {e}"})
                return None

        def model_entry(self, name, expires=None):
            m = {"name": name, "model": name, "size": models[name]["size"], "digest": "sha256:" + "0" * 64,
                 "details": {"format": "gguf", "family": "llama", "parameter_size": models[name]["params"], "quantization_level": "Q4_K_M"}}
            if expires is not None:
                m["expires_at"] = expires
                m["size_vram"] = models[name]["size"]
            else:
                m["modified_at"] = "2026-11-01T10:00:00Z"
            return m

        def do_GET(self):
            if not self.gate():
                return
            if self.path == "/api/tags":
                return self.reply(200, {"models": [self.model_entry(n) for n in models]})
            if self.path == "/api/ps":
                with lock:
                    return self.reply(200, {"models": [self.model_entry(n, e) for n, e in loaded.items()]})
            if self.path == "/":
                body = b"Ollama is running"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return self.wfile.write(body)
            self.reply(404, {"error": "404 page not found"})

        def do_POST(self):
            if not self.gate():
                return
            req = self.read_json()
            if req is None:
                return
            name = req.get("model", "")
            if self.path not in ("/api/generate", "/api/embed"):
                return self.reply(404, {"error": "404 page not found"})
            if name not in models:
                return self.reply(404, {"error": f"model \"{name}\" not found, try pulling it first"})
            keep = req.get("keep_alive", "5m")
            if keep in (0, "0", "0s"):
                with lock:
                    loaded.pop(name, None)
                return self.reply(200, {"model": name, "created_at": now(), "response": "", "done": True, "done_reason": "unload"})
            load_ns = 0
            with lock:
                if name not in loaded:
                    load_ns = 250_000_000
                secs = keep_alive_seconds(keep)
                until = datetime.now(timezone.utc).timestamp() + (secs if secs >= 0 else 10 * 365 * 86400)
                loaded[name] = datetime.fromtimestamp(until, timezone.utc).isoformat().replace("+00:00", "Z")
            if load_ns:
                time.sleep(load_ns / 1e9)
            if self.path == "/api/embed":
                inputs = req.get("input", "")
                inputs = inputs if isinstance(inputs, list) else [inputs]
                return self.reply(200, {"model": name, "embeddings": [[0.01, -0.02, 0.03] for _ in inputs],
                                        "total_duration": load_ns + 5_000_000, "load_duration": load_ns, "prompt_eval_count": len(inputs)})
            prompt = req.get("prompt")
            if not prompt:
                return self.reply(200, {"model": name, "created_at": now(), "response": "", "done": True, "done_reason": "load"})
            n_tokens = min(int((req.get("options") or {}).get("num_predict", 16)), 64)
            per_token = 1.0 / args.tokens_per_s
            prompt_tokens = len(prompt.split()) + 4
            prompt_eval_ns = prompt_tokens * 2_000_000
            time.sleep(prompt_eval_ns / 1e9)
            final = {"model": name, "created_at": now(), "response": "", "done": True, "done_reason": "stop",
                     "context": [1, 2, 3], "total_duration": 0, "load_duration": load_ns,
                     "prompt_eval_count": prompt_tokens, "prompt_eval_duration": prompt_eval_ns,
                     "eval_count": n_tokens, "eval_duration": int(n_tokens * per_token * 1e9)}
            final["total_duration"] = load_ns + prompt_eval_ns + final["eval_duration"]
            if req.get("stream", True):
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                def chunk(obj):
                    data = (json.dumps(obj) + "\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                for i in range(n_tokens):
                    time.sleep(per_token)
                    chunk({"model": name, "created_at": now(), "response": WORDS[i % len(WORDS)] + " ", "done": False})
                chunk(final)
                self.wfile.write(b"0\r\n\r\n")
                return
            time.sleep(n_tokens * per_token)
            final["response"] = " ".join(WORDS[i % len(WORDS)] for i in range(n_tokens))
            self.reply(200, final)

    # Reserve the port first so the test knows it, then refuse connections until --start-after.
    probe = socket.socket()
    probe.bind(("127.0.0.1", args.port))
    port = probe.getsockname()[1]
    print(f"PORT {port}", flush=True)
    probe.close()
    time.sleep(args.start_after)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
