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
    w.daemon.send_signal(signal.SIGTERM)
    w.daemon.wait(timeout=30)
    print("webhook to new revision healthy in kubesim (ready delay 0.3 s), %d rounds:" % rounds)
    print("  median %.3f s, min %.3f s, max %.3f s" % (statistics.median(times), min(times),
                                                     max(times)))
finally:
    for p in rk.procs:
        if p.poll() is None:
            p.kill()
            p.wait()
