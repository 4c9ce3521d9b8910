"""kubesim for a test (python3 stdlib only): start it on a free loopback port, talk to its
API and its /kubesim control endpoints, stop it. Shared by the reconcile, e2e and daemon
integration tests and the reconcile benchmark."""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

WRITE_VERBS = {"apply", "patch", "create", "update", "delete", "deletecollection"}


def die_with_parent():
    """Child setup: SIGKILL kubesim if the test process dies (even by SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Kubesim:
    """One kubesim: `args` are extra flags (--ready-delay, --fail-image ...); its kubeconfig
    and log are written in workdir."""

    def __init__(self, workdir, *args, binary=None, timeout=10):
        binary = binary or os.environ.get("KUBESIM") or os.path.join(
            os.environ["SLUICE_BUILD"], "kubesim")
        os.makedirs(workdir, exist_ok=True)
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        self.log = os.path.join(workdir, "kubesim.log")
        portfile = os.path.join(workdir, "port")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [binary, "--listen", "127.0.0.1:0", "--port-file", portfile,
                 "--kubeconfig-out", self.kubeconfig, *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent)
        self.port = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("kubesim exited at start (see %s)" % self.log)
            if os.path.exists(portfile) and os.path.exists(self.kubeconfig):
                with open(portfile) as f:
                    t = f.read().strip()
                if t:
                    self.port = int(t)
                    return
            time.sleep(0.05)
        self.stop()
        raise SystemExit("kubesim did not start")

    def api(self, method, path, body=None, content_type="application/json"):
        """One request; the JSON answer (an error's Status too), None for an empty one."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"null")

    def get(self, path):
        return self.api("GET", path)

    def requests(self):
        return self.api("GET", "/kubesim/requests")

    def reset_requests(self):
        self.api("DELETE", "/kubesim/requests")

    def writes(self, include_dry_run=False):
        """The write requests in kubesim's log (dry runs only when asked)."""
        return [e for e in self.requests()["log"]
                if e.get("verb") in WRITE_VERBS and (include_dry_run or not e.get("dryRun"))]

    def objects(self):
        return self.api("GET", "/kubesim/objects")["items"]

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
