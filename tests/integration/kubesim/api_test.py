#!/usr/bin/env python3
"""kubesim's API over plain HTTP, without kubectl.

Covers what the kubectl test does not reach: token rotation, aggregated
discovery and OpenAPI documents, CRD registration and removal, optimistic
concurrency, watch, the status subresource, the workload simulator for
Jobs/StatefulSets/DaemonSets, every fault action, deletecollection,
ownerReference propagation, list-merge semantics of server-side apply and
the request limits. Every process started here is stopped on exit.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("SLUICE_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
BUILD = os.environ.get("SLUICE_BUILD", os.path.join(SRC, "build"))
KUBESIM = os.environ.get("KUBESIM", os.path.join(BUILD, "kubesim"))

failures = 0
procs = []


def check(cond, what, detail=""):
    global failures
    if cond:
        print(f"ok   {what}")
    else:
        failures += 1
        print(f"FAIL {what}\n     {str(detail)[:3000]}")


class Client:
    def __init__(self, port, token=None):
        self.port, self.token = port, token

    def req(self, method, path, body=None, ctype="application/json", headers=None, token=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = ctype
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return r.status, parsed, r

    def apply(self, path, obj, manager="test", extra=""):
        return self.req("PATCH", f"{path}?fieldManager={manager}{extra}", obj, "application/apply-patch+yaml")


def start(tmp, args):
    pf = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "kubesim.log"), "w")
    p = subprocess.Popen([KUBESIM, "--port-file", pf] + args, stdout=log, stderr=log)
    procs.append(p)
    for _ in range(100):
        if os.path.exists(pf):
            return p, int(open(pf).read())
        time.sleep(0.05)
    raise SystemExit("kubesim did not start: " + open(os.path.join(tmp, "kubesim.log")).read())


def wait_for(fn, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


def cm(name, ns="default", **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def workload(kind, name, image, group="apps/v1", **spec):
    tmpl = {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": image}], "restartPolicy": "Never" if kind == "Job" else "Always"}}
    s = {"template": tmpl}
    if kind != "Job":
        s["selector"] = {"matchLabels": {"app": name}}
    s.update(spec)
    return {"apiVersion": group, "kind": kind, "metadata": {"name": name, "namespace": "default"}, "spec": s}


def run(tmp):
    _, port = start(tmp, ["--token", "tok-a", "--ready-delay", "200ms", "--fail-image", "bad",
                          "--fail-after", "500ms", "--nodes", "3", "--seed", "7", "--pods",
                          "--fault", "verb=get,path=/api/v1/namespaces/default/configmaps/flaky,every=2,code=503"])
    c = Client(port, "tok-a")

    # --- tokens ---------------------------------------------------------------------
    code, _, _ = c.req("GET", "/api/v1/namespaces")
    check(code == 200, "token accepted over http")
    c.req("POST", "/kubesim/config", {"tokens": ["tok-b"]})
    code_a, _, _ = c.req("GET", "/api/v1/namespaces")
    code_b, _, _ = c.req("GET", "/api/v1/namespaces", token="tok-b")
    check(code_a == 401 and code_b == 200, "token rotation through /kubesim/config", (code_a, code_b))
    c.token = "tok-b"
    code, body, _ = c.req("GET", "/version", token="")
    code2, _, _ = c.req("GET", "/healthz", token="")
    code3, _, _ = c.req("GET", "/api", token="")
    check(code == 200 and body["minor"] == "32" and code2 == 200 and code3 == 401,
          "/version and /healthz are public, the API is not", (code, code2, code3))

    # --- discovery and openapi ------------------------------------------------------------
    acc = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    code, body, r = c.req("GET", "/apis", headers={"Accept": acc})
    apps = [i for i in body["items"] if i["metadata"]["name"] == "apps"]
    deps = [x for x in apps[0]["versions"][0]["resources"] if x["resource"] == "deployments"] if apps else []
    check(code == 200 and r.getheader("Content-Type").startswith("application/json;g=apidiscovery.k8s.io;v=v2")
          and deps and {s["subresource"] for s in deps[0]["subresources"]} == {"status", "scale"}
          and deps[0]["scope"] == "Namespaced", "aggregated discovery", body if not deps else deps[0])
    code, body, r = c.req("GET", "/api", headers={"Accept": acc})
    check(code == 200 and body["items"][0]["metadata"]["name"] == "" and
          any(x["resource"] == "configmaps" for x in body["items"][0]["versions"][0]["resources"]),
          "aggregated discovery /api (core group, empty name)", body)
    code, body, _ = c.req("GET", "/api/v1")
    check(code == 200 and any(x["name"] == "services/status" for x in body["resources"]), "legacy /api/v1 with subresources")
    code, idx, _ = c.req("GET", "/openapi/v3")
    url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
    code, doc, _ = c.req("GET", url)
    p = doc["paths"].get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", {})
    check(code == 200 and p.get("patch", {}).get("x-kubernetes-group-version-kind", {}).get("kind") == "Deployment"
          and any(x["name"] == "fieldValidation" for x in p["patch"]["parameters"]), "openapi v3 group document", p)

    # --- CRDs --------------------------------------------------------------------------------
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                                  "subresources": {"status": {}}},
                                 {"name": "v2", "served": True, "storage": False,
                                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    code, body, _ = c.apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", crd)
    conds = {x["type"]: x["status"] for x in body.get("status", {}).get("conditions", [])}
    check(code == 201 and conds.get("Established") == "True" and conds.get("NamesAccepted") == "True",
          "CRD created and Established", body)
    code, body, _ = c.req("GET", "/apis/example.com/v1")
    check(code == 200 and body["resources"][0]["kind"] == "Widget" and body["resources"][0]["shortNames"] == ["wd"],
          "CRD kind in discovery", body)
    w = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "default"},
         "spec": {"items": [{"name": "a"}, {"name": "b"}]}}
    code, body, _ = c.apply("/apis/example.com/v1/namespaces/default/widgets/w1", w)
    check(code == 201 and body["metadata"]["generation"] == 1, "custom resource created", body)
    w["spec"]["items"] = [{"name": "b"}]
    code, body, _ = c.apply("/apis/example.com/v1/namespaces/default/widgets/w1", w)
    check(code == 200 and body["spec"]["items"] == [{"name": "b"}] and body["metadata"]["generation"] == 2,
          "custom resource lists are atomic; generation bumped", body)
    code, body, _ = c.req("GET", "/apis/example.com/v1/namespaces/default/widgets")
    check(code == 200 and body["kind"] == "WidgetList" and body["items"][0]["kind"] == "Widget",
          "custom resource list items carry kind", body)
    code, body, _ = c.req("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    code2, _, _ = c.req("GET", "/apis/example.com/v1")
    code3, _, _ = c.req("GET", "/apis/example.com/v1/namespaces/default/widgets/w1")
    check(code == 200 and code2 == 404 and code3 == 404, "deleting the CRD removes kind and objects", (code, code2, code3))

    # --- optimistic concurrency, POST, PUT ---------------------------------------------------------
    code, created, _ = c.req("POST", "/api/v1/namespaces/default/configmaps", cm("occ", a="1"))
    check(code == 201, "POST creates (201)", created)
    code, _, _ = c.req("POST", "/api/v1/namespaces/default/configmaps", cm("occ", a="1"))
    check(code == 409, "POST of an existing name: 409 AlreadyExists")
    stale = dict(created, data={"a": "2"})
    code, upd, _ = c.req("PUT", "/api/v1/namespaces/default/configmaps/occ", stale)
    check(code == 200 and int(upd["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"]),
          "PUT with the current resourceVersion", upd)
    code, body, _ = c.req("PUT", "/api/v1/namespaces/default/configmaps/occ", stale)
    check(code == 409 and "the object has been modified" in body["message"], "PUT with a stale resourceVersion: 409", body)
    code, body, _ = c.req("PATCH", "/api/v1/namespaces/default/configmaps/occ", cm("occ"), "application/apply-patch+yaml")
    check(code == 422 and body["details"]["causes"][0]["field"] == "fieldManager", "apply without fieldManager: 422", body)
    code, body, _ = c.req("PATCH", "/api/v1/namespaces/default/configmaps/occ", "{}", "text/plain")
    check(code == 415, "unknown patch type: 415", body)
    code, body, _ = c.req("POST", "/api/v1/namespaces/default/configmaps", b"x" * (3 * 1024 * 1024 + 10))
    check(code == 413, "bodies over 3 MiB: 413", code)
    code, body, _ = c.apply("/api/v1/namespaces/default/secrets/s1", {"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "s1"}, "stringData": {"k": "hello"}})
    check(code == 201 and body.get("data") == {"k": "aGVsbG8="} and "stringData" not in body, "Secret stringData folded into data", body)

    # --- validation ---------------------------------------------------------------------------------------
    bad = workload("Deployment", "invalid", "img:1")
    bad["spec"]["selector"]["matchLabels"] = {"app": "other"}
    del bad["spec"]["template"]["spec"]["containers"][0]["image"]
    code, body, _ = c.apply("/apis/apps/v1/namespaces/default/deployments/invalid", bad)
    fields = sorted(x["field"] for x in body.get("details", {}).get("causes", []))
    check(code == 422 and body["reason"] == "Invalid" and fields == ["spec.template.metadata.labels", "spec.template.spec.containers[0].image"],
          "invalid Deployment: 422 naming selector/labels and the missing image", body)
    badl = cm("badlabel")
    badl["metadata"]["labels"] = {"x": "not ok!"}
    code, body, _ = c.apply("/api/v1/namespaces/default/configmaps/badlabel", badl)
    check(code == 422 and body["details"]["causes"][0]["field"] == "metadata.labels", "invalid label value: 422", body)
    code, body, _ = c.apply("/api/v1/namespaces/default/configmaps/Bad_Name", cm("Bad_Name"))
    check(code == 422 and body["details"]["causes"][0]["field"] == "metadata.name", "invalid name: 422", body)

    # --- watch --------------------------------------------------------------------------------------------
    code, lst, _ = c.req("GET", "/api/v1/namespaces/default/configmaps")
    rv = lst["metadata"]["resourceVersion"]
    events = []

    def watcher():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=3",
                     headers={"Authorization": "Bearer tok-b"})
        r = conn.getresponse()
        for line in r:
            if line.strip():
                events.append(json.loads(line))
        conn.close()

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.3)
    c.apply("/api/v1/namespaces/default/configmaps/watched", cm("watched", a="1"))
    c.apply("/api/v1/namespaces/default/configmaps/watched", cm("watched", a="2"))
    c.req("DELETE", "/api/v1/namespaces/default/configmaps/watched")
    t.join(15)
    kinds = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    check(kinds == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")],
          "watch from resourceVersion: ADDED, MODIFIED, DELETED", kinds)

    # --- simulator ------------------------------------------------------------------------------------------------
    for obj, path in [(workload("Job", "job-ok", "img:1", "batch/v1"), "/apis/batch/v1/namespaces/default/jobs/job-ok"),
                      (workload("Job", "job-bad", "bad:1", "batch/v1"), "/apis/batch/v1/namespaces/default/jobs/job-bad"),
                      (workload("StatefulSet", "sts", "img:1", serviceName="sts", replicas=2), "/apis/apps/v1/namespaces/default/statefulsets/sts"),
                      (workload("DaemonSet", "ds", "img:1"), "/apis/apps/v1/namespaces/default/daemonsets/ds"),
                      (workload("Deployment", "dep-bad", "reg/bad:2"), "/apis/apps/v1/namespaces/default/deployments/dep-bad")]:
        code, body, _ = c.apply(path, obj)
        check(code == 201, f"create {obj['kind']} {obj['metadata']['name']}", body)

    def get(path):
        return c.req("GET", path)[1]

    def cond(o, t):
        return {x["type"]: x for x in o.get("status", {}).get("conditions", [])}.get(t, {})

    j = wait_for(lambda: (lambda o: o if cond(o, "Complete").get("status") == "True" else None)(get("/apis/batch/v1/namespaces/default/jobs/job-ok")))
    check(j and j["status"].get("succeeded") == 1 and j["status"].get("startTime") and j["status"].get("completionTime"),
          "Job completes", j)
    j = wait_for(lambda: (lambda o: o if cond(o, "Failed").get("status") == "True" else None)(get("/apis/batch/v1/namespaces/default/jobs/job-bad")))
    check(j and cond(j, "Failed").get("reason") == "BackoffLimitExceeded", "Job with a failing image fails", j)
    s = wait_for(lambda: (lambda o: o if o.get("status", {}).get("readyReplicas") == 2 else None)(get("/apis/apps/v1/namespaces/default/statefulsets/sts")))
    check(s and s["status"]["currentRevision"] == s["status"]["updateRevision"] and s["status"]["currentReplicas"] == 2
          and s["status"]["observedGeneration"] == s["metadata"]["generation"], "StatefulSet becomes ready", s)
    d = wait_for(lambda: (lambda o: o if o.get("status", {}).get("numberReady") == 3 else None)(get("/apis/apps/v1/namespaces/default/daemonsets/ds")))
    check(d and d["status"]["desiredNumberScheduled"] == 3 and d["status"]["numberAvailable"] == 3, "DaemonSet ready on 3 nodes", d)
    d = wait_for(lambda: (lambda o: o if cond(o, "Progressing").get("reason") == "ProgressDeadlineExceeded" else None)(get("/apis/apps/v1/namespaces/default/deployments/dep-bad")))
    check(d and cond(d, "Progressing")["status"] == "False" and cond(d, "Available")["status"] == "False"
          and not d["status"].get("readyReplicas"), "Deployment with a failing image: ProgressDeadlineExceeded", d)
    dep_mf = [m for m in d["metadata"]["managedFields"] if m["manager"] == "kube-controller-manager"]
    check(dep_mf and dep_mf[0]["subresource"] == "status" and dep_mf[0]["operation"] == "Update",
          "status written as kube-controller-manager on the status subresource", d["metadata"]["managedFields"])
    # fixing the image lets it become ready (new generation restarts the clock)
    fixed = workload("Deployment", "dep-bad", "reg/good:3")
    c.apply("/apis/apps/v1/namespaces/default/deployments/dep-bad", fixed)
    d = wait_for(lambda: (lambda o: o if cond(o, "Available").get("status") == "True" else None)(get("/apis/apps/v1/namespaces/default/deployments/dep-bad")))
    check(d and cond(d, "Progressing").get("reason") == "NewReplicaSetAvailable" and d["status"]["observedGeneration"] == 2,
          "fixed image: the Deployment becomes available", d)

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "img:1"}]}}
    c.apply("/api/v1/namespaces/default/pods/p1", pod)
    pod["metadata"]["name"] = "p2"
    pod["spec"]["containers"][0]["image"] = "bad:1"
    c.apply("/api/v1/namespaces/default/pods/p2", pod)
    p1 = wait_for(lambda: (lambda o: o if cond(o, "Ready").get("status") == "True" else None)(get("/api/v1/namespaces/default/pods/p1")))
    check(p1 and p1["status"]["phase"] == "Running" and p1["status"]["containerStatuses"][0]["ready"], "Pod becomes Running and Ready", p1)
    p2 = wait_for(lambda: (lambda o: o if o.get("status", {}).get("containerStatuses", [{}])[0].get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" else None)(get("/api/v1/namespaces/default/pods/p2")))
    check(p2 and cond(p2, "Ready").get("status") == "False", "Pod with a failing image: CrashLoopBackOff", p2)
    lb = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": "default"},
          "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]}}
    code, body, _ = c.apply("/api/v1/namespaces/default/services/lb", lb)
    check(code == 201 and body["status"]["loadBalancer"]["ingress"][0]["ip"] and body["spec"]["clusterIP"].startswith("10.96."),
          "LoadBalancer Service gets a clusterIP and an ingress address", body)

    # --pods: ReplicaSets and Pods behind the Deployment, old ReplicaSet scaled down.
    def owned(kind_path, uid):
        return [o for o in get(kind_path)["items"]
                if any(r["uid"] == uid for r in o["metadata"].get("ownerReferences", []))]
    dep = get("/apis/apps/v1/namespaces/default/deployments/dep-bad")
    rss = owned("/apis/apps/v1/namespaces/default/replicasets", dep["metadata"]["uid"])
    live_rs = [r for r in rss if r["spec"]["replicas"] > 0]
    check(len(rss) == 2 and len(live_rs) == 1 and "pod-template-hash" in live_rs[0]["spec"]["selector"]["matchLabels"]
          and live_rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2",
          "--pods: one ReplicaSet per template, the old one scaled to 0", [(r["metadata"]["name"], r["spec"]["replicas"]) for r in rss])
    pods = wait_for(lambda: (lambda ps: ps if len(ps) == 1 and cond(ps[0], "Ready").get("status") == "True" else None)(
        owned("/api/v1/namespaces/default/pods", live_rs[0]["metadata"]["uid"])))
    check(pods and pods[0]["spec"]["containers"][0]["image"] == "reg/good:3"
          and pods[0]["metadata"]["labels"]["pod-template-hash"] == live_rs[0]["spec"]["selector"]["matchLabels"]["pod-template-hash"],
          "--pods: the ReplicaSet's Pod runs the new image and is Ready", pods)

    # --- status subresource ------------------------------------------------------------------------------------------
    code, body, _ = c.req("PATCH", "/apis/apps/v1/namespaces/default/deployments/dep-bad/status",
                          {"spec": {"replicas": 9}, "status": {"replicas": 5}}, "application/merge-patch+json")
    check(code == 200 and body["status"]["replicas"] == 5 and body["spec"]["replicas"] == 1 and body["metadata"]["generation"] == 2,
          "status subresource changes status only", body)
    code, body, _ = c.req("GET", "/apis/apps/v1/namespaces/default/deployments/dep-bad/scale")
    check(code == 200 and body["kind"] == "Scale" and body["spec"]["replicas"] == 1 and body["status"]["selector"] == "app=dep-bad",
          "scale subresource", body)

    c.req("DELETE", "/apis/apps/v1/namespaces/default/deployments/dep-bad")
    left = [o["metadata"]["name"] for o in get("/api/v1/namespaces/default/pods")["items"] if o["metadata"]["name"].startswith("dep-bad-")]
    left += [o["metadata"]["name"] for o in get("/apis/apps/v1/namespaces/default/replicasets")["items"] if o["metadata"]["name"].startswith("dep-bad-")]
    check(left == [], "deleting the Deployment removes its ReplicaSets and Pods", left)

    # --- server-side apply list merge --------------------------------------------------------------------------------------
    two = workload("Deployment", "multi", "img:1")
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "side:1", "ports": [{"containerPort": 9000}]})
    c.apply("/apis/apps/v1/namespaces/default/deployments/multi", two, manager="a")
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "multi", "namespace": "default"},
             "spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "X", "value": "1"}]}]}}}}
    code, body, _ = c.apply("/apis/apps/v1/namespaces/default/deployments/multi", other, manager="b")
    cs = {x["name"]: x for x in body["spec"]["template"]["spec"]["containers"]}
    check(code == 200 and cs["c"].get("env") == [{"name": "X", "value": "1"}] and cs["c"]["image"] == "img:1" and "side" in cs,
          "two managers merge into one container (keyed by name)", body["spec"]["template"])
    code, body, _ = c.apply("/apis/apps/v1/namespaces/default/deployments/multi", workload("Deployment", "multi", "img:1"), manager="a")
    cs = {x["name"]: x for x in body["spec"]["template"]["spec"]["containers"]}
    check(code == 200 and "side" not in cs and cs["c"].get("env") == [{"name": "X", "value": "1"}],
          "a container manager a stopped sending is removed; b's env stays", body["spec"]["template"])
    other["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    code, body, _ = c.apply("/apis/apps/v1/namespaces/default/deployments/multi", other, manager="b")
    check(code == 409 and body["details"]["causes"][0]["field"] == '.spec.template.spec.containers[name="c"].image',
          "conflict path names the list item by key", body)
    code, body, _ = c.apply("/apis/apps/v1/namespaces/default/deployments/multi", other, manager="b", extra="&dryRun=All&force=true")
    code2, live, _ = c.req("GET", "/apis/apps/v1/namespaces/default/deployments/multi")
    check(code == 200 and body["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"
          and live["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
          and body["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"],
          "forced dry-run update returns the result and stores nothing", (body["metadata"], live["metadata"]))

    # --- deletecollection and owner references ---------------------------------------------------------------------------------
    for i in range(3):
        o = cm(f"dc-{i}")
        o["metadata"]["labels"] = {"batch": "x" if i < 2 else "y"}
        c.apply(f"/api/v1/namespaces/default/configmaps/dc-{i}", o)
    code, _, _ = c.req("DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=batch%3Dx")
    code, lst, _ = c.req("GET", "/api/v1/namespaces/default/configmaps?labelSelector=batch")
    check([x["metadata"]["name"] for x in lst["items"]] == ["dc-2"], "deletecollection with a label selector", lst["items"])
    code, owner, _ = c.apply("/api/v1/namespaces/default/configmaps/owner", cm("owner"))
    dep = cm("dependent")
    dep["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]
    c.apply("/api/v1/namespaces/default/configmaps/dependent", dep)
    c.req("DELETE", "/api/v1/namespaces/default/configmaps/owner", {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"})
    code, d, _ = c.req("GET", "/api/v1/namespaces/default/configmaps/dependent")
    check(code == 200 and not d["metadata"].get("ownerReferences"), "Orphan keeps the dependent and drops its ownerReference", d)
    code, owner, _ = c.apply("/api/v1/namespaces/default/configmaps/owner", cm("owner"))
    dep["metadata"]["ownerReferences"][0]["uid"] = owner["metadata"]["uid"]
    c.apply("/api/v1/namespaces/default/configmaps/dependent", dep)
    c.req("DELETE", "/api/v1/namespaces/default/configmaps/owner?propagationPolicy=Background")
    code, _, _ = c.req("GET", "/api/v1/namespaces/default/configmaps/dependent")
    check(code == 404, "Background deletes the dependent", code)

    # --- faults ---------------------------------------------------------------------------------------------------------------------
    c.apply("/api/v1/namespaces/default/configmaps/flaky", cm("flaky"))
    codes = [c.req("GET", "/api/v1/namespaces/default/configmaps/flaky")[0] for _ in range(4)]
    check(codes == [200, 503, 200, 503], "--fault every=2 answers 503 on every second request", codes)
    c.req("DELETE", "/kubesim/faults")
    c.req("POST", "/kubesim/faults", {"verb": "get", "resource": "configmaps", "times": 1, "delayMs": 700})
    t0 = time.time()
    code, _, _ = c.req("GET", "/api/v1/namespaces/default/configmaps/flaky")
    dt = time.time() - t0
    t0 = time.time()
    c.req("GET", "/api/v1/namespaces/default/configmaps/flaky")
    dt2 = time.time() - t0
    check(code == 200 and dt >= 0.7 and dt2 < 0.5, "delay fault (once)", (dt, dt2))
    c.req("POST", "/kubesim/faults", {"verb": "list", "resource": "configmaps", "action": "drop", "nth": 1})
    try:
        code, _, _ = c.req("GET", "/api/v1/namespaces/default/configmaps")
        dropped = False
    except (http.client.HTTPException, ConnectionError, OSError):
        dropped = True
    check(dropped, "drop fault closes the connection without a response")
    c.req("DELETE", "/kubesim/faults")
    c.req("POST", "/kubesim/faults", {"resource": "namespaces", "rate": 0.5, "code": 500})
    codes = [c.req("GET", "/api/v1/namespaces/default")[0] for _ in range(40)]
    code, f, _ = c.req("GET", "/kubesim/faults")
    fired = codes.count(500)
    check(8 <= fired <= 32 and f["faults"][0]["fired"] == fired and f["faults"][0]["seen"] == 40,
          "rate fault fires about half the time and is counted", (fired, f))
    c.req("DELETE", "/kubesim/faults")

    # --- accounting and dump ---------------------------------------------------------------------------------------------------------
    c.req("DELETE", "/kubesim/requests")
    c.req("GET", "/api/v1/namespaces/default/configmaps")
    c.apply("/api/v1/namespaces/default/configmaps/acct", cm("acct"))
    c.apply("/api/v1/namespaces/default/configmaps/acct", cm("acct"), extra="&dryRun=All")
    code, r, _ = c.req("GET", "/kubesim/requests")
    check(r["total"] == 3 and r["counts"] == {"list configmaps": 1, "apply configmaps": 2}
          and r["log"][2].get("dryRun") == "All", "request accounting by verb and resource", r)
    code, dump, _ = c.req("GET", "/kubesim/objects")
    check(code == 200 and any(o["metadata"]["name"] == "acct" for o in dump["items"]), "/kubesim/objects dump")
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="kubesim-api-")
    try:
        run(tmp)
        for p in procs:
            p.terminate()
            rc = p.wait(15)
            log = open(os.path.join(tmp, "kubesim.log")).read()
            check(rc == 0 and "AddressSanitizer" not in log and "runtime error" not in log,
                  "kubesim exits cleanly", f"rc={rc} {log[-3000:]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
