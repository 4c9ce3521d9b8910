#!/usr/bin/env python3
"""Policies end to end: a violating revision is blocked in prod, applied in dev.

A git repository made from the example environments is deployed to dev (policy
warn, branch main) and prod (policy enforce, release tags gated by rc tags) in
kubesim. Then one commit adds one violation in the base (a privileged web
container) and one excepted finding (the api Service becomes a NodePort, with a
`sluice.dev/policy-exception.services.external-type` annotation), tagged
v1.1.0-rc.1 and v1.1.0. Checked through the real CLI:

- `sluice check` blocks prod, warns in dev, names rule, object and file:line,
  and lists the exception with its reason (text and JSON);
- `sluice diff prod` and `sluice reconcile prod` are refused with the rule,
  object and file:line,
  and kubesim saw no write request at all (no dry run either) and its global
  resourceVersion did not move; `sluice status` / `history` say why and prod
  stays on its previous revision;
- `sluice reconcile dev` applies the revision (the privileged container is
  live) and reports the violation and the exception in its output;
- a follow-up release without the violation goes to prod, the excepted
  NodePort Service included.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Checks, Harness  # noqa: E402

check = Checks()
WEB = "environments/base/web/deployment.yaml"
API_SVC = "environments/base/api/service.yaml"
RULE = "baseline.privileged"
# Checks of how findings that do not block are reported (CLI, daemon log, metrics): a test of
# their own (e2e_policies_reporting), so that the decision checks stay a separate signal.
REPORTING = "reporting"
EXC_RULE = "services.external-type"
REASON = "e2e: the partner VPN reaches the api through a node port, INC-4711"


def main():
    h = Harness("sluice-e2e-policy-")
    try:
        return run(h)
    finally:
        h.close()


def web_privileged(h, ns):
    d = h.find("Deployment", ns, "web")
    if d is None:
        return None
    c = d["spec"]["template"]["spec"]["containers"][0]
    return bool(c.get("securityContext", {}).get("privileged"))


def svc_type(h, ns):
    s = h.find("Service", ns, "api")
    return None if s is None else s["spec"].get("type")


def run(h):
    h.start_kubesim()
    h.init_repo()
    c1 = h.commit("import the shop", "v1.0.0-rc.1", "v1.0.0")
    config = """environments:
  - name: dev
    path: environments/dev
    namespace: shop-dev
    healthTimeout: 20s
    policy: warn
  - name: prod
    path: environments/prod
    namespace: shop-prod
    healthTimeout: 20s
    policy: enforce
