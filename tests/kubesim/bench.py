#!/usr/bin/env python3
"""Throughput of kubesim over one keep-alive HTTP connection.

usage: bench.py KUBESIM_BINARY [N]

Starts kubesim on 127.0.0.1 (plain HTTP, anonymous), then times N
server-side applies that create ConfigMaps, N no-op re-applies, N GETs and
LISTs of all N objects (in pages of 500). Prints requests per second.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    tmp = tempfile.mkdtemp(prefix="kubesim-bench-")
    pf = os.path.join(tmp, "port")
    p = subprocess.Popen([binary, "--port-file", pf], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", int(open(pf).read()))

        def req(method, path, body=None, ctype="application/json"):
            conn.request(method, path, body=body, headers={"Content-Type": ctype} if body else {})
            r = conn.getresponse()
            data = r.read()
            if r.status >= 300:
                raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
            return data

        def cm(i):
            return json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": f"cm-{i}", "namespace": "default", "labels": {"bench": "yes"}},
                               "data": {"key": "value-%d" % i, "other": "x" * 200}})

        def timed(label, fn):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            print(f"{label:<28} {n:>6} requests  {dt:7.3f}s  {n / dt:9.0f} req/s")

        apply = "application/apply-patch+yaml"
        timed("apply (create)", lambda: [req("PATCH", f"/api/v1/namespaces/default/configmaps/cm-{i}?fieldManager=bench", cm(i), apply) for i in range(n)])
        timed("apply (no-op)", lambda: [req("PATCH", f"/api/v1/namespaces/default/configmaps/cm-{i}?fieldManager=bench", cm(i), apply) for i in range(n)])
        timed("get", lambda: [req("GET", f"/api/v1/namespaces/default/configmaps/cm-{i}") for i in range(n)])

        def list_all():
            cont, pages = "", 0
            while True:
                data = json.loads(req("GET", f"/api/v1/namespaces/default/configmaps?labelSelector=bench%3Dyes&limit=500&continue={cont}"))
                pages += 1
                cont = data["metadata"].get("continue", "")
                if not cont:
                    return pages
        t0 = time.perf_counter()
        pages = list_all()
        print(f"{'list (pages of 500)':<28} {pages:>6} requests  {time.perf_counter() - t0:7.3f}s  ({n} objects)")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
