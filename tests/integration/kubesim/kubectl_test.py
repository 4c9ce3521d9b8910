#!/usr/bin/env python3
"""kubesim against the real kubectl, over HTTPS with a generated kubeconfig.

Starts kubesim on 127.0.0.1 with certificates made by openssl, client
certificate and bearer token authentication, then drives the installed
kubectl: server-side apply of every example environment, get -o json,
diff --server-side (clean, then after a patch), scale, rollout status,
a conflict between two field managers, immutable fields, finalizers,
paging, delete, a failing image, injected faults and request accounting.
Every process started here is stopped on exit.
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import ssl

SRC = os.environ.get("SLUICE_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
BUILD = os.environ.get("SLUICE_BUILD", os.path.join(SRC, "build"))
KUBESIM = os.environ.get("KUBESIM", os.path.join(BUILD, "kubesim"))
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")
HERE = os.path.dirname(os.path.abspath(__file__))

failures = 0
procs = []


def check(cond, what, detail=""):
    global failures
    if cond:
        print(f"ok   {what}")
    else:
        failures += 1
        print(f"FAIL {what}\n     {detail}")


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_kubesim(tmp, name, args):
    port_file = os.path.join(tmp, name + ".port")
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([KUBESIM, "--listen", "127.0.0.1:0", "--port-file", port_file] + args,
                         stdout=log, stderr=log)
    procs.append(p)
    for _ in range(100):
        if os.path.exists(port_file):
            return p, int(open(port_file).read().strip())
        if p.poll() is not None:
            break
        time.sleep(0.05)
    print(open(os.path.join(tmp, name + ".log")).read())
    raise SystemExit("kubesim did not start")


class Cluster:
    def __init__(self, tmp, port, kubeconfig, token):
        self.tmp, self.port, self.kubeconfig, self.token = tmp, port, kubeconfig, token
        self.ctx = ssl.create_default_context(cafile=os.path.join(tmp, "certs", "ca.crt"))

    def kubectl(self, *args, stdin=None, timeout=60):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=os.path.join(self.tmp, "kcache"))
        r = subprocess.run([KUBECTL] + list(args), input=stdin, capture_output=True, text=True,
                           env=env, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def http(self, method, path, body=None, token=None, ctype="application/json"):
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", method=method,
                                     data=body.encode() if isinstance(body, str) else body)
        tok = self.token if token is None else token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        if body is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
        except urllib.error.HTTPError as e:
            data = e.read()
            try:
                return e.code, json.loads(data), dict(e.headers)
            except ValueError:
                return e.code, data, dict(e.headers)

    def get(self, *args):
        rc, out, err = self.kubectl("get", "-o", "json", "--show-managed-fields", *args)
        if rc != 0:
            return None
        return json.loads(out)


def render(env):
    r = subprocess.run([KUBECTL, "kustomize", os.path.join(SRC, "environments", env)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"kubectl kustomize {env} failed: {r.stderr}")
    return r.stdout


def wait_for(fn, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def main():
    if not KUBECTL or not os.access(KUBECTL, os.X_OK):
        print("kubectl not installed: skipping")
        return 77
    tmp = tempfile.mkdtemp(prefix="kubesim-it-")
    try:
        return run(tmp)
    finally:
        cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    certs = os.path.join(tmp, "certs")
    subprocess.run(["sh", os.path.join(HERE, "gen-certs.sh"), certs], check=True)
    kc = os.path.join(tmp, "kubeconfig")
    token, ro_token = "it-token-1", "it-readonly-1"
    _, port = start_kubesim(tmp, "kubesim", [
        "--tls-cert", os.path.join(certs, "server.crt"), "--tls-key", os.path.join(certs, "server.key"),
        "--client-ca", os.path.join(certs, "ca.crt"), "--kubeconfig-ca", os.path.join(certs, "ca.crt"),
        "--token", token, "--readonly-token", ro_token, "--readonly-user", "kubesim-viewer",
        "--kubeconfig-out", kc,
        "--kubeconfig-client-cert", os.path.join(certs, "client.crt"),
        "--kubeconfig-client-key", os.path.join(certs, "client.key"),
        "--ready-delay", "300ms", "--fail-image", "shop/broken", "--fail-after", "1s"])
    c = Cluster(tmp, port, kc, token)

    # --- authentication -------------------------------------------------------
    code, _, _ = c.http("GET", "/api/v1/namespaces", token="")
    check(code == 401, "no credentials: 401", code)
    code, _, _ = c.http("GET", "/api/v1/namespaces", token="wrong")
    check(code == 401, "wrong token: 401", code)
    code, body, _ = c.http("GET", "/api/v1/namespaces", token=ro_token)
    check(code == 200, "read-only token may list", code)
    code, body, _ = c.http("POST", "/api/v1/namespaces", token=ro_token,
                           body='{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ro"}}')
    check(code == 403 and body.get("reason") == "Forbidden", "read-only token may not write: 403", body)
    code, body, _ = c.http("GET", "/version")
    check(code == 200 and body["major"] == "1" and body["minor"] == "32", "/version reports 1.32", body)
    rc, out, err = c.kubectl("version", "-o", "json")
    check(rc == 0 and json.loads(out)["serverVersion"]["minor"] == "32",
          "kubectl (client certificate) reaches the server", err)

    vkc = os.path.join(tmp, "viewer.kubeconfig")
    text = open(kc).read()
    for field, fn in (("client-certificate-data", "viewer.crt"), ("client-key-data", "viewer.key")):
        b64 = base64.b64encode(open(os.path.join(certs, fn), "rb").read()).decode()
        text = re.sub(rf"{field}: \S+", f"{field}: {b64}", text)
    open(vkc, "w").write(text)
    viewer = Cluster(tmp, port, vkc, token)
    rc, out, err = viewer.kubectl("get", "namespaces")
    rc2, out2, err2 = viewer.kubectl("create", "namespace", "nope")
    check(rc == 0 and rc2 != 0 and "Forbidden" in err2, "read-only client certificate: reads, 403 on write", err + err2)

    # --- discovery -------------------------------------------------------------
    code, body, hdrs = c.http("GET", "/apis")
    check(code == 200 and body["kind"] == "APIGroupList", "legacy discovery /apis", body)
    rc, out, err = c.kubectl("api-resources", "-o", "name")
    check(rc == 0 and "deployments.apps" in out and "customresourcedefinitions.apiextensions.k8s.io" in out,
          "kubectl api-resources (aggregated discovery)", err)

    # --- imperative generators (protobuf bodies) -----------------------------------
    rc, out, err = c.kubectl("create", "namespace", "imperative")
    rc2, out2, err2 = c.kubectl("-n", "imperative", "create", "configmap", "gen", "--from-literal=k=v")
    rc3, out3, err3 = c.kubectl("-n", "imperative", "create", "secret", "generic", "sec", "--from-literal=pw=hunter2")
    cmg = c.get("-n", "imperative", "configmap", "gen")
    sec = c.get("-n", "imperative", "secret", "sec")
    check(rc == 0 and rc2 == 0 and rc3 == 0 and cmg and cmg["data"] == {"k": "v"}
          and sec and sec["data"] == {"pw": "aHVudGVyMg=="}, "kubectl create namespace/configmap/secret",
          err + err2 + err3)
    rc, out, err = c.kubectl("get", "namespace", "imperative")
    check(rc == 0 and "STATUS" in out and "Active" in out, "kubectl get prints the server's table columns", out + err)

    # --- apply every environment --------------------------------------------------
    envs = sorted(e for e in os.listdir(os.path.join(SRC, "environments"))
                  if os.path.exists(os.path.join(SRC, "environments", e, "kustomization.yaml")) and e != "base")
    for env in envs:
        manifest = render(env)
        rc, out, err = c.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
        if rc != 0 and "ensure CRDs are installed first" in err:
            # Custom resources of a CRD applied in the same run: as with a real
            # cluster, the second run finds the kinds in discovery.
            rc, out, err = c.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
        check(rc == 0, f"apply --server-side environments/{env}", err + out)
        docs = [d for d in manifest.split("\n---\n") if d.strip()]
        check(out.count("serverside-applied") == len(docs),
              f"every object of {env} applied ({len(docs)})", out)
        # The simulator moves status along after the apply; diff once it has settled, or the
        # live and merged reads can straddle a status update (as on a real cluster).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rc, out, err = c.kubectl("get", "deployments", "-n", f"shop-{env}", "-o", "json")
            items = json.loads(out).get("items", []) if rc == 0 else []
            if items and all(d.get("status", {}).get("availableReplicas", 0)
                             == d["spec"].get("replicas", 1) for d in items):
                break
            time.sleep(0.1)
        rc, out, err = c.kubectl("diff", "--server-side", "-f", "-", stdin=manifest)
        check(rc == 0 and out == "", f"diff --server-side {env}: no changes", out + err)

    ns = f"shop-{envs[0]}" if envs else "default"
    dep = c.get("-n", ns, "deployment", "web")
    check(dep is not None, f"get -o json deployment {ns}/web")
    meta = dep["metadata"]
    check(meta.get("uid") and meta.get("resourceVersion", "").isdigit() and meta.get("generation") == 1
          and meta.get("creationTimestamp"), "server-set metadata (uid, resourceVersion, generation, creationTimestamp)", meta)
    managers = {(m["manager"], m["operation"]) for m in meta.get("managedFields", [])}
    check(("kubectl", "Apply") in managers, "managedFields has kubectl/Apply", managers)
    check(dep["spec"]["template"]["spec"]["containers"][0]["ports"][0].get("protocol") == "TCP",
          "defaults: container port protocol", dep["spec"]["template"]["spec"]["containers"][0])

    # Workload simulator: the deployment becomes ready.
    rc, out, err = c.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s", timeout=30)
    check(rc == 0 and "successfully rolled out" in out, "rollout status (watch) reports rolled out", out + err)
    dep = c.get("-n", ns, "deployment", "web")
    st = dep.get("status", {})
    conds = {x["type"]: x for x in st.get("conditions", [])}
    check(st.get("observedGeneration") == dep["metadata"]["generation"] and st.get("readyReplicas") == dep["spec"]["replicas"]
          and conds.get("Available", {}).get("status") == "True"
          and conds.get("Progressing", {}).get("reason") == "NewReplicaSetAvailable",
          "deployment status like the controller's", st)

    # Reapplying the same manifest writes nothing.
    rv_before = dep["metadata"]["resourceVersion"]
    manifest = render(envs[0])
    rc, out, err = c.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    dep = c.get("-n", ns, "deployment", "web")
    check(rc == 0 and dep["metadata"]["resourceVersion"] == rv_before, "no-op apply keeps resourceVersion",
          (rv_before, dep["metadata"]["resourceVersion"]))

    # --- drift: patch, then diff ----------------------------------------------------
    rc, out, err = c.kubectl("-n", ns, "patch", "deployment", "web", "-p", '{"spec":{"replicas":3}}')
    check(rc == 0, "kubectl patch (strategic merge)", err)
    rc, out, err = c.kubectl("diff", "--server-side", "-f", "-", stdin=manifest)
    check(rc > 1 and 'conflict with "kubectl-patch"' in err and ".spec.replicas" in err,
          "diff --server-side after patch: conflict with kubectl-patch on .spec.replicas", out + err)
    rc, out, err = c.kubectl("diff", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)
    check(rc == 1 and "-  replicas: 3" in out and "+  replicas: 1" in out,
          "diff --server-side --force-conflicts shows replicas 3 -> 1", out + err)
    dep = c.get("-n", ns, "deployment", "web")
    check(dep["spec"]["replicas"] == 3 and dep["metadata"]["generation"] == 2,
          "dry-run stored nothing; patch bumped generation", (dep["spec"]["replicas"], dep["metadata"]["generation"]))

    # --- scale -------------------------------------------------------------------------
    rc, out, err = c.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=2")
    check(rc == 0 and "scaled" in out, "kubectl scale", err)
    ok = wait_for(lambda: (lambda d: d and d["spec"]["replicas"] == 2 and d.get("status", {}).get("readyReplicas") == 2
                           and d["status"].get("observedGeneration") == d["metadata"]["generation"])(
        c.get("-n", ns, "deployment", "web")))
    check(ok, "scaled deployment reaches 2 ready replicas")
    dep = c.get("-n", ns, "deployment", "web")
    owners = [m["manager"] for m in dep["metadata"]["managedFields"]
              if "f:replicas" in m.get("fieldsV1", {}).get("f:spec", {})]
    check(len(owners) == 1, "spec.replicas has exactly one owner after scale", dep["metadata"]["managedFields"])

    # --- two field managers ------------------------------------------------------------------
    cm_a = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: {ns}\ndata:\n  color: blue\n  size: L\n"
    cm_b = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: {ns}\ndata:\n  color: red\n"
    rc, out, err = c.kubectl("apply", "--server-side", "--field-manager=team-a", "-f", "-", stdin=cm_a)
    check(rc == 0, "apply configmap as team-a", err)
    rc, out, err = c.kubectl("apply", "--server-side", "--field-manager=team-b", "-f", "-", stdin=cm_b)
    check(rc != 0 and 'Apply failed with 1 conflict: conflict with "team-a"' in err and ".data.color" in err,
          "team-b conflicts with team-a on .data.color", err)
    code, body, _ = c.http("PATCH", f"/api/v1/namespaces/{ns}/configmaps/shared?fieldManager=team-b",
                           body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": {"name": "shared", "namespace": ns},
                                            "data": {"color": "red"}}), ctype="application/apply-patch+yaml")
    causes = body.get("details", {}).get("causes", []) if isinstance(body, dict) else []
    check(code == 409 and body.get("reason") == "Conflict" and causes and causes[0]["field"] == ".data.color"
          and causes[0]["reason"] == "FieldManagerConflict", "409 Status with causes", body)
    rc, out, err = c.kubectl("apply", "--server-side", "--field-manager=team-b", "--force-conflicts", "-f", "-", stdin=cm_b)
    cm = c.get("-n", ns, "configmap", "shared")
    mf = {m["manager"]: m["fieldsV1"] for m in cm["metadata"]["managedFields"]}
    check(rc == 0 and cm["data"] == {"color": "red", "size": "L"}
          and "f:color" in mf.get("team-b", {}).get("f:data", {})
          and "f:color" not in mf.get("team-a", {}).get("f:data", {}),
          "--force-conflicts moves .data.color to team-b", cm)
    rc, out, err = c.kubectl("apply", "--server-side", "--field-manager=team-a", "-f", "-",
                             stdin=f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: {ns}\ndata: {{}}\n")
    cm = c.get("-n", ns, "configmap", "shared")
    check(rc == 0 and cm["data"] == {"color": "red"}, "fields team-a stopped sending are removed, team-b's stay", cm.get("data"))

    # dry run creates nothing and reports an empty resourceVersion
    code, body, _ = c.http("PATCH", f"/api/v1/namespaces/{ns}/configmaps/ghost?fieldManager=t&dryRun=All",
                           body='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ghost"}}',
                           ctype="application/apply-patch+yaml")
    code2, _, _ = c.http("GET", f"/api/v1/namespaces/{ns}/configmaps/ghost")
    check(code == 201 and body["metadata"].get("resourceVersion") == "" and code2 == 404,
          "dryRun=All create: 201, empty resourceVersion, nothing stored", (code, body.get("metadata"), code2))
    code, body, _ = c.http("PATCH", f"/api/v1/namespaces/nowhere/configmaps/x?fieldManager=t",
                           body='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}',
                           ctype="application/apply-patch+yaml")
    check(code == 404 and 'namespaces "nowhere" not found' in body.get("message", ""), "missing namespace: 404", body)

    # --- immutable fields ----------------------------------------------------------------------
    rc, out, err = c.kubectl("-n", ns, "patch", "deployment", "web", "--type=merge",
                             "-p", '{"spec":{"selector":{"matchLabels":{"x":"y"}}}}')
    check(rc != 0 and "field is immutable" in err and "spec.selector" in err, "Deployment spec.selector is immutable (422)", err)
    rc, out, err = c.kubectl("-n", ns, "patch", "service", "web", "-p", '{"spec":{"clusterIP":"10.0.0.99"}}')
    check(rc != 0 and "field is immutable" in err, "Service spec.clusterIP is immutable", err)

    # --- label selectors and paging ----------------------------------------------------------------
    for i in range(5):
        c.kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                  stdin=f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page-{i}\n  labels:\n    page: \"yes\"\n    idx: \"{i}\"\n")
    c.http("DELETE", "/kubesim/requests")
    rc, out, err = c.kubectl("-n", ns, "get", "configmaps", "-l", "page=yes,idx notin (3)", "--chunk-size=2", "-o", "name")
    names = out.split()
    check(rc == 0 and names == [f"configmap/page-{i}" for i in (0, 1, 2, 4)], "label selector + chunked list", out + err)
    _, req, _ = c.http("GET", "/kubesim/requests")
    lists = [e for e in req["log"] if e["verb"] == "list" and e["resource"] == "configmaps"]
    check(len(lists) == 2 and lists[0].get("limit") == "2" and lists[1].get("continue"),
          "paging used limit and continue (2 list calls)", lists)

    # --- finalizers and delete ------------------------------------------------------------------------
    c.kubectl("-n", ns, "apply", "--server-side", "-f", "-",
              stdin="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n")
    rc, out, err = c.kubectl("-n", ns, "delete", "configmap", "held", "--wait=false")
    held = c.get("-n", ns, "configmap", "held")
    check(rc == 0 and held and held["metadata"].get("deletionTimestamp"), "finalizer keeps the object with deletionTimestamp", held)
    rc, out, err = c.kubectl("-n", ns, "patch", "configmap", "held", "--type=json",
                             "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    code, _, _ = c.http("GET", f"/api/v1/namespaces/{ns}/configmaps/held")
    check(rc == 0 and code == 404, "removing the last finalizer deletes it (json patch)", err)
    rc, out, err = c.kubectl("-n", ns, "delete", "deployment", "web", "--cascade=background", timeout=60)
    code, _, _ = c.http("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    check(rc == 0 and code == 404, "kubectl delete deployment", out + err)

    # --- failing image -------------------------------------------------------------------------------------
    bad = (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\n  namespace: {ns}\nspec:\n"
           "  selector:\n    matchLabels: {app: broken}\n  template:\n    metadata:\n      labels: {app: broken}\n"
           "    spec:\n      containers:\n      - name: c\n        image: registry.example.com/shop/broken:1\n")
    rc, out, err = c.kubectl("apply", "--server-side", "-f", "-", stdin=bad)
    rc, out, err = c.kubectl("-n", ns, "rollout", "status", "deployment/broken", "--timeout=20s", timeout=30)
    check(rc != 0 and "exceeded its progress deadline" in err, "failing image: rollout reports ProgressDeadlineExceeded", out + err)

    # --- faults and accounting ----------------------------------------------------------------------------------
    code, body, _ = c.http("POST", "/kubesim/faults", body=json.dumps(
        {"verb": "list", "resource": "configmaps", "nth": 1, "code": 500}))
    check(code == 200 and len(body["faults"]) == 1, "fault rule installed", body)
    rc, out, err = c.kubectl("-n", ns, "get", "configmaps")
    check(rc != 0 and ("InternalError" in err or "Internal error" in err or "500" in err),
          "injected 500 reaches kubectl", err)
    rc, out, err = c.kubectl("-n", ns, "get", "configmaps")
    check(rc == 0, "next request succeeds (nth=1 fired once)", err)
    c.http("DELETE", "/kubesim/faults")
    c.http("POST", "/kubesim/faults", body=json.dumps({"verb": "get", "resource": "namespaces", "nth": 1, "code": 429, "retryAfter": 1}))
    code, body, hdrs = c.http("GET", "/api/v1/namespaces/default")
    check(code == 429 and hdrs.get("Retry-After") == "1", "429 with Retry-After", (code, hdrs))
    c.http("DELETE", "/kubesim/faults")
    c.http("DELETE", "/kubesim/requests")
    rc, out, err = c.kubectl("apply", "--server-side", "-f", "-", stdin=render(envs[0]))
    _, req, _ = c.http("GET", "/kubesim/requests")
    n_docs = len([d for d in render(envs[0]).split("\n---\n") if d.strip()])
    check(req["byVerb"].get("apply") == n_docs, f"accounting: {n_docs} applies counted", req["byVerb"])

    # --- namespace delete removes its contents -------------------------------------------------------------------------
    rc, out, err = c.kubectl("delete", "namespace", ns, timeout=60)
    code, body, _ = c.http("GET", f"/api/v1/namespaces/{ns}/configmaps")
    check(rc == 0 and code == 200 and body["items"] == [], "namespace delete removes its objects", out + err)

    # kubesim shuts down cleanly on SIGTERM (under ASan/LSan this also checks for leaks).
    for p in procs:
        p.terminate()
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "timeout"
        log = open(os.path.join(tmp, "kubesim.log")).read()
        check(rc == 0 and "ERROR: AddressSanitizer" not in log and "runtime error" not in log,
              "kubesim exits cleanly on SIGTERM", f"rc={rc}\n{log[-4000:]}")

    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(1)))
    sys.exit(main())
