#!/usr/bin/env python3
"""Smart HTTP git server for tests: `git http-backend` behind http.server on
127.0.0.1, with optional basic auth or bearer token. Logs one line per request
("METHOD PATH STATUS") so tests can count round trips."""
import argparse
import base64
import http.server
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--basic", help="user:password")
    ap.add_argument("--token")
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True, help="file created once listening")
    ap.add_argument("--tls-cert", help="serve https with this certificate chain")
    ap.add_argument("--tls-key")
    ap.add_argument("--redirect", help="answer every request with a 302 to this base URL")
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def record(self, status):
            auth = self.headers.get("Authorization", "none").split(" ")[0].lower()
            with open(args.log, "a") as f:
                f.write("%s %s %d auth=%s\n" % (self.command, self.path, status, auth))

        def deny(self, scheme):
            # No body: libgit2 1.5 does not always drain a 401 body before
            # re-sending on the same connection.
            self.send_response(401)
            self.send_header("WWW-Authenticate", '%s realm="git"' % scheme)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.record(401)

        def authorized(self):
            got = self.headers.get("Authorization", "")
            if args.basic:
                want = "Basic " + base64.b64encode(args.basic.encode()).decode()
                if got != want:
                    self.deny("Basic")
                    return False
            if args.token:
                if got != "Bearer " + args.token:
                    self.deny("Bearer")
                    return False
            return True

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length", "0"))
            return self.rfile.read(n) if n else b""

        def handle_git(self):
            data = self.body() if self.command == "POST" else b""
            if args.redirect:
                self.send_response(302)
                self.send_header("Location", args.redirect + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.record(302)
                return
            if not self.authorized():
                return
            path, _, query = self.path.partition("?")
            env = dict(os.environ)
            env.update({
                "GIT_PROJECT_ROOT": args.root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(data)),
                "REMOTE_ADDR": "127.0.0.1",
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            })
            if self.headers.get("Content-Encoding", "") == "gzip":
                env["HTTP_CONTENT_ENCODING"] = "gzip"
            p = subprocess.run(["git", "http-backend"], input=data, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            head, _, rest = p.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, rest = p.stdout.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                else:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(rest)))
            self.end_headers()
            try:
                self.wfile.write(rest)
            except (OSError, ValueError):
                pass
            self.record(status)

        do_GET = handle_git
        do_POST = handle_git

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    open(args.ready, "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
