#!/usr/bin/env python3
"""Time from a signed webhook to the new revision being healthy in kubesim.

`sluice run` with the real pipeline (git repository from the example
environments, kubesim as the cluster with a 300 ms simulated rollout). Each
round commits a new replica count for dev, sends the webhook and waits until
kubesim's Deployment has it and the daemon logged the reconcile as applied.

Usage: webhook_kubesim.py [ROUNDS]   (default 10)
"""
import os
import re
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "integration", "daemon"))
import run_kubesim as rk  # noqa: E402

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
if not os.path.exists(rk.KUBESIM):
    print("SKIPPED: kubesim is not built")
    sys.exit(77)
try:
    w = rk.World()
    w.setup()
    w.write_config(1)  # no receiver: notifications fail fast and are not measured
    w.start()
    if not rk.wait_for(lambda: w.get("/readyz")[0] == 200, 120):
        print("daemon not ready:\n" + w.logtext()[-2000:])
        sys.exit(1)
    base = w.kz()
    times = []
    for i in range(rounds):
        count = 2 + i % 3
        w.set_kz(base.replace("  - name: web\n    count: 1", "  - name: web\n    count: %d" % count))
        rev = w.commit("dev: %d web replicas (round %d)" % (count, i))
        t = time.monotonic()
        w.webhook()
        pat = "env=dev trigger=webhook result=applied revision=%s" % rev
        if not rk.wait_for(lambda: pat in w.logtext() and
                           w.web()["spec"]["replicas"] == count, 30, 0.005):
            print("round %d: not applied:\n%s" % (i, w.logtext()[-2000:]))
            sys.exit(1)
        times.append(time.monotonic() - t)
        # let stage and prod (also polled by the webhook) finish before the next round
        rk.wait_for(lambda: len(re.findall(r"env=prod trigger=webhook", w.logtext())) > i, 30)
    # The real daemon's footprint once idle: after the rounds above (three environments
    # reconciled, each in its own worker process, and notifications attempted).
    idle = float(os.environ.get("SLUICE_BENCH_IDLE_SECONDS", "10"))
    rk.wait_for(lambda: "level=debug" not in w.logtext()[-200:], 1)
    time.sleep(1.0)
    pid = w.daemon.pid
    tick = os.sysconf("SC_CLK_TCK")

    def status(key):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return -1

    def rollup(key):
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return -1

    def cpu():
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    c0 = cpu()
    time.sleep(idle)
    c1 = cpu()
    rss, pss, anon = status("VmRSS"), rollup("Pss"), rollup("Anonymous")
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    libs = [n for n in ("libcurl", "libgit2", "libmicrohttpd") if n in maps]
    w.daemon.send_signal(signal.SIGTERM)
    w.daemon.wait(timeout=30)
    print("webhook to new revision healthy in kubesim (ready delay 0.3 s), %d rounds:" % rounds)
    print("  median %.3f s, min %.3f s, max %.3f s" % (statistics.median(times), min(times),
                                                     max(times)))
    print("daemon idle after the rounds (real pipeline, 3 environments, %.0f s window):" % idle)
    print("  RSS %.1f MiB, PSS %.1f MiB, anonymous %.1f MiB, CPU %.3f s; loaded: %s" % (
        rss / 1024, pss / 1024, anon / 1024, c1 - c0, ", ".join(libs) or "none of libcurl/libgit2/libmicrohttpd"))
finally:
    for p in rk.procs:
        if p.poll() is None:
            p.kill()
            p.wait()
