#!/usr/bin/env python3
"""Generate the render benchmark tree: a base of N Deployments (about 40
lines each) and a prod overlay with namePrefix, commonLabels, images and one
strategic-merge patch targeted by labelSelector at every Deployment.

usage: gen.py N DIR
"""
import os
import sys

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  labels:
    app: app-{i}
    tier: backend
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
        tier: backend
    spec:
      serviceAccountName: app-{i}
      containers:
      - name: main
        image: registry.example.com/team/app:1.0.{i}
        args: ["--port=8080", "--id={i}"]
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: APP_ID
          value: "{i}"
        - name: LOG_LEVEL
          value: info
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
"""

OVERLAY = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
namePrefix: prod-
commonLabels:
  env: prod
images:
- name: registry.example.com/team/app
  newName: registry.example.com/team/app-prod
  newTag: "2.0.0"
patches:
- target:
    kind: Deployment
    labelSelector: tier=backend
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: main
            env:
            - name: LOG_LEVEL
              value: warn
            resources:
              limits:
                memory: 512Mi
"""


def main():
    n = int(sys.argv[1])
    root = sys.argv[2]
    base = os.path.join(root, "base")
    prod = os.path.join(root, "overlays", "prod")
    os.makedirs(base, exist_ok=True)
    os.makedirs(prod, exist_ok=True)
    with open(os.path.join(base, "deployments.yaml"), "w") as f:
        f.write("---\n".join(DEPLOY.format(i=i) for i in range(n)))
    with open(os.path.join(base, "kustomization.yaml"), "w") as f:
        f.write("resources:\n- deployments.yaml\n")
    with open(os.path.join(prod, "kustomization.yaml"), "w") as f:
        f.write(OVERLAY)


if __name__ == "__main__":
    main()
