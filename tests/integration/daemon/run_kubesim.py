#!/usr/bin/env python3
"""`sluice run` with the real pipeline against kubesim, end to end.

A git repository made from the example environments is the source; kubesim is
the cluster. Covered: the first polls deploy dev, stage and prod (healthy, in
/metrics); a commit on main plus a signed GitHub webhook reaches kubesim at
once (the time from the webhook to the new revision healthy is printed); a
release whose image never becomes ready is rolled back by the daemon with a
rollback notification and the rollback metric; SIGHUP with a good and a bad
configuration; SIGTERM while the daemon waits for a rollout stops it at a safe
point within the stop timeout, and a restarted daemon converges again. Every
process started here is killed on exit. Exit 77 when kubesim is not built.
"""
import hashlib
import hmac
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Receiver, check, core_limit, failures  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kubesim_lib import Kubesim  # noqa: E402
from testlib import wait_for as _wait_for  # noqa: E402


def wait_for(pred, timeout=30.0, step=0.05):
    """Waits here are for real reconciles: a longer default than testlib's."""
    return _wait_for(pred, timeout, step)


SLUICE = os.environ["SLUICE"]
SRC = os.environ["SLUICE_SRC"]
BUILD = os.environ["SLUICE_BUILD"]
KUBESIM = os.environ.get("KUBESIM") or os.path.join(BUILD, "kubesim")
SECRET = "kubesim-webhook-secret-0123456789abcdef"
procs = []


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sluice-daemon-kubesim-")
        self.repo = os.path.join(self.tmp, "repo")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        self.state = os.path.join(self.tmp, "state")
        self.cfg = os.path.join(self.tmp, "sluice.yaml")
        self.log = os.path.join(self.tmp, "daemon.log")
        self.git_env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                            GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
                            HOME=self.tmp)
        self.run_env = dict(os.environ, HOME=self.tmp)
        self.run_env.pop("KUBECONFIG", None)
        self.daemon = None
        self.port = None

    def git(self, *args):
        r = subprocess.run(["git", "-C", self.repo, *args], env=self.git_env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("git %s: %s" % (args, r.stderr))
        return r.stdout.strip()

    def commit(self, msg):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", msg)
        return self.git("rev-parse", "HEAD")

    def kz(self):
        with open(os.path.join(self.repo, "environments/dev/kustomization.yaml")) as f:
            return f.read()

    def set_kz(self, text):
        with open(os.path.join(self.repo, "environments/dev/kustomization.yaml"), "w") as f:
            f.write(text)

    def setup(self):
        os.makedirs(self.repo)
        shutil.copytree(os.path.join(SRC, "environments"), os.path.join(self.repo, "environments"))
        self.git("init", "-q", "-b", "main")
        self.commit("initial")
        self.git("tag", "v1.0.0-rc.1")
        self.git("tag", "v1.0.0")
        with open(os.path.join(self.tmp, "gh.secret"), "w") as f:
            f.write(SECRET)
        os.chmod(os.path.join(self.tmp, "gh.secret"), 0o600)
        self.ks = Kubesim(self.tmp, "--ready-delay", "300ms", "--fail-image", "never-ready",
                          "--fail-after", "120s", binary=KUBESIM)
        procs.append(self.ks.proc)
        self.kport = self.ks.port

    def write_config(self, rport, extra=""):
        with open(self.cfg, "w") as f:
            f.write("""name: sluice
stateDir: %(state)s
source:
  url: %(repo)s
cluster:
  kubeconfig: %(kc)s
  requestTimeout: 5s
http:
  listen: 127.0.0.1:0
webhooks:
  - name: github
    type: github
    secretFile: %(tmp)s/gh.secret
notifications:
  url: http://127.0.0.1:%(rport)d/notify
  retries: 1
daemon:
  stopTimeout: 10s
  backoffMin: 1s
  backoffMax: 2s
  jitter: 0
environments:
  - name: dev
    path: environments/dev
    namespace: shop-dev
    interval: 10m
    healthTimeout: 4s
  - name: stage
    path: environments/stage
    namespace: shop-stage
    interval: 10m
    healthTimeout: 20s
  - name: prod
    path: environments/prod
    namespace: shop-prod
    interval: 10m
    healthTimeout: 20s
%(extra)s""" % {"state": self.state, "repo": self.repo, "kc": self.kubeconfig, "tmp": self.tmp,
               "rport": rport, "extra": extra})

    def start(self):
        self.logf = open(self.log, "a")
        self.daemon = subprocess.Popen([SLUICE, "run", "--config", self.cfg], stderr=self.logf,
                                       env=self.run_env)
        procs.append(self.daemon)
        start = len(self.logtext())
        m = wait_for(lambda: re.search(r"msg=started .* port=(\d+)", self.logtext()[start:]), 10)
        if not m:
            raise SystemExit("daemon did not start:\n" + self.logtext()[-3000:])
        self.port = int(m.group(1))

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def kget(self, path):
        return self.ks.get(path)

    def web(self, ns="shop-dev"):
        return self.kget("/apis/apps/v1/namespaces/%s/deployments/web" % ns)

    def webhook(self):
        body = b'{"ref":"refs/heads/main"}'
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request("http://127.0.0.1:%d/hooks/github" % self.port, data=body,
                                     headers={"X-GitHub-Event": "push",
                                              "X-Hub-Signature-256": sig}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status


def image(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


def worker_pids(daemon_pid, env, cfg=None):
    """Worker processes reconciling env: the daemon's children running `run --worker ENV`,
    or (daemon_pid None) any process doing so for the configuration file cfg."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        mine = ppid == daemon_pid if daemon_pid is not None else cfg.encode() in argv
        if mine and b"--worker" in argv and env.encode() in argv:
            out.append(int(d))
    return out


def main():
    if not os.path.exists(KUBESIM):
        print("SKIPPED: kubesim is not built")
        return 77
    recv = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    w = World()
    w.setup()
    w.write_config(recv.server_port)
    w.start()

    # First polls deploy everything.
    check(wait_for(lambda: w.get("/readyz")[0] == 200, 120), "ready after the first polls",
          w.logtext()[-3000:])
    log = w.logtext()
    for env in ("dev", "stage", "prod"):
        check(re.search(r"msg=reconciled env=%s trigger=startup result=applied " % env, log)
              is not None, "%s deployed by the first poll" % env, log[-2000:])
        check(w.web("shop-" + env).get("kind") == "Deployment", "shop-%s/web exists" % env)
    _, metrics = w.get("/metrics")
    check('sluice_reconciles_total{environment="prod",result="applied"} 1' in metrics,
          "metrics count the deploys")

    # A commit on main and a signed webhook: applied at once.
    w.set_kz(w.kz().replace("  - name: web\n    count: 1", "  - name: web\n    count: 2"))
    rev2 = w.commit("dev: two web replicas")
    t = time.monotonic()
    check(w.webhook() == 202, "webhook accepted")
    ok = wait_for(lambda: "env=dev trigger=webhook result=applied revision=%s" % rev2
                  in w.logtext(), 60)
    took = time.monotonic() - t
    check(ok and w.web()["spec"]["replicas"] == 2, "webhook: new revision live and healthy")
    print("     webhook to new revision healthy in kubesim: %.2f s (kubesim ready delay 0.3 s)"
          % took)
    # A figure, not an assertion (timings on a shared machine are not a verdict).
    check(wait_for(lambda: any(p.get("event") == "deploy" and p.get("revision") == rev2
                               for p in Receiver.posts), 10), "deploy notification for dev")

    # `sluice reconcile` against the running daemon asks it for a poll instead of
    # reconciling beside it.
    mark = len(w.logtext())
    r = subprocess.run([SLUICE, "reconcile", "dev", "--config", w.cfg], capture_output=True,
                       text=True, timeout=30, env=w.run_env)
    check(r.returncode == 0 and "asked it to poll dev now" in r.stdout,
          "reconcile with a daemon running asks it to poll", r.stdout + r.stderr)
    check(wait_for(lambda: "env=dev trigger=control " in w.logtext()[mark:], 30),
          "the daemon polled dev at once", w.logtext()[-2000:])

    # A release that never becomes ready: rolled back by the daemon.
    good = image(w.web())
    kz = w.kz()
    w.set_kz(kz.replace("  - name: registry.example.com/shop/web\n    newTag: main-3f9c2e1",
                        "  - name: registry.example.com/shop/web\n    newTag: never-ready"))
    bad = w.commit("dev: an image that never becomes ready")
    w.webhook()
    check(wait_for(lambda: "env=dev trigger=webhook result=rolled_back" in w.logtext(), 60),
          "bad release rolled back", w.logtext()[-2000:])
    check(image(w.web()) == good, "previous image live again")
    check(wait_for(lambda: any(p.get("event") == "rollback" and p.get("failedRevision") == bad
                               for p in Receiver.posts), 10), "rollback notification")
    check('sluice_rollbacks_total{environment="dev"} 1' in w.get("/metrics")[1],
          "rollback counted in metrics")

    # SIGHUP: a bad configuration is rejected, a good one applies.
    with open(w.cfg) as f:
        good_cfg = f.read()
    with open(w.cfg, "w") as f:
        f.write(good_cfg.replace("interval: 10m", "interval: soon", 1))
    w.daemon.send_signal(signal.SIGHUP)
    check(wait_for(lambda: 'msg="reload rejected"' in w.logtext(), 10), "bad config rejected")
    check(w.get("/healthz")[0] == 200, "still serving after the rejected reload")
    # The good one gives dev a long health timeout, for the stop below.
    with open(w.cfg, "w") as f:
        f.write(good_cfg.replace("healthTimeout: 4s", "healthTimeout: 2m"))
    w.daemon.send_signal(signal.SIGHUP)
    check(wait_for(lambda: 'msg="configuration reloaded"' in w.logtext(), 10), "good config reloaded")

    # SIGTERM during a rollout: stops at a safe point within the stop timeout.
    w.set_kz(kz.replace(
        "  - name: registry.example.com/shop/web\n    newTag: main-3f9c2e1",
        "  - name: registry.example.com/shop/web\n    newTag: never-ready-2"))
    w.commit("dev: another image that never becomes ready")
    mark = len(w.logtext())
    w.webhook()
    check(wait_for(lambda: image(w.web()).endswith("never-ready-2"), 30),
          "the daemon is applying the slow release")
    time.sleep(0.5)
    # Each run is a worker process: one killed outright is a failed run that says why,
    # the daemon stays up and retries after its backoff.
    first = worker_pids(w.daemon.pid, "dev")
    check(len(first) == 1, "one worker process reconciles dev: %s" % first)
    check(all(core_limit(pid) == ("0", "0") for pid in first),
          "the worker holds secrets with core dumps disabled too",
          str([core_limit(pid) for pid in first]))
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    check(wait_for(lambda: re.search(r"env=dev trigger=webhook result=failed .*died of signal 9",
                                     w.logtext()[mark:]) is not None, 15),
          "a killed worker is a failed run that names the signal", w.logtext()[-1500:])
    check(w.get("/healthz")[0] == 200, "the daemon is unharmed")
    check(wait_for(lambda: len([p for p in worker_pids(w.daemon.pid, "dev") if p not in first])
                   == 1, 15), "the daemon retries dev in a new worker")
    time.sleep(1.0)  # inside the retry's health wait now (healthTimeout 2m)
    t = time.monotonic()
    w.daemon.send_signal(signal.SIGTERM)
    try:
        rc = w.daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t
    tail = w.logtext()[mark:]
    check(rc == 0, "SIGTERM during a health wait: clean exit (rc=%s) in %.2fs" % (rc, took), tail)
    check(took < 30, "stopped at a safe point, not hanging")
    check("msg=stopping running=dev" in tail and "env=dev trigger=retry result=canceled" in tail,
          "the health wait was canceled at a safe point", tail[-1500:])
    check(worker_pids(None, "dev", w.cfg) == [], "no worker process left behind")

    # A restarted daemon takes over from the saved state and converges.
    w.set_kz(kz)
    fixed = w.commit("dev: back to a good image")
    w.start()
    check(wait_for(lambda: re.search(r"env=dev trigger=startup result=applied revision=%s" % fixed,
                                     w.logtext()) is not None, 60),
          "restarted daemon applies the fix", w.logtext()[-2000:])
    check(image(w.web()) == good and w.web()["spec"]["replicas"] == 2, "dev converged")
    w.daemon.send_signal(signal.SIGTERM)
    check(w.daemon.wait(timeout=30) == 0, "final stop is clean")
    check(SECRET not in w.logtext(), "no secret in the log")
    recv.shutdown()
    if not failures:
        shutil.rmtree(w.tmp, ignore_errors=True)
    else:
        print("files kept in", w.tmp)
    return 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)
    sys.exit(rc)
