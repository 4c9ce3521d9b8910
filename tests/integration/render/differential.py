#!/usr/bin/env python3
"""Differential test: random overlays over a generated base, rendered by
`sluice build` and by `kubectl kustomize`, compared document by document as
canonical JSON (render_testtool yaml2json parses both the same way).

usage: differential.py RENDER_TESTTOOL [CASES] [SEED]
Environment: SLUICE (the binary). Failing trees are kept and named.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]
CASES = int(sys.argv[2]) if len(sys.argv) > 2 else 40
SEED0 = int(sys.argv[3]) if len(sys.argv) > 3 else 1
SLUICE = os.environ["SLUICE"]


def w(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def deployment(name, image, cm, secret, sa, tier):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
    tier: {tier}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {sa}
      containers:
      - name: main
        image: {image}
        env:
        - name: MODE
          value: base
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: {secret}
              key: password
        envFrom:
        - configMapRef:
            name: {cm}
        ports:
        - containerPort: 8080
        volumeMounts:
        - name: cfg
          mountPath: /etc/cfg
      - name: sidecar
        image: busybox:1.36
        args: ["sleep", "infinity"]
      volumes:
      - name: cfg
        configMap:
          name: {cm}
"""


def base(rng, root):
    names = [f"svc{i}" for i in range(rng.randint(1, 4))]
    res = []
    for n in names:
        tier = rng.choice(["frontend", "backend"])
        image = rng.choice(["nginx:1.25", "registry.example.com:5000/team/app:1.0", "busybox", "ghcr.io/org/tool@sha256:" + "a" * 64])
        w(f"{root}/base/{n}.yaml", deployment(n, image, "settings", "creds", "runner", tier) + f"""---
apiVersion: v1
kind: Service
metadata:
  name: {n}
spec:
  selector:
    app: {n}
  ports:
  - port: 80
    targetPort: 8080
""")
        res.append(f"{n}.yaml")
    w(f"{root}/base/extra.yaml", f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["settings"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
- kind: ServiceAccount
  name: runner
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {names[0]}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {names[0]}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  tls:
  - secretName: creds
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {names[0]}
            port:
              number: 80
""")
    res.append("extra.yaml")
    w(f"{root}/base/app.properties", "color=blue\nsize=10\n")
    w(f"{root}/base/kustomization.yaml", "resources:\n" + "".join(f"- {r}\n" for r in res) + """configMapGenerator:
- name: settings
  literals:
  - LOG_LEVEL=info
  files:
  - app.properties
secretGenerator:
- name: creds
  literals:
  - password=hunter2
""")
    return names


def overlay(rng, root, names):
    k = ["resources:", "- ../base"]
    if rng.random() < 0.6:
        k.append(f"namespace: {rng.choice(['prod', 'team-a', 'x'])}")
    if rng.random() < 0.5:
        k.append(f"namePrefix: {rng.choice(['p-', 'prod-', 'a'])}")
    if rng.random() < 0.4:
        k.append(f"nameSuffix: {rng.choice(['-s', '-v2'])}")
    if rng.random() < 0.3:
        k += ["commonLabels:", "  env: prod", "  team: \"42\""]
    if rng.random() < 0.4:
        k += ["labels:", "- pairs:", "    owner: team-a",
              f"  includeSelectors: {rng.choice(['true', 'false'])}",
              f"  includeTemplates: {rng.choice(['true', 'false'])}"]
    if rng.random() < 0.4:
        k += ["commonAnnotations:", "  note: \"hello: world\"", "  num: \"1\""]
    if rng.random() < 0.5:
        k += ["images:", "- name: nginx", "  newName: registry.example.com/nginx", "  newTag: \"1.27\"",
              "- name: busybox", f"  digest: sha256:{'b' * 64}"]
    if rng.random() < 0.4:
        k += ["replicas:", f"- name: {names[0]}", f"  count: {rng.randint(2, 9)}"]
    if rng.random() < 0.5:
        k += ["configMapGenerator:", "- name: settings", "  behavior: merge", "  literals:",
              f"  - LOG_LEVEL={rng.choice(['warn', 'debug'])}", "  - EXTRA='quoted value'"]
        if rng.random() < 0.5:
            w(f"{root}/overlay/extra.env", "# comment\nA=1\nB=two words\n")
            k += ["  envs:", "  - extra.env"]
    if rng.random() < 0.3:
        k += ["generatorOptions:", "  labels:", "    generated: \"yes\""]
    patches = []
    if rng.random() < 0.6:
        w(f"{root}/overlay/smp.yaml", f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {names[-1]}
spec:
  template:
    spec:
      containers:
      - name: main
        env:
        - name: MODE
          value: prod
        - name: NEW
          value: "1"
        resources:
          limits:
            memory: 256Mi
""")
        patches += ["- path: smp.yaml"]
    if rng.random() < 0.5:
        patches += ["- target:", "    kind: Deployment", f"    labelSelector: tier={rng.choice(['frontend', 'backend'])}",
                    "  patch: |-", "    - op: add", "      path: /spec/template/spec/containers/0/args",
                    "      value: [\"--verbose\"]", "    - op: replace", "      path: /spec/replicas", "      value: 4"]
    if rng.random() < 0.4:
        patches += ["- target:", "    kind: Service", "    name: svc.*",
                    "  patch: |-", "    apiVersion: v1", "    kind: Service", "    metadata:", "      name: ignored",
                    "      annotations:", "        patched: \"true\"", "    spec:", "      type: NodePort"]
    if rng.random() < 0.3:
        patches += ["- patch: |-", "    apiVersion: apps/v1", "    kind: Deployment", "    metadata:",
                    f"      name: {names[0]}", "    spec:", "      template:", "        spec:",
                    "          containers:", "          - name: sidecar", "            $patch: delete"]
    if patches:
        k += ["patches:"] + patches
    if rng.random() < 0.3:
        w(f"{root}/comp/kustomization.yaml", """apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
commonAnnotations:
  component: "on"
configMapGenerator:
- name: settings
  behavior: merge
  literals:
  - FROM_COMPONENT=1
""")
        k += ["components:", "- ../comp"]
    if rng.random() < 0.3:
        k += ["replacements:", "- source:", "    kind: ConfigMap", "    name: settings",
              "    fieldPath: metadata.name", "  targets:", "  - select:", "      kind: Deployment",
              "    fieldPaths:", "    - spec.template.metadata.annotations.config",
              "    options:", "      create: true"]
    if rng.random() < 0.3:
        w(f"{root}/overlay/json.yaml", "- op: add\n  path: /metadata/annotations\n  value:\n    json: patched\n")
        k += ["patchesJson6902:", "- target:", "    group: apps", "    version: v1", "    kind: Deployment",
              f"    name: {names[0]}", "  path: json.yaml"]
    if rng.random() < 0.3:
        w(f"{root}/overlay/psm.yaml", f"""apiVersion: v1
kind: Service
metadata:
  name: {names[-1]}
spec:
  ports:
  - port: 80
    targetPort: 9090
  - port: 443
    targetPort: 8443
""")
        k += ["patchesStrategicMerge:", "- psm.yaml"]
    if rng.random() < 0.3:
        w(f"{root}/overlay/tls.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        k += ["secretGenerator:", "- name: tls", "  type: kubernetes.io/tls", "  files:", "  - tls.crt",
              "  - tls.key=tls.crt"]
    if rng.random() < 0.2:
        k += ["sortOptions:", "  order: fifo"]
    w(f"{root}/overlay/kustomization.yaml", "\n".join(k) + "\n")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    fails = passes = same = 0
    for seed in range(SEED0, SEED0 + CASES):
        rng = random.Random(seed)
        root = tempfile.mkdtemp(prefix=f"sluice-diff-{seed}-")
        os.mkdir(os.path.join(root, ".git"))
        names = base(rng, root)
        overlay(rng, root, names)
        ov = os.path.join(root, "overlay")
        a = run([SLUICE, "build", ov])
        b = run(["kubectl", "kustomize", ov])
        ok = False
        if a.returncode != 0 or b.returncode != 0:
            msg = f"sluice rc={a.returncode} {a.stderr.strip()} | kubectl rc={b.returncode} {b.stderr.strip()}"
            ok = (a.returncode != 0) == (b.returncode != 0)
        else:
            for name, text in (("sluice.yaml", a.stdout), ("kubectl.yaml", b.stdout)):
                with open(os.path.join(root, name), "w") as f:
                    f.write(text)
            ja = run([TOOL, "yaml2json", os.path.join(root, "sluice.yaml")]).stdout
            jb = run([TOOL, "yaml2json", os.path.join(root, "kubectl.yaml")]).stdout
            ok = ja == jb
            msg = "differs" if not ok else ""
            if ok and a.stdout == b.stdout:
                same += 1
        if ok:
            passes += 1
            shutil.rmtree(root)
        else:
            fails += 1
            print(f"FAIL seed {seed}: {msg} (tree kept in {root})")
    print(f"{passes} passed, {fails} failed ({same} byte-identical)")
    return 0 if fails == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