"""
    h.write_config(config)
    for env in ("dev", "prod"):
        r = h.sluice(f"reconcile-{env}-c1", "reconcile", env, "--once")
        check(r.rc == 0 and f"{env}: healthy at {c1[:12]}" in r.out,
              f"{env} deploys the clean import", r.tail())
    check(web_privileged(h, "shop-prod") is False and svc_type(h, "shop-prod") == "ClusterIP",
          "prod runs the clean web Deployment and a ClusterIP api Service")

    # ---- one violation in the base, one excepted finding ----
    h.edit(WEB, "            allowPrivilegeEscalation: false\n",
           "            allowPrivilegeEscalation: false\n            privileged: true\n")
    h.edit(API_SVC, "  labels:\n",
           f"  annotations:\n    sluice.dev/policy-exception.{EXC_RULE}: \"{REASON}\"\n"
           "  labels:\n")
    h.edit(API_SVC, "spec:\n", "spec:\n  type: NodePort\n")
    field_line = h.line_of(WEB, "privileged: true")
    c2 = h.commit("web: run privileged (violates baseline.privileged)", "v1.1.0-rc.1", "v1.1.0")

    # ---- sluice check: the offline view of the same decision ----
    r = h.sluice("check", "check", "--repo", h.repo)
    want_prod = (f"{WEB}:{field_line}: {RULE}: Deployment shop-prod/web container \"web\" "
                 "runs privileged")
    check(r.rc == 1, "check exits 1: prod is blocked", r.tail())
    check(re.search(r"^prod \(enforce\): \d+ objects, \d+ rules: 1 violation \(1 blocking\), "
                    r"1 exception$", r.out, re.M) is not None,
          "check: prod has one blocking violation and one exception", r.tail())
    check(re.search(r"^dev \(warn\): \d+ objects, \d+ rules: 1 violation \(0 blocking\), "
                    r"1 exception$", r.out, re.M) is not None,
          "check: dev has one non-blocking violation and one exception", r.tail())
    check(want_prod in r.out, "check names file:line of the field, rule and object", r.tail())
    check(f"{EXC_RULE}: Service shop-prod/api" in r.out and f"(excepted: {REASON})" in r.out,
          "check lists the exception with its reason", r.tail())
    r = h.sluice("check-json", "check", "--repo", h.repo, "-o", "json")
    doc = r.json() or {}
    envs = {e.get("environment"): e for e in doc.get("environments", [])}
    pf = envs.get("prod", {}).get("findings", [])
    check(any(f.get("rule") == RULE and f.get("blocking") and not f.get("excepted")
              and f.get("file") == WEB and f.get("line") == field_line
              and f.get("namespace") == "shop-prod" and f.get("name") == "web" for f in pf),
          "check -o json: the blocking finding with file and line", json.dumps(pf)[:600])
    check(any(f.get("rule") == EXC_RULE and f.get("excepted") and f.get("reason") == REASON
              for f in pf), "check -o json: the exception with its reason")
    check(doc.get("ok") is False and doc.get("blocking", 0) >= 1, "check -o json: not ok")

    # ---- prod (enforce): rejected, cluster untouched ----
    before = h.objects()["resourceVersion"]
    h.reset_requests()
    r = h.sluice("diff-prod-c2", "diff", "prod")
    check(r.rc == 2 and RULE in r.both and "Deployment shop-prod/web" in r.both,
          "diff prod refuses the revision, naming the rule and object", r.tail())
    r = h.sluice("reconcile-prod-c2", "reconcile", "prod", "--once")
    reqs = h.requests()
    writes = h.writes(include_dry_run=True)
    check(r.rc == 1, "reconcile prod exits 1", r.tail())
    check("rejected" in r.both, "reconcile prod: result rejected", r.tail())
    m = re.search(re.escape(WEB) + r":(\d+): " + re.escape(RULE) +
                  r": Deployment shop-prod/web container \"web\" runs privileged", r.both)
    check(m is not None, "reconcile prod names the rule, the object and file:line", r.tail())
    if m and int(m.group(1)) != field_line:
        print(f"note reconcile points at {WEB}:{m.group(1)} (the document), "
              f"check at :{field_line} (the field)")
    check(not writes, "kubesim saw no write request from the rejected reconcile (no dry run)",
          f"{writes[:5]}")
    check(h.objects()["resourceVersion"] == before,
          "kubesim's resourceVersion did not move", f"{before} -> {h.objects()['resourceVersion']}")
    print(f"     requests during the rejected reconcile: {reqs.get('total')} {reqs.get('byVerb')}")
    check(web_privileged(h, "shop-prod") is False and svc_type(h, "shop-prod") == "ClusterIP",
          "prod still runs the previous revision's objects")
    r = h.sluice("reconcile-prod-c2-json", "reconcile", "prod", "--once", "-o", "json")
    text = r.out
    check(r.rc == 1 and RULE in text and "shop-prod/web" in text and c2 in text,
          "reconcile prod -o json: rejected, names the rule, object and revision", r.tail())
    check(not h.writes(include_dry_run=True), "still no write after the second attempt")

    r = h.sluice("status-json", "status", "-o", "json")
    st = {e.get("environment"): e for e in (r.json() or [])}
    prod = st.get("prod", {})
    msg = (prod.get("last") or {}).get("message") or ""
    check((prod.get("last") or {}).get("result") == "rejected", "status -o json: prod rejected",
          json.dumps(prod)[:400])
    check(prod.get("appliedRevision") == c1 and (prod.get("lastGood") or {}).get("revision") == c1,
          "status -o json: prod stays on the previous revision")
    check(RULE in msg and "Deployment shop-prod/web" in msg and re.search(re.escape(WEB) + r":\d+", msg),
          "status -o json: the message names rule, object and file:line", msg)
    r = h.sluice("status", "status")
    prod_line = next((l for l in r.out.splitlines() if l.startswith("prod")), "")
    check("rejected" in prod_line and c1[:12] in prod_line, "status: prod rejected, on c1",
          r.out)
    r = h.sluice("history-prod", "history", "prod")
    check(r.rc == 0 and "rejected" in r.out and RULE in r.out and c2[:12] in r.out,
          "history prod: the rejected revision with the rule", r.tail())

    # ---- dev (warn): applied, violation reported ----
    h.reset_requests()
    r = h.sluice("reconcile-dev-c2", "reconcile", "dev", "--once")
    check(r.rc == 0 and f"dev: healthy at {c2[:12]}" in r.out,
          "dev (warn) applies the violating revision", r.tail())
    check(web_privileged(h, "shop-dev") is True and svc_type(h, "shop-dev") == "NodePort",
          "dev runs the privileged container and the NodePort Service")
    lines = [l for l in r.both.splitlines() if RULE in l]
    check(any("shop-dev/web" in l and re.search(re.escape(WEB) + r":\d+", l) for l in lines),
          "reconcile dev reports the warn-mode violation (rule, object, file:line on one line)",
          r.tail(8), group=REPORTING)
    check(any(EXC_RULE in l and REASON in l for l in r.both.splitlines()),
          "reconcile dev lists the exception with its reason", r.tail(8), group=REPORTING)
    r = h.sluice("status-dev-warn", "status")
    check(any(l.startswith("dev: policy (warn)") and RULE in l and "exception" in l
              for l in r.out.splitlines()),
          "status shows dev's warn-mode violations by rule and its exceptions", r.tail(8),
          group=REPORTING)

    # ---- the daemon: same decisions, in its log line and metrics ----
    h.write_config(config + "http:\n  listen: 127.0.0.1:0\n")
    h.reset_requests()
    h.start_daemon("run", "-v")
    m = h.wait_daemon_log(r"msg=started .*port=(\d+)")
    port = int(m.group(1)) if m else 0
    prod_line = h.wait_daemon_log(r"^.*msg=reconciled env=prod .*$")
    dev_line = h.wait_daemon_log(r"^.*msg=reconciled env=dev .*$")
    prod_line = prod_line.group(0) if prod_line else ""
    check("result=denied" in prod_line and RULE in prod_line and "shop-prod/web" in prod_line,
          "sluice run: prod denied, the log line names the rule and object", prod_line or
          h.daemon_log()[-1500:], group=REPORTING)
    check(dev_line is not None and "result=unchanged" in dev_line.group(0),
          "sluice run: dev in sync at the violating revision")
    log = h.daemon_log()
    check(any(RULE in l and "shop-dev/web" in l for l in log.splitlines()),
          "sluice run logs dev's warn-mode violation", group=REPORTING)
    metrics = h.http_get(port, "/metrics") if port else ""
    with open(os.path.join(h.outdir, "metrics.txt"), "w") as f:
        f.write(metrics)
    mm = re.search(r'^sluice_policy_violations_total\{[^}]*environment="prod"[^}]*rule="'
                   + re.escape(RULE) + r'"[^}]*\} (\d+)', metrics, re.M)
    check(mm is not None and int(mm.group(1)) >= 1,
          "metrics: sluice_policy_violations_total counts prod's violation",
          "\n     ".join(l for l in metrics.splitlines() if "violation" in l), group=REPORTING)
    mm = re.search(r'^sluice_policy_violations_total\{[^}]*environment="dev"[^}]*rule="'
                   + re.escape(RULE) + r'"[^}]*\} (\d+)', metrics, re.M)
    check(mm is not None and int(mm.group(1)) >= 1,
          "metrics: sluice_policy_violations_total counts dev's warn-mode violation",
          group=REPORTING)
    check(re.search(r'^sluice_reconciles_total\{[^}]*environment="prod"[^}]*result="denied"[^}]*\} 1',
                    metrics, re.M) is not None, "metrics: prod's run counted as denied")
    check(h.stop_daemon() == 0, "sluice run stops on SIGTERM")
    check(not h.writes(include_dry_run=True), "the daemon wrote nothing (dev in sync, prod denied)",
          f"{h.writes(include_dry_run=True)[:4]}")
    h.write_config(config)

    # ---- the fix goes to prod; the exception holds in enforce mode ----
    h.edit(WEB, "            privileged: true\n", "")
    c3 = h.commit("web: no longer privileged", "v1.1.1-rc.1", "v1.1.1")
    r = h.sluice("reconcile-prod-c3", "reconcile", "prod", "--once")
    check(r.rc == 0 and f"prod: healthy at {c3[:12]}" in r.out,
          "prod deploys the fixed release (the excepted finding does not block)", r.tail())
    check(web_privileged(h, "shop-prod") is False and svc_type(h, "shop-prod") == "NodePort",
          "prod runs the excepted NodePort Service, no privileged container")
    svc = h.find("Service", "shop-prod", "api") or {}
    check((svc.get("metadata", {}).get("annotations") or {}).get(
        f"sluice.dev/policy-exception.{EXC_RULE}") == REASON,
          "the exception annotation is on the live object")
    if "--reporting" in sys.argv[1:]:
        return check.summary("e2e_policies_reporting", REPORTING)
    return check.summary("e2e_policies", "main")


if __name__ == "__main__":
    sys.exit(main())
