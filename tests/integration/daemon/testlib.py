"""What the daemon's integration scripts share: checks that record failures, polling
waits, and an HTTP receiver that collects notification POSTs."""
import http.server
import json
import time

failures = []


def check(cond, what, detail=""):
    """Print ok/FAIL for one promise; a failure is remembered (and shown with detail)."""
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else " " + detail))
    if not cond:
        failures.append(what)
    return cond


def wait_for(pred, timeout=5.0, step=0.02):
    """Poll pred until it returns something true or timeout seconds pass; its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Receiver(http.server.BaseHTTPRequestHandler):
    """Collects notification POSTs (JSON bodies) in Receiver.posts."""
    posts = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Receiver.posts.append(json.loads(self.rfile.read(n)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def core_limit(pid):
    """(soft, hard) RLIMIT_CORE of a process, from /proc; None when it cannot be read."""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max core file size"):
                    parts = line.split()
                    return parts[4], parts[5]
    except OSError:
        pass
    return None
