#!/usr/bin/env python3
"""Footprint of `sluice run`: idle RSS and CPU over a window (default 60 s)
with three environments, and the time from a signed webhook to the
environment's reconcile being logged.

Reconciles are simulated (--fake-reconcile), so the figures are the service
machinery's own: HTTP endpoint, scheduler, worker thread, metrics, sd_notify.
The real pipeline adds its fetch and apply work on top.

RSS counts every resident page, including shared library pages (libcrypto,
libc, gnutls through libmicrohttpd) that other processes share; PSS and the
private anonymous memory are printed beside it.

Usage: idle.py [SECONDS] [--budget]
  --budget: fail over 10 MiB RSS (the issue's target; SLUICE_IDLE_BUDGET_KIB
  overrides it) or over 1 % CPU
"""
import hashlib
import hmac
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SLUICE = os.environ["SLUICE"]
args = [a for a in sys.argv[1:] if not a.startswith("--")]
seconds = float(args[0]) if args else float(os.environ.get("SLUICE_BENCH_SECONDS", "60"))
budget = "--budget" in sys.argv
# The target; a build without lazy loading maps every library at start (~9 MiB).
budget_kib = int(os.environ.get("SLUICE_IDLE_BUDGET_KIB", str(10 * 1024)))
tick = os.sysconf("SC_CLK_TCK")
page = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def rss_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rollup_kib(pid, key):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


tmp = tempfile.mkdtemp(prefix="sluice-bench-")
secret = "bench-secret-0123456789abcdef0123456789"
with open(os.path.join(tmp, "gh.secret"), "w") as f:
    f.write(secret)
os.chmod(os.path.join(tmp, "gh.secret"), 0o600)
with open(os.path.join(tmp, "fake.json"), "w") as f:
    f.write('{"dev": {"result": "unchanged", "revision": "1111111", "ref": "main"}}')
with open(os.path.join(tmp, "sluice.yaml"), "w") as f:
    f.write("""source:
  url: file:///nonexistent
stateDir: %(tmp)s/state
http:
  listen: 127.0.0.1:0
  webhookRateLimit: 0
webhooks:
  - name: github
    type: github
    secretFile: %(tmp)s/gh.secret
environments:
  - name: dev
    path: environments/dev
    interval: 1m
  - name: stage
    path: environments/stage
    interval: 2m
  - name: prod
    path: environments/prod
    interval: 5m
""" % {"tmp": tmp})

log = open(os.path.join(tmp, "daemon.log"), "w")
p = subprocess.Popen([SLUICE, "run", "--config", os.path.join(tmp, "sluice.yaml"),
                      "--fake-reconcile", os.path.join(tmp, "fake.json")], stderr=log)
try:
    def logtext():
        with open(os.path.join(tmp, "daemon.log")) as f:
            return f.read()

    port = None
    for _ in range(200):
        m = re.search(r"msg=started .* port=(\d+)", logtext())
        if m and "msg=ready" in logtext():
            port = int(m.group(1))
            break
        time.sleep(0.05)
    if port is None:
        print("daemon did not start:\n" + logtext())
        sys.exit(1)
    time.sleep(1)  # let startup settle
    c0, t0 = cpu_seconds(p.pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(p.pid), time.monotonic()
    rss, hwm = rss_kib(p.pid), rss_kib(p.pid, "VmHWM")
    pss, anon = rollup_kib(p.pid, "Pss"), rollup_kib(p.pid, "Anonymous")
    cpu = c1 - c0
    pct = 100.0 * cpu / (t1 - t0)

    # Webhook to reconciled (simulated reconcile): 20 deliveries.
    lat = []
    body = b'{"ref":"refs/heads/main"}'
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for i in range(20):
        before = logtext().count("env=dev trigger=webhook")
        t = time.monotonic()
        req = urllib.request.Request("http://127.0.0.1:%d/hooks/github" % port, data=body,
                                     headers={"X-GitHub-Event": "push",
                                              "X-Hub-Signature-256": sig}, method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        while logtext().count("env=dev trigger=webhook") == before:
            if time.monotonic() - t > 5:
                print("webhook did not trigger a reconcile")
                sys.exit(1)
            time.sleep(0.001)
        lat.append((time.monotonic() - t) * 1000)
        time.sleep(0.05)
    lat.sort()
    print("sluice run, 3 environments, simulated reconciles, %.0f s window" % (t1 - t0))
    print("  idle RSS:   %.1f MiB (peak %.1f MiB; target 10 MiB: %s)"
          % (rss / 1024, hwm / 1024, "met" if rss <= 10 * 1024 else "NOT met"))
    if pss >= 0:
        print("  idle PSS:   %.1f MiB; private anonymous memory %.1f MiB" % (pss / 1024, anon / 1024))
    print("  idle CPU:   %.3f s over %.0f s = %.3f %%" % (cpu, t1 - t0, pct))
    print("  webhook to reconcile logged: median %.1f ms, max %.1f ms (20 deliveries)"
          % (lat[len(lat) // 2], lat[-1]))
    ok = True
    if budget:
        if rss > budget_kib:
            print("FAIL: idle RSS over %.1f MiB" % (budget_kib / 1024))
            ok = False
        if pct > 1.0:
            print("FAIL: idle CPU over 1 %")
            ok = False
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=10) != 0:
        print("FAIL: daemon did not stop cleanly")
        ok = False
    sys.exit(0 if ok else 1)
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
