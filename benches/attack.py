#!/usr/bin/env python3
"""The attack of benches/attack.sh (started by benches/attack-adapter beside the daemon):
waits for the daemon's listeners (WORKDIR/state/api.addr and ping.addr), opens 300 slow clients
on both (tests/standins/slowclients.py: one header line every 2 s, from 127.0.0.2 and up), and
asks GET /healthz from 127.0.0.1 every 0.5 s with a 1 s bound, until SIGTERM. Then prints JSON:
the answer times (ms) and how many probes got no 200 within the bound.
Usage: attack.py WORKDIR"""
import json, os, signal, socket, subprocess, sys, time

wd = sys.argv[1]
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def addr(name):
    p = os.path.join(wd, "state", name)
    for _ in range(600):
        if os.path.exists(p) and open(p).read().strip():
            return open(p).read().strip()
        time.sleep(0.1)
    sys.exit(f"no {p}")


api, ping = addr("api.addr"), addr("ping.addr")
slow = subprocess.Popen([sys.executable, os.path.join(here, "tests/standins/slowclients.py"),
                         "--target", api, "--target", ping, "--count", "300", "--every", "2",
                         "--for", "3600"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
opened = slow.stdout.readline().strip()
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
times, failed, failures = [], 0, []
started = time.monotonic()
host, port = api.rsplit(":", 1)
while not stop:
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.settimeout(max(0.01, 1 - (time.monotonic() - t0)))
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        ok = data.split(b" ", 2)[1:2] == [b"200"]
        why = "" if ok else repr(data[:80])
    except OSError as e:
        ok, why = False, repr(e)
    took = (time.monotonic() - t0) * 1000
    if ok and took <= 1000:
        times.append(took)
    elif not os.path.exists(os.path.join(wd, "state", "api.addr")):
        break  # the daemon is stopping (it removes api.addr): the end of the measure, not a miss
    else:
        failed += 1
        failures.append({"at_s": round(t0 - started, 1), "took_ms": round(took, 1), "why": why})
    time.sleep(max(0, 0.5 - (time.monotonic() - t0)))
slow.kill()
times.sort()
pick = lambda p: round(times[min(len(times) - 1, int(p * (len(times) - 1) + 0.5))], 2) if times else None
print(json.dumps({"slow_clients": opened, "probes": len(times) + failed, "failed": failed, "failures": failures,
                  "healthz_ms": {"p50": pick(.5), "p99": pick(.99), "max": pick(1.0)}}))
