#!/usr/bin/env python3
"""Git source benchmark (prints figures; asserts nothing about speed).

On a generated repository with 10,000 commits and 2,000 tags (1,000 rc tags,
1,000 annotated release tags) and a 2,000-object overlay, over file:// and
smart HTTP (git http-backend on 127.0.0.1):
  * idle poll (no change): sluice's poll vs `git ls-remote`
  * incremental fetch after one new commit: sluice's poll vs `git fetch` into a
    mirror clone
  * reading every file of the commit through the tree interface: from the
    object database vs from a checked-out directory

Environment: BENCH_POLL, BENCH_TREE (the two drivers), optional BENCH_RUNS.
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HTTP_SERVER = os.path.join(HERE, "..", "..", "integration", "sources", "git_http_server.py")
COMMITS, TAGS, OBJECTS = 10000, 2000, 2000


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def timed(cmd, **kw):
    t = time.perf_counter()
    p = run(cmd, **kw)
    return (time.perf_counter() - t) * 1000.0, p.stdout.decode()


def generate(origin):
    """A bare repository built with git fast-import."""
    run(["git", "init", "-q", "--bare", "-b", "main", origin])
    out = []
    def data(b):
        out.append(b"data %d\n" % len(b))
        out.append(b + b"\n")
    tagged = {}
    step = COMMITS // (TAGS // 2)
    for k in range(TAGS // 2):
        tagged[(k + 1) * step] = "%d.%d.0" % (k // 100 + 1, k % 100)
    for i in range(1, COMMITS + 1):
        out.append(b"commit refs/heads/main\nmark :%d\n" % i)
        out.append(b"committer Bench <bench@example.com> %d +0000\n" % (1700000000 + i))
        data(b"commit %d" % i)
        if i > 1:
            out.append(b"from :%d\n" % (i - 1))
        if i == 1:
            for o in range(OBJECTS):
                out.append(b"M 100644 inline overlay/cm-%04d.yaml\n" % o)
                data(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\n"
                     b"  namespace: bench\ndata:\n  key: value-%d\n" % (o, o))
        out.append(b"M 100644 inline files/f%03d.txt\n" % (i % 100))
        data(b"change %d\n" % i)
        if i in tagged:
            v = tagged[i].encode()
            out.append(b"reset refs/tags/v%s-rc.1\nfrom :%d\n" % (v, i))
    for i, v in sorted(tagged.items()):
        out.append(b"tag v%s\nfrom :%d\n" % (v.encode(), i))
        out.append(b"tagger Bench <bench@example.com> %d +0000\n" % (1700000000 + i))
        data(b"release " + v.encode())
    subprocess.run(["git", "-C", origin, "fast-import", "--quiet"], input=b"".join(out), check=True)
    run(["git", "-C", origin, "gc", "-q"])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def median(xs):
    return statistics.median(xs)


def main():
    poll, tree = os.environ["BENCH_POLL"], os.environ["BENCH_TREE"]
    runs = int(os.environ.get("BENCH_RUNS", "9"))
    tmp = tempfile.mkdtemp(prefix="sluice-bench-sources.")
    server = None
    env = dict(os.environ, HOME=tmp, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    try:
        srv = os.path.join(tmp, "srv")
        os.makedirs(srv)
        origin = os.path.join(srv, "origin.git")
        t = time.perf_counter()
        generate(origin)
        gen_ms = (time.perf_counter() - t) * 1000
        work = os.path.join(tmp, "work")
        run(["git", "clone", "-q", origin, work], env=env)
        run(["git", "-C", work, "config", "user.email", "b@e"])
        run(["git", "-C", work, "config", "user.name", "B"])
        nrefs = len(run(["git", "-C", origin, "for-each-ref"]).stdout.splitlines())
        print("repository: %d commits, %d refs (%d tags), %d-object overlay, generated in %.0f ms"
              % (COMMITS, nrefs, TAGS, OBJECTS, gen_ms))

        port = free_port()
        ready = os.path.join(tmp, "ready")
        server = subprocess.Popen([sys.executable, HTTP_SERVER, "--root", srv, "--port", str(port),
                                   "--log", os.path.join(tmp, "http.log"), "--ready", ready])
        for _ in range(200):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        urls = [("file", "file://" + origin), ("http", "http://127.0.0.1:%d/origin.git" % port)]
        counter = [0]
        print()
        print("%-6s %-28s %12s %12s %8s" % ("", "operation", "sluice ms", "git ms", "ratio"))
        for name, url in urls:
            cache = os.path.join(tmp, "cache-" + name)
            mirror = os.path.join(tmp, "mirror-" + name)
            first, out = timed([poll, cache, url])
            assert "changed=1" in out, out
            git_first, _ = timed(["git", "clone", "-q", "--mirror", url, mirror], env=env)
            print("%-6s %-28s %12.1f %12.1f %8.2f" % (name, "initial fetch", first, git_first,
                                                      first / git_first))
            s_idle, g_idle = [], []
            for _ in range(runs):
                ms, out = timed([poll, cache, url])
                assert "changed=0" in out, out
                s_idle.append(ms)
                g_idle.append(timed(["git", "ls-remote", url], env=env)[0])
            print("%-6s %-28s %12.1f %12.1f %8.2f" % (name, "idle poll vs ls-remote",
                                                      median(s_idle), median(g_idle),
                                                      median(s_idle) / median(g_idle)))
            _, out = timed([poll, cache, url, str(runs)])
            inproc = float(out.split("inproc_ms=")[1])
            print("%-6s %-28s %12.1f %12.1f %8.2f" % (name, "idle poll in-process (daemon)",
                                                      inproc, median(g_idle),
                                                      inproc / median(g_idle)))
            s_inc, g_inc = [], []
            for _ in range(runs):
                counter[0] += 1
                with open(os.path.join(work, "new.txt"), "w") as f:
                    f.write("new %d\n" % counter[0])
                run(["git", "-C", work, "add", "new.txt"], env=env)
                run(["git", "-C", work, "commit", "-qm", "new %d" % counter[0]], env=env)
                run(["git", "-C", work, "push", "-q", "origin", "main"], env=env)
                ms, out = timed([poll, cache, url])
                assert "changed=1" in out, out
                s_inc.append(ms)
                g_inc.append(timed(["git", "--git-dir", mirror, "fetch", "-q"], env=env)[0])
            print("%-6s %-28s %12.1f %12.1f %8.2f" % (name, "one new commit vs git fetch",
                                                      median(s_inc), median(g_inc),
                                                      median(s_inc) / median(g_inc)))
        print()
        print("medians of %d runs; each figure includes process start-up "
              "(bench_poll vs the git command)" % runs)
        _, out = timed([tree, origin, "main", work, "5"])
        kv = dict(x.split("=") for x in out.split())
        print("tree read of the commit (%s files, %s bytes): git object database %s ms, "
              "directory %s ms, ratio %s (best of 5)"
              % (kv["files"], kv["bytes"], kv["git_ms"], kv["dir_ms"], kv["ratio"]))
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
