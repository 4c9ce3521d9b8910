"""Shared harness of the cross-cutting end-to-end tests (python3 stdlib only).

One Harness is one scratch world: a temporary directory holding a git repository
made from the example environments/, a kubesim on a free loopback port, a
sluice configuration and state directory, and a private TMPDIR/HOME for every
sluice process. Every command's stdout and stderr are kept as files under
out/ so that a test can scan them afterwards. close() kills what was started
and removes the directory.
"""
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kubesim_lib import Kubesim, die_with_parent  # noqa: E402

SLUICE = os.environ["SLUICE"]
SRC = os.environ["SLUICE_SRC"]
BUILD = os.environ["SLUICE_BUILD"]
KUBESIM = os.environ.get("KUBESIM") or os.path.join(BUILD, "kubesim")


def _term_to_exit(signum, frame):
    raise SystemExit(128 + signum)  # run the finally blocks: kill children, remove files


class Checks:
    """ok/FAIL lines; failures are kept per group so that one script can back two tests."""

    def __init__(self):
        self.failures = []  # (group, what)

    def __call__(self, cond, what, detail="", group="main"):
        tag = "" if group == "main" else f" [{group}]"
        if cond:
            print(f"ok   {what}{tag}", flush=True)
        else:
            print(f"FAIL {what}{tag}" + (f"\n     {detail}" if detail else ""), flush=True)
            self.failures.append((group, what))
        return cond

    def summary(self, name, group=None):
        """Exit status: 1 if a check of group (every group when None) failed."""
        counted = [w for g, w in self.failures if group is None or g == group]
        others = [(g, w) for g, w in self.failures if group is not None and g != group]
        for g, w in others:
            print(f"note not counted here (test of group {g}): FAIL {w}")
        if counted:
            print(f"{name}: {len(counted)} check(s) failed:")
            for w in counted:
                print(f"  - {w}")
            return 1
        print(f"{name}: all checks passed")
        return 0


class Result:
    def __init__(self, rc, out, err, name):
        self.rc, self.out, self.err, self.name = rc, out, err, name

    @property
    def both(self):
        return self.out + self.err

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return None

    def tail(self, n=25):
        lines = (self.out + "\n--- stderr ---\n" + self.err).splitlines()
        return "\n     ".join(lines[-n:])


