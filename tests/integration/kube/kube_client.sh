#!/bin/bash
# Runs the Kubernetes client driver (kube_itest, a C program linking sluice_kube)
# against kubesim over HTTPS: certificates are generated here with openssl, kubesim
# accepts a bearer token, a read-only token and client certificates signed by the
# test CA. Every process started here is killed on exit.
set -euo pipefail
KUBESIM=$(readlink -f "${1:?usage: kube_client.sh KUBESIM KUBE_ITEST}")
ITEST=$(readlink -f "${2:?usage: kube_client.sh KUBESIM KUBE_ITEST}")
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kube-it-XXXXXX")
pid=""
proxy_pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$proxy_pid" ]; then
    kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
q() { openssl "$@" >/dev/null 2>&1; }
# CA, server certificate for 127.0.0.1 and kubesim.test, client certificate (CN sluice-client),
# and a second CA that signed nothing the server uses (for the wrong-CA case).
q req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
  -days 2 -subj /CN=sluice-test-ca
q req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key \
  -out other-ca.crt -days 2 -subj /CN=other-ca
q req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj /CN=kubesim
printf 'subjectAltName=IP:127.0.0.1,DNS:kubesim.test\nextendedKeyUsage=serverAuth\n' > server.ext
q x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile server.ext
q req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr \
  -subj /CN=sluice-client
printf 'extendedKeyUsage=clientAuth\n' > client.ext
q x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 \
  -extfile client.ext
for f in ca.crt server.crt server.key client.crt client.key; do
  [ -s "$f" ] || { echo "openssl did not produce $f" >&2; exit 1; }
done

"$KUBESIM" --listen 127.0.0.1:0 --port-file "$work/port" --tls-cert server.crt \
  --tls-key server.key --client-ca ca.crt --token it-token --readonly-token ro-token \
  --ready-delay 200ms --kubeconfig-out "$work/kubesim.kubeconfig" --kubeconfig-ca ca.crt \
  2>"$work/kubesim.log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "kubesim did not start" >&2; cat "$work/kubesim.log" >&2; exit 1; }

# A CONNECT proxy for the proxy-url case.
python3 "$here/connect_proxy.py" "$work/proxy.port" "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
[ -s "$work/proxy.port" ] || { echo "proxy did not start" >&2; exit 1; }

export KS_PORT=$(cat "$work/port") KS_DIR="$work" KS_TOKEN=it-token KS_RO_TOKEN=ro-token
export KS_PROXY_PORT=$(cat "$work/proxy.port")
# The proxy case must go through proxy-url alone; no proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
export CMOCKA_MESSAGE_OUTPUT=stdout
# KUBE_ITEST_WRAPPER runs the driver under a tool, e.g. "valgrind --error-exitcode=9".
if ! ${KUBE_ITEST_WRAPPER:-} "$ITEST"; then
  echo "--- kubesim log (tail)" >&2
  tail -n 40 "$work/kubesim.log" >&2
  exit 1
fi
