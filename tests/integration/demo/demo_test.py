#!/usr/bin/env python3
"""`sluice demo` end to end: the story's outcomes checked from outside the demo.

1. `sluice demo --keep -o json` runs non-interactively (stdin is not a tty).
   Then, independently of what the demo reported: git (the kept repository),
   `sluice status/history -o json`, kubesim's stored objects and request log
   must show dev/stage/prod at the expected revisions, the hand-made drift
   corrected (spec back to git, the field owned by sluice again), the bad
   release rolled back (previous image live, revision marked bad), and a new
   reconcile of stage must not retry it (zero writes).
2. A plain run (no --keep, own TMPDIR) must leave no directory and no kubesim.
3. SIGTERM in the middle of the story: the demo stops, names the step, cleans up.
4. Failures are loud and name the step: kubesim missing, an example repository
   that the policies refuse.
5. A binary in an installed layout finds libexec/sluice/kubesim and
   share/sluice/environments by itself.
Every process started here is killed on exit.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SLUICE = os.environ["SLUICE"]
SRC = os.environ["SLUICE_SRC"]
BUILD = os.environ["SLUICE_BUILD"]
KUBESIM = os.environ.get("KUBESIM") or os.path.join(BUILD, "kubesim")
WRITE_VERBS = {"apply", "patch", "create", "update", "delete", "deletecollection"}
STEPS = ["cluster", "repository", "secrets", "config", "commit", "dev", "stage", "prod",
         "drift", "bad-release", "next-poll", "status"]

failures = []
pids = []      # kubesim processes left running by --keep
dirs = []      # directories to remove
procs = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f" {detail}"), flush=True)
    if not cond:
        failures.append(what)


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def run_env(tmpdir=None, **extra):
    env = dict(os.environ, SLUICE_KUBESIM=KUBESIM)
    env.pop("SLUICE_CONFIG", None)
    env.pop("KUBECONFIG", None)
    if tmpdir:
        env["TMPDIR"] = tmpdir
    env.update(extra)
    return env


def demo(*args, env=None, timeout=300):
    r = subprocess.run([SLUICE, "demo", *args], env=env or run_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    try:
        out = json.loads(r.stdout) if "-o" in args else None
    except ValueError:
        out = None
    return r.returncode, out, r.stdout, r.stderr


def alive(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"kubesim" in f.read()
    except OSError:
        return False


def processes_mentioning(text):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(p))
        except OSError:
            pass
    return found


class Kubesim:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method, path):
        req = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"null")

    def objects(self):
        return self.call("GET", "/kubesim/objects")["items"]

    def find(self, kind, ns, name):
        for o in self.objects():
            m = o.get("metadata", {})
            if o.get("kind") == kind and m.get("namespace") == ns and m.get("name") == name:
                return o
        return None


def image(dep, container):
    for c in dep["spec"]["template"]["spec"]["containers"]:
        if c["name"] == container:
            return c["image"]
    return None


def overlay_value(env, anchor, key):
    with open(os.path.join(SRC, "environments", env, "kustomization.yaml")) as f:
        text = f.read()
    m = re.search(re.escape(anchor) + r"\n\s*" + re.escape(key) + r"\s*(\S+)", text)
    return m.group(1) if m else None


def main():
    if not os.path.exists(KUBESIM):
        print("kubesim not built: skipping")
        return 77

    # ---- 1. the story, kept for inspection ----
    t0 = time.monotonic()
    rc, out, stdout, stderr = demo("--keep", "-o", "json", "--ready-delay", "200ms")
    took = time.monotonic() - t0
    if out:
        dirs.append(out["dir"])
        if out["kubesim"]["pid"] > 0:
            pids.append(out["kubesim"]["pid"])
    check(rc == 0 and out is not None and out["ok"], f"sluice demo --keep exits 0 ({took:.1f}s)",
          f"rc={rc} {stderr[-3000:]}")
    if out is None:
        return 1
    steps = {s["step"]: s for s in out["steps"]}
    check([s["step"] for s in out["steps"]] == STEPS and all(s["ok"] for s in out["steps"]),
          "every step of the timeline ran with its expected outcome",
          [(s["step"], s["ok"], s["message"]) for s in out["steps"]])
    check("== A commit on main deploys to dev" in stderr and "demo complete" in stderr,
          "the human timeline goes to stderr with -o json")
    check(out["kept"] and os.path.isdir(out["dir"]) and alive(out["kubesim"]["pid"]),
          "--keep leaves the directory and kubesim running")
    cfg = out["config"]
    ks = Kubesim(out["kubesim"]["port"])
    rev_a = steps["commit"]["revision"]
    rev_b = steps["bad-release"]["badRevision"]

    # git, read with the git CLI when it is installed (the demo itself uses libgit2)
    repo = os.path.join(out["dir"], "repo")
    if shutil.which("git"):
        def rev(r):
            return subprocess.run(["git", "-C", repo, "rev-parse", r + "^{commit}"], capture_output=True,
                                  text=True, env=dict(os.environ, HOME=out["dir"])).stdout.strip()
        check(rev("v1.0.0-rc.1") == rev_a and rev("v1.0.0") == rev_a,
              "v1.0.0-rc.1 and v1.0.0 tag the first commit")
        check(rev("main") == rev_b and rev("v1.1.0-rc.1") == rev_b and rev_a != rev_b,
              "main and v1.1.0-rc.1 are the bad release commit")
        log = subprocess.run(["git", "-C", repo, "log", "--format=%an <%ae>", "main"], capture_output=True,
                             text=True, env=dict(os.environ, HOME=out["dir"])).stdout.split("\n")
        check(log[0] == "sluice demo <demo@sluice.invalid>", "commits by the demo author", log[:2])
    else:
        print("git not installed: repository checks skipped")

    # status and history from the state directory
    st = subprocess.run([SLUICE, "status", "-o", "json", "--config", cfg], capture_output=True, text=True,
                        env=run_env())
    status = {s["environment"]: s for s in json.loads(st.stdout)}
    check(status["dev"]["appliedRevision"] == rev_b and status["dev"]["lastGood"]["revision"] == rev_b,
          "status: dev runs the head of main", status["dev"])
    check(status["stage"]["appliedRevision"] == rev_a and status["stage"]["lastGood"]["revision"] == rev_a,
          "status: stage runs the last good release candidate", status["stage"])
    check(status["prod"]["appliedRevision"] == rev_a and status["prod"]["last"]["result"] == "healthy",
          "status: prod runs v1.0.0", status["prod"])
    bad = [b if isinstance(b, str) else b.get("revision") for b in status["stage"]["badRevisions"]]
    check(bad == [rev_b], "status: the bad revision is recorded for stage only",
          status["stage"]["badRevisions"])
    check(not status["dev"]["badRevisions"] and not status["prod"]["badRevisions"],
          "no bad revisions elsewhere")
    h = json.loads(subprocess.run([SLUICE, "history", "stage", "-o", "json", "--config", cfg],
                                  capture_output=True, text=True, env=run_env()).stdout)
    failed = [e for e in h["history"] if e["result"] == "failed"]
    rollbacks = [e for e in h["history"] if e.get("rollback")]
    check(len(failed) == 1 and failed[0]["revision"] == rev_b, "history: one failed release (the bad one)")
    check(len(rollbacks) == 1 and rollbacks[0]["revision"] == rev_a, "history: one automatic rollback to it")

    # the cluster
    for env in ("dev", "stage", "prod"):
        ns = f"shop-{env}"
        for name in ("web", "api"):
            dep = ks.find("Deployment", ns, name)
            check(dep is not None and dep["metadata"]["labels"].get("sluice.dev/environment") == env,
                  f"Deployment {ns}/{name} applied by sluice")
        sec = ks.find("Secret", ns, "api-db")
        check(sec is not None and len(sec.get("data", {}).get("password", "")) > 20,
              f"Secret {ns}/api-db unsealed into the cluster")
        with open(os.path.join(repo, "environments", env, "api-db.sealed.yaml")) as f:
            sealed = f.read()
        import base64
        pw = base64.b64decode(sec["data"]["password"]).decode() if sec else "?"
        check("kind: SealedSecret" in sealed and pw not in sealed, f"{env}: git holds only the sealed value")
    want = int(overlay_value("prod", "- name: web", "count:"))
    web = ks.find("Deployment", "shop-prod", "web")
    check(web["spec"]["replicas"] == want, f"drift corrected: shop-prod/web has {want} replicas as in git",
          web["spec"]["replicas"])
    owners = [m["manager"] for m in web["metadata"].get("managedFields", [])
              if "f:replicas" in json.dumps(m.get("fieldsV1", {}).get("f:spec", {}))]
    check(owners == ["sluice"], "spec.replicas is owned by sluice again, not the hand edit", owners)
    log = ks.call("GET", "/kubesim/requests")["log"]
    edits = [e for e in log if e.get("fieldManager") == "kubectl-edit" and e.get("verb") == "patch"]
    check(len(edits) == 1 and "shop-prod/deployments/web" in edits[0]["path"],
          "the drift was a real PATCH by another field manager", edits)
    stage_api = ks.find("Deployment", "shop-stage", "api")
    prev = "registry.example.com/shop/api:" + overlay_value("stage", "- name: registry.example.com/shop/api",
                                                            "newTag:")
    check(image(stage_api, "api") == prev, f"bad release rolled back: shop-stage/api runs {prev} again",
          image(stage_api, "api"))
    cond = {c["type"]: c for c in stage_api.get("status", {}).get("conditions", [])}
    check(cond.get("Available", {}).get("status") == "True", "shop-stage/api is available again", cond)
    check(image(ks.find("Deployment", "shop-prod", "api"), "api").endswith(":" + overlay_value(
        "prod", "- name: registry.example.com/shop/api", "newTag:")), "prod api untouched by the bad release")

    # the bad revision is not retried by another reconcile
    ks.call("DELETE", "/kubesim/requests")
    r = subprocess.run([SLUICE, "reconcile", "stage", "--once", "-o", "json", "--config", cfg],
                       capture_output=True, text=True, env=run_env(), timeout=120)
    res = json.loads(r.stdout)[0] if r.stdout.strip().startswith("[") else {}
    writes = [e for e in ks.call("GET", "/kubesim/requests")["log"]
              if e.get("verb") in WRITE_VERBS and "dryRun" not in e]
    check(r.returncode == 0 and res.get("revision") == rev_a and not writes,
          "another reconcile of stage does not retry the bad revision (zero writes)",
          f"rc={r.returncode} {res.get('result')} {writes[:3]}")

    # stop what --keep left, as the demo told us to
    os.kill(out["kubesim"]["pid"], signal.SIGTERM)
    for _ in range(100):
        if not alive(out["kubesim"]["pid"]):
            break
        time.sleep(0.05)
    check(not alive(out["kubesim"]["pid"]), "the kept kubesim stops on SIGTERM")

    # ---- 2. a plain run cleans up after itself ----
    tmp = tempfile.mkdtemp(prefix="sluice-demo-it-")
    dirs.append(tmp)
    rc, out2, _, stderr = demo("-o", "json", "--ready-delay", "100ms", env=run_env(tmp))
    check(rc == 0 and out2 and out2["ok"], "a plain sluice demo exits 0", stderr[-2000:])
    if out2:
        pid = [s for s in out2["steps"] if s["step"] == "cluster"][0]["pid"]
        check(not alive(pid) and not out2["kubesim"]["running"], "kubesim stopped at the end")
        check(not os.path.exists(out2["dir"]) and os.listdir(tmp) == [],
              "the temporary directory is removed", os.listdir(tmp))
        check(processes_mentioning(out2["dir"]) == [], "no process of the demo is left")

    # text output on a non-tty: no pause, same story
    tmp_t = tempfile.mkdtemp(prefix="sluice-demo-it-")
    dirs.append(tmp_t)
    r = subprocess.run([SLUICE, "demo", "--ready-delay", "100ms"], env=run_env(tmp_t), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0 and "press Enter" not in r.stdout and "ENVIRONMENT" in r.stdout
          and "demo complete" in r.stdout and os.listdir(tmp_t) == [],
          "text timeline without pauses when stdin is not a terminal", r.stdout[-1500:] + r.stderr[-800:])

    # ---- 3. SIGTERM in the middle of the story ----
    tmp3 = tempfile.mkdtemp(prefix="sluice-demo-it-")
    dirs.append(tmp3)
    p = subprocess.Popen([SLUICE, "demo", "-o", "json", "--ready-delay", "2s"], env=run_env(tmp3),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    state_seen = False
    for _ in range(400):
        ds = [d for d in os.listdir(tmp3) if d.startswith("sluice-demo-")]
        if ds and os.path.isdir(os.path.join(tmp3, ds[0], "state")):
            state_seen = True
            break
        time.sleep(0.025)
    demo_dir = os.path.join(tmp3, ds[0]) if state_seen else None
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    try:
        so, se = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
    out3 = json.loads(so) if so.strip().startswith("{") else None
    check(state_seen and p.returncode == 1 and out3 and not out3["ok"] and out3["failedStep"] in STEPS,
          "SIGTERM mid-story: exit 1 naming the interrupted step",
          f"rc={p.returncode} {out3 and out3['failedStep']} {se[-800:]}")
    if out3:
        pid = [s for s in out3["steps"] if s["step"] == "cluster"][0]["pid"]
        check(not alive(pid) and os.listdir(tmp3) == [] and processes_mentioning(demo_dir or "x" * 40) == [],
              "SIGTERM mid-story: kubesim stopped, directory removed, no child left")

    # ---- 4. loud failures ----
    r = subprocess.run([SLUICE, "demo", "-o", "json"], env=run_env(SLUICE_KUBESIM="/nonexistent/kubesim"),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    o = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    check(r.returncode == 1 and "kubesim" in r.stderr and o.get("failedStep") == "locate",
          "kubesim missing: exit 1 with a clear message", r.stderr[-500:])

    bad_env = tempfile.mkdtemp(prefix="sluice-demo-it-env-")
    dirs.append(bad_env)
    shutil.copytree(os.path.join(SRC, "environments"), os.path.join(bad_env, "environments"))
    dep = os.path.join(bad_env, "environments", "base", "web", "deployment.yaml")
    with open(dep) as f:
        text = f.read()
    with open(dep, "w") as f:
        f.write(text.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", 1))
    tmp4 = tempfile.mkdtemp(prefix="sluice-demo-it-")
    dirs.append(tmp4)
    rc, o, _, se = demo("-o", "json", "--from", os.path.join(bad_env, "environments"), env=run_env(tmp4))
    check(rc == 1 and o and o["failedStep"] == "config" and "allowPrivilegeEscalation" in se
          and os.listdir(tmp4) == [],
          "an example refused by the policies: the config step fails, the violation is shown, "
          "everything is cleaned up", (o or {}).get("failedStep", "") + se[-1200:])

    # ---- 5. an installed layout finds kubesim and the example by itself ----
    prefix = tempfile.mkdtemp(prefix="sluice-demo-it-prefix-")
    dirs.append(prefix)
    os.makedirs(os.path.join(prefix, "bin"))
    os.makedirs(os.path.join(prefix, "libexec", "sluice"))
    shutil.copy2(SLUICE, os.path.join(prefix, "bin", "sluice"))
    shutil.copy2(KUBESIM, os.path.join(prefix, "libexec", "sluice", "kubesim"))
    for d in ("environments", "policies"):
        shutil.copytree(os.path.join(SRC, d), os.path.join(prefix, "share", "sluice", d))
    tmp5 = tempfile.mkdtemp(prefix="sluice-demo-it-")
    dirs.append(tmp5)
    env5 = run_env(tmp5)
    env5.pop("SLUICE_KUBESIM")
    r = subprocess.run([os.path.join(prefix, "bin", "sluice"), "demo", "--ready-delay", "100ms"], env=env5,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    check(r.returncode == 0 and os.path.join(prefix, "libexec", "sluice", "kubesim") in r.stdout
          and os.path.join(prefix, "share", "sluice", "environments") in r.stdout,
          "installed layout: kubesim from libexec/sluice, the example from share/sluice",
          r.stdout[-1200:] + r.stderr[-600:])

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        cleanup()
