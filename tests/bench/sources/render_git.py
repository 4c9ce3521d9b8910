#!/usr/bin/env python3
"""Render from a git commit vs from a directory (issue target: within 10%).

Generates the render benchmark's overlay (N Deployments, default 2000), commits it,
then runs `sluice build overlays/prod` (directory) and `sluice build overlays/prod
--revision HEAD` (read straight from the object database) alternately, and prints the
median wall and CPU time of each and their ratio. A command, not a test:

    python3 tests/bench/sources/render_git.py [SLUICE] [N] [RUNS]
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sluice = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SLUICE", "build/sluice")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 9


def run(args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


with tempfile.TemporaryDirectory() as work:
    tree = os.path.join(work, "repo")
    subprocess.run([sys.executable, os.path.join(here, "..", "render", "gen.py"), str(n), tree],
                   check=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", "-C", tree] + cmd, check=True, env=env)
    path = os.path.join(tree, "overlays", "prod")
    d_wall, d_cpu, g_wall, g_cpu = [], [], [], []
    for _ in range(runs):
        w, c, out_dir = run([sluice, "build", path])
        d_wall.append(w)
        d_cpu.append(c)
        w, c, out_git = run([sluice, "build", path, "--revision", "HEAD"])
        g_wall.append(w)
        g_cpu.append(c)
        if out_dir != out_git:
            sys.exit("outputs differ between the directory and the git tree")
    dw, dc = statistics.median(d_wall), statistics.median(d_cpu)
    gw, gc = statistics.median(g_wall), statistics.median(g_cpu)
    print(f"render of {n} Deployments, median of {runs} runs (outputs identical)")
    print(f"{'source':<12} {'wall_s':>8} {'cpu_s':>8}")
    print(f"{'directory':<12} {dw:>8.3f} {dc:>8.3f}")
    print(f"{'git HEAD':<12} {gw:>8.3f} {gc:>8.3f}")
    print(f"git/directory: wall {gw / dw:.2f}x, cpu {gc / dc:.2f}x")
