#!/usr/bin/env python3
"""`sluice run` end to end, against loopback peers only.

The reconcile pipeline is replaced by --fake-reconcile (a JSON script the test
rewrites), so this exercises the service machinery itself: sd_notify messages
on a socket the test owns, /healthz, /readyz, /metrics (checked by promtool),
signed webhooks (GitHub and generic HMAC), rejections, rate limiting, the
control socket, notifications to a local receiver, SIGHUP with a bad and a
good configuration, a second instance refused by the state lock, and SIGTERM
in the middle of a slow apply.

Exit 0 on success, 1 on failure, 77 when promtool is missing (everything
else still ran; the metrics were only checked by this script).
"""
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Receiver, check, core_limit, failures, wait_for  # noqa: E402

SLUICE = os.environ["SLUICE"]
procs = []


class Notify:
    """A NOTIFY_SOCKET like systemd's: reads datagrams all the time."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.msgs = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def seen(self, text, after=0):
        return any(text in m for m in self.msgs[after:])


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_post(port, path, body, headers):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def control(state, request):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(os.path.join(state, "control.sock"))
    s.sendall(request.encode() + b"\n")
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def main():
    tmp = tempfile.mkdtemp(prefix="sluice-daemon-it-")
    state = os.path.join(tmp, "state")
    cfg = os.path.join(tmp, "sluice.yaml")
    fake = os.path.join(tmp, "fake.json")
    log = os.path.join(tmp, "daemon.log")
    gh_secret = "0123456789abcdef0123456789abcdef-github"
    ci_secret = "fedcba9876543210fedcba9876543210-ci"
    for name, val in (("gh.secret", gh_secret + "\n"), ("ci.secret", ci_secret)):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            f.write(val)
        os.chmod(p, 0o600)

    recv = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    notify = Notify(os.path.join(tmp, "notify.sock"))

    def write_config(extra_envs=""):
        with open(cfg, "w") as f:
            f.write("""source:
  url: file:///nonexistent
stateDir: %(state)s
http:
  listen: 127.0.0.1:0
  maxBodySize: 2048
  webhookRateLimit: 8
webhooks:
  - name: github
    type: github
    secretFile: %(tmp)s/gh.secret
  - name: ci
    type: hmac
    header: X-Sluice-Signature
    secretFile: %(tmp)s/ci.secret
    environments: [stage]
notifications:
  url: http://127.0.0.1:%(rport)d/notify
  retries: 1
  timeout: 2s
daemon:
  stopTimeout: 3s
  backoffMin: 200ms
  backoffMax: 400ms
  jitter: 0
environments:
  - name: dev
    path: environments/dev
    interval: 1m
  - name: stage
    path: environments/stage
    interval: 1m