class Harness:
    def __init__(self, prefix):
        signal.signal(signal.SIGTERM, _term_to_exit)
        signal.signal(signal.SIGINT, _term_to_exit)
        self.top = tempfile.mkdtemp(prefix=prefix)
        # What sluice may write to: its own temp dir, home, state dir; and the
        # captured output. kubesim's files live apart (the cluster holds the
        # Secret values legitimately).
        self.tmp = os.path.join(self.top, "tmp")
        self.home = os.path.join(self.top, "home")
        self.state = os.path.join(self.top, "state")
        self.outdir = os.path.join(self.top, "out")
        self.ksdir = os.path.join(self.top, "kubesim")
        self.repo = os.path.join(self.top, "repo")
        self.secretdir = os.path.join(self.top, "secret")  # identity; plaintext never here
        for d in (self.tmp, self.home, self.outdir, self.ksdir, self.secretdir):
            os.makedirs(d)
        os.chmod(self.secretdir, 0o700)
        self.kubeconfig = os.path.join(self.ksdir, "kubeconfig")
        self.cfg = os.path.join(self.top, "sluice.yaml")
        self.identity = os.path.join(self.secretdir, "age.key")
        self.kubesim = None
        self.daemon = None
        self.receiver = None
        self.port = None
        self.seq = 0
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("KUBECONFIG", "SLUICE_CONFIG", "SLUICE_LOG_LEVEL")}
        self.env.update(TMPDIR=self.tmp, HOME=self.home, NO_COLOR="1")
        self.git_env = dict(self.env, GIT_AUTHOR_NAME="e2e", GIT_AUTHOR_EMAIL="e2e@example.com",
                            GIT_COMMITTER_NAME="e2e", GIT_COMMITTER_EMAIL="e2e@example.com",
                            GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")

    def close(self):
        # A second signal must not interrupt the cleanup itself.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        if self.receiver is not None:
            self.receiver.shutdown()
            self.receiver.server_close()
        if self.kubesim is not None and self.kubesim.poll() is None:
            self.kubesim.terminate()
            try:
                self.kubesim.wait(5)
            except subprocess.TimeoutExpired:
                self.kubesim.kill()
                self.kubesim.wait()
        if os.environ.get("E2E_KEEP"):
            print(f"kept {self.top}")
        else:
            shutil.rmtree(self.top, ignore_errors=True)

    # ---- kubesim ----
    def start_kubesim(self, ready_delay="100ms"):
        self.ks = Kubesim(self.ksdir, "--ready-delay", ready_delay, binary=KUBESIM)
        self.kubesim = self.ks.proc
        self.port = self.ks.port

    def api(self, method, path, body=None, content_type="application/json"):
        return self.ks.api(method, path, body, content_type)

    def reset_requests(self):
        self.ks.reset_requests()

    def requests(self):
        return self.ks.requests()

    def writes(self, include_dry_run=False):
        """The write requests in kubesim's log (not dry runs unless asked)."""
        return self.ks.writes(include_dry_run)

    def objects(self):
        return self.api("GET", "/kubesim/objects")

    def find(self, kind, ns, name):
        for o in self.objects()["items"]:
            md = o.get("metadata", {})
            if o.get("kind") == kind and md.get("name") == name and md.get("namespace") == ns:
                return o
        return None

    # ---- git ----
    def git(self, *args):
        r = subprocess.run(["git", "-C", self.repo, *args], env=self.git_env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"git {' '.join(args)}: {r.stderr}")
        return r.stdout.strip()

    def init_repo(self):
        os.makedirs(self.repo)
        shutil.copytree(os.path.join(SRC, "environments"), os.path.join(self.repo, "environments"))
        self.git("init", "-q", "-b", "main")

    def path(self, rel):
        return os.path.join(self.repo, rel)

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()

    def write(self, rel, text):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def edit(self, rel, old, new, count=1):
        text = self.read(rel)
        if text.count(old) < 1:
            raise SystemExit(f"{rel}: {old!r} not found (the example repository changed shape)")
        self.write(rel, text.replace(old, new, count))

    def add_resource(self, kustomization, resource):
        self.edit(kustomization, "resources:\n", f"resources:\n  - {resource}\n")

    def commit(self, msg, *tags):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", msg)
        for t in tags:
            self.git("tag", t)
        return self.git("rev-parse", "HEAD")

    def line_of(self, rel, needle):
        for i, line in enumerate(self.read(rel).splitlines(), 1):
            if needle in line:
                return i
        raise SystemExit(f"{rel}: no line with {needle!r}")

    # ---- sluice ----
    def write_config(self, body):
        with open(self.cfg, "w") as f:
            f.write(f"name: sluice\nstateDir: {self.state}\nsource:\n  url: file://{self.repo}\n"
                    f"cluster:\n  kubeconfig: {self.kubeconfig}\n  requestTimeout: 10s\n" + body)

    def sluice(self, name, *args, config=True, stdin=None, timeout=90):
        """Run sluice ARGS; keep stdout/stderr as out/NN-name.{out,err}."""
        self.seq += 1
        argv = [SLUICE, *args] + (["--config", self.cfg] if config else [])
        r = subprocess.run(argv, env=self.env, input=stdin, capture_output=True,
                           timeout=timeout, cwd=self.home)
        base = os.path.join(self.outdir, f"{self.seq:02d}-{name}")
        with open(base + ".out", "wb") as f:
            f.write(r.stdout)
        with open(base + ".err", "wb") as f:
            f.write(r.stderr)
        return Result(r.returncode, r.stdout.decode(errors="replace"),
                      r.stderr.decode(errors="replace"), name)

    # ---- the daemon ----
    def start_receiver(self):
        """A notification receiver on loopback; each POST body is kept in out/."""
        outdir, bodies = self.outdir, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                bodies.append(body)
                with open(os.path.join(outdir, f"notification-{len(bodies):02d}.body"), "wb") as f:
                    f.write(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.receiver.serve_forever, daemon=True).start()
        self.notifications = bodies
        return f"http://127.0.0.1:{self.receiver.server_address[1]}/notify"

    def start_daemon(self, name, *args):
        """sluice [ARGS] run --config CFG, stderr kept as out/NN-name.err."""
        self.seq += 1
        self.daemon_err = os.path.join(self.outdir, f"{self.seq:02d}-{name}.err")
        out = open(os.path.join(self.outdir, f"{self.seq:02d}-{name}.out"), "wb")
        err = open(self.daemon_err, "wb")
        self.daemon = subprocess.Popen([SLUICE, *args, "run", "--config", self.cfg], env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                       cwd=self.home, preexec_fn=die_with_parent)
        out.close()
        err.close()

    def daemon_log(self):
        with open(self.daemon_err, errors="replace") as f:
            return f.read()

    def wait_daemon_log(self, pattern, timeout=30):
        """Wait until a line of the daemon's log matches pattern; return the match."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.daemon_log(), re.M)
            if m:
                return m
            if self.daemon.poll() is not None:
                return None
            time.sleep(0.1)
        return None

    def http_get(self, port, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.read().decode()

    def stop_daemon(self, timeout=30):
        self.daemon.send_signal(signal.SIGTERM)
        try:
            return self.daemon.wait(timeout)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
            return None