%(extra)s""" % {"state": state, "tmp": tmp, "rport": recv.server_port, "extra": extra_envs})

    def write_fake(d):
        with open(fake + ".tmp", "w") as f:
            json.dump(d, f)
        os.rename(fake + ".tmp", fake)

    write_config()
    write_fake({"dev": {"result": "applied", "revision": "1111111", "ref": "main", "drifted": 2}})
    env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify.sock"),
               WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    logf = open(log, "w")
    p = subprocess.Popen([SLUICE, "run", "--config", cfg, "--fake-reconcile", fake],
                         stderr=logf, env=env)
    procs.append(p)

    def logtext():
        with open(log) as f:
            return f.read()

    m = wait_for(lambda: re.search(r"msg=started .* port=(\d+)", logtext()))
    if not check(m is not None, "daemon started and logged its port"):
        return
    port = int(m.group(1))
    check(core_limit(p.pid) == ("0", "0"),
          "core dumps disabled (RLIMIT_CORE 0/0; was %s for the test)" % (core_limit(os.getpid()),))
    check(wait_for(lambda: notify.seen("READY=1")), "READY=1 sent")
    check(wait_for(lambda: notify.seen("WATCHDOG=1")), "WATCHDOG=1 pings (WATCHDOG_USEC set)")
    check(http_get(port, "/healthz")[0] == 200, "/healthz is 200")
    check(wait_for(lambda: http_get(port, "/readyz")[0] == 200), "/readyz is 200 after first polls")
    check(re.search(r'msg=reconciled env=dev trigger=startup result=applied revision=1111111 '
                    r'ref=main duration=\S+ applied=0 pruned=0 unchanged=0 drifted=2', logtext())
          is not None, "one logfmt line per reconcile with env, revision, result, duration, counts")
    check(wait_for(lambda: any(x.get("event") == "deploy" and x.get("revision") == "1111111"
                               for x in Receiver.posts)), "deploy notification sent")

    # Metrics, checked by promtool when it is installed.
    status, metrics = http_get(port, "/metrics")
    check(status == 200, "/metrics is 200")
    for want in ('sluice_build_info{version=', 'sluice_ready 1',
                 'sluice_reconciles_total{environment="dev",result="applied"} 1',
                 'sluice_applied_revision_info{environment="dev",revision="1111111",ref="main"} 1',
                 'sluice_drifted_objects{environment="dev"} 2',
                 'sluice_reconcile_duration_seconds_bucket{environment="stage",result="unchanged",le="+Inf"} 1',
                 'sluice_last_success_timestamp_seconds{environment="dev"}'):
        check(want in metrics, "metrics contain " + want)
    # Notifications are sent by their own thread: the count follows the delivery.
    check(wait_for(lambda: 'sluice_notifications_total{result="sent"} 1' in
                   http_get(port, "/metrics")[1]), "metrics count the sent notification")
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=metrics.encode(),
                           capture_output=True)
        check(r.returncode == 0, "promtool check metrics accepts /metrics " +
              r.stdout.decode() + r.stderr.decode())
        rules = os.path.join(os.environ["SLUICE_SRC"], "systemd", "sluice-alerts.yml")
        r = subprocess.run([promtool, "check", "rules", rules], capture_output=True)
        check(r.returncode == 0, "promtool check rules accepts the example alert rules " +
              r.stderr.decode())
        # Every metric the rules use is one the daemon exports.
        used = set(re.findall(r"\b(sluice_[a-z_]+?)(?:_bucket)?\b", open(rules).read()))
        exported = set(re.findall(r"^# TYPE (sluice_[a-z_]+) ", metrics, re.M))
        check(used <= exported, "alert rules use exported metrics only (%s)" %
              sorted(used - exported))

    # Webhooks: a signed GitHub push polls every environment now.
    write_fake({"dev": {"result": "applied", "revision": "2222222", "ref": "main"}})
    body = b'{"ref":"refs/heads/main","after":"whatever the payload says is ignored"}'
    sig = "sha256=" + hmac.new(gh_secret.encode(), body, hashlib.sha256).hexdigest()
    t = time.monotonic()
    st, _ = http_post(port, "/hooks/github", body,
                      {"X-GitHub-Event": "push", "X-Hub-Signature-256": sig})
    check(st == 202, "signed GitHub push -> 202")
    check(wait_for(lambda: "env=dev trigger=webhook result=applied revision=2222222" in logtext()),
          "webhook triggered an immediate poll of dev")
    check(time.monotonic() - t < 1.0, "webhook to reconciled in under a second")
    check(wait_for(lambda: 'revision="2222222"' in http_get(port, "/metrics")[1]),
          "applied revision info follows the new revision")
    st, _ = http_post(port, "/hooks/github", body,
                      {"X-GitHub-Event": "ping", "X-Hub-Signature-256": sig})
    check(st == 200, "signed GitHub ping -> 200, no poll")
    # Generic HMAC hook limited to stage.
    sig2 = hmac.new(ci_secret.encode(), b"x", hashlib.sha256).hexdigest()
    st, _ = http_post(port, "/hooks/ci", b"x", {"X-Sluice-Signature": sig2})
    check(st == 202, "generic HMAC hook -> 202")
    check(wait_for(lambda: "env=stage trigger=webhook" in logtext()), "hmac hook polled stage")
    time.sleep(0.3)
    check(logtext().count("trigger=webhook") == 3, "hmac hook did not poll dev (2 + 1 runs)")
    # Rejections: all 401 with no detail.
    for name, path, b, h in (
            ("bad signature", "/hooks/github", body,
             {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64}),
            ("missing signature", "/hooks/github", body, {"X-GitHub-Event": "push"}),
            ("unknown hook", "/hooks/nope", body, {}),
            ("oversized body", "/hooks/github", b"a" * 4096,
             {"X-GitHub-Event": "push",
              "X-Hub-Signature-256": "sha256=" + hmac.new(gh_secret.encode(), b"a" * 4096,
                                                          hashlib.sha256).hexdigest()})):
        st, text = http_post(port, path, b, h)
        check(st == 401 and text == "unauthorized\n", "%s -> 401 without detail" % name)
    # Rate limit: 8 a minute per hook; this burst must hit 429.
    codes = [http_post(port, "/hooks/github", b"{}", {"X-GitHub-Event": "push"})[0]
             for _ in range(10)]
    check(429 in codes, "rate limit answers 429 (%s)" % codes)
    check("sluice_webhook_requests_total{hook=\"github\",result=\"limited\"}" in
          http_get(port, "/metrics")[1], "limited requests are counted")

    # Control socket.
    check(control(state, "poll stage") == "ok poll stage\n", "control socket: poll stage")
    check(wait_for(lambda: "env=stage trigger=control" in logtext()), "control poll ran")
    st = json.loads(control(state, "status"))
    check(st["ready"] and len(st["environments"]) == 2, "control socket: status")

    # A failing environment: retried with backoff, notified once.
    write_fake({"dev": {"result": "applied", "revision": "2222222", "ref": "main"},
                "stage": {"result": "failed", "error": "simulated fetch failure",
                          "sourceError": True}})
    control(state, "poll stage")
    check(wait_for(lambda: logtext().count("env=stage trigger=retry result=failed") >= 2),
          "failures are retried with backoff")
    fails = [x for x in Receiver.posts if x.get("event") == "failure"]
    check(len(fails) == 1 and fails[0]["error"] == "simulated fetch failure",
          "one failure notification per streak (%d)" % len(fails))
    check('sluice_source_poll_errors_total{environment="stage"}' in http_get(port, "/metrics")[1],
          "source poll errors counted")
    write_fake({"dev": {"result": "applied", "revision": "2222222", "ref": "main"}})

    # A second instance is refused by the state lock.
    r = subprocess.run([SLUICE, "run", "--config", cfg, "--fake-reconcile", fake],
                       capture_output=True, timeout=10)
    check(r.returncode == 1 and b"held by another sluice process" in r.stderr,
          "second instance refused: " + r.stderr.decode().strip())

    # SIGHUP with a bad configuration: rejected, the old one keeps running.
    with open(cfg, "w") as f:
        f.write("source:\n  url: file:///x\nenvironments:\n  - name: dev\n    bogus: 1\n")
    mark = len(notify.msgs)
    p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "msg=\"reload rejected\"" in logtext()), "bad config rejected")
    check("unknown key" in logtext(), "the rejection names the problem")
    check(wait_for(lambda: notify.seen("RELOADING=1", mark) and notify.seen("READY=1", mark)),
          "RELOADING=1 then READY=1 around the reload")
    check(http_get(port, "/healthz")[0] == 200 and
          len(json.loads(control(state, "status"))["environments"]) == 2,
          "old configuration still running")
    # SIGHUP with a good configuration that adds an environment.
    write_config("  - name: qa\n    track: {type: branch}\n    path: environments/qa\n")
    p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "msg=\"configuration reloaded\"" in logtext()), "good config reloaded")
    check(wait_for(lambda: "env=qa trigger=reload" in logtext()), "new environment polled at once")
    check('sluice_config_reloads_total{result="rejected"} 1' in http_get(port, "/metrics")[1],
          "reload results counted")

    # SIGTERM in the middle of a slow apply: stops at a safe point, state saved.
    write_fake({"dev": {"result": "applied", "revision": "3333333", "sleepMs": 20000}})
    control(state, "poll dev")
    check(wait_for(lambda: notify.seen("STATUS=reconciling dev")), "STATUS= says what it does")
    # Environments are independent: stage is polled and reconciled while dev is still applying.
    mark = logtext().count("env=stage trigger=control")
    control(state, "poll stage")
    check(wait_for(lambda: logtext().count("env=stage trigger=control") > mark),
          "stage reconciled while dev is still applying")
    running = {e["name"]: e["running"] for e in json.loads(control(state, "status"))["environments"]}
    check(running.get("dev") is True and running.get("stage") is False,
          "status shows dev running, stage idle: %s" % running)
    # A reload during a run takes effect at once; the run finishes with the configuration it had.
    p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "running reconciles finish with the previous configuration"
                   in logtext()), "reload during a run applies at once")
    time.sleep(0.2)
    t = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM mid-apply: clean exit (rc=%s) in %.2fs" % (rc, time.monotonic() - t))
    check(time.monotonic() - t < 3.0, "stopped well within stopTimeout")
    check(notify.seen("STOPPING=1"), "STOPPING=1 sent")
    check("msg=stopping running=dev" in logtext() and "env=dev trigger=control result=canceled"
          in logtext(), "the running apply was canceled at a safe point")
    saved = json.load(open(os.path.join(state, "daemon.json")))
    check(any(e["name"] == "dev" and e["revision"] == "2222222" for e in saved["environments"]),
          "daemon state saved with the last applied revision")
    check(not os.path.exists(os.path.join(state, "control.sock")), "control socket removed")
    check("s3cret" not in logtext() and gh_secret not in logtext() and ci_secret not in logtext(),
          "no secret in the log")

    # A run that never reaches a safe point: the daemon gives up after stopTimeout (3 s).
    write_config()
    write_fake({"dev": {"result": "applied", "sleepMs": 60000, "ignoreStop": True}})
    log2 = os.path.join(tmp, "daemon2.log")
    p2 = subprocess.Popen([SLUICE, "run", "--config", cfg, "--fake-reconcile", fake],
                          stderr=open(log2, "w"))
    procs.append(p2)
    check(wait_for(lambda: "msg=started" in open(log2).read()), "daemon restarted")
    time.sleep(0.5)
    t = time.monotonic()
    p2.send_signal(signal.SIGTERM)
    try:
        rc = p2.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t
    check(rc == 1 and 2.5 < took < 30, "stop timeout: exit 1 after %.1fs (rc=%s)" % (took, rc))
    check("stop timeout" in open(log2).read(), "stop timeout logged")

    # A reconcile worker asked to stop while it is still starting (the daemon starts workers
    # with SIGTERM blocked until their handler is in place) stops cleanly and says so, rather
    # than dying of the signal.
    norm = subprocess.run([SLUICE, "check-config", cfg], capture_output=True, text=True).stdout

    def block_stop_signals():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})

    wk = subprocess.Popen([SLUICE, "run", "--worker", "dev", "--config-name", cfg],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          preexec_fn=block_stop_signals)
    procs.append(wk)
    wk.send_signal(signal.SIGTERM)
    out, err = wk.communicate(norm.encode(), timeout=60)
    try:
        res = json.loads(out)
    except ValueError:
        res = {}
    check(wk.returncode == 0 and res.get("outcome") == 5,  # SL_RUN_CANCELED
          "an early SIGTERM cancels a worker cleanly (rc=%s, %s)" % (wk.returncode, out.strip()))

    notify.stop = True
    recv.shutdown()
    if not failures:
        shutil.rmtree(tmp)
    else:
        print("log and files kept in", tmp)
        print(logtext())
    return promtool is not None


if __name__ == "__main__":
    had_promtool = False
    try:
        had_promtool = main()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)
    if not had_promtool:
        print("SKIPPED: promtool not found (Debian package prometheus); /metrics was checked "
              "only by this script")
        sys.exit(77)
    sys.exit(0)
