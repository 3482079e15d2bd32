"""The minikube-like guest's Kubernetes API server: as much of one as kubectl needs for
`kubectl get nodes` and `kubectl get --raw /healthz`, behind the TLS a real one has.

It serves HTTPS with the profile's apiserver.crt (signed by the cluster CA) and demands a
client certificate signed by that CA, as kube-apiserver's --client-ca-file does; without one
the handshake fails. Paths: /healthz /livez /readyz, /version, discovery (/api, /apis,
/api/v1: nodes only) and /api/v1/nodes[/NAME], as a Table when kubectl asks for one.
Standard library only: it runs on the guest's system Python (python3 -I -S).

    apiserver.py CERT KEY CLIENT_CA PORT NODE_NAME NODE_IP KUBERNETES_VERSION
"""

import datetime
import http.server
import json
import ssl
import sys
import uuid
from typing import ClassVar

STARTED = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
NODE_UID = str(uuid.uuid4())


def timestamp():
    return STARTED.strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name, ip, version):
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": NODE_UID,
            "resourceVersion": "1",
            "creationTimestamp": timestamp(),
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "minikube.k8s.io/name": name,
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": timestamp(),
                    "lastTransitionTime": timestamp(),
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": version,
                "kubeProxyVersion": version,
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "docker://24.0.7",
                "osImage": "Buildroot 2021.02.12",
            },
        },
    }


def age():
    seconds = int((datetime.datetime.now(datetime.timezone.utc) - STARTED).total_seconds())
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


def table(item):
    columns = [("Name", "name"), ("Status", ""), ("Roles", ""), ("Age", ""), ("Version", "")]
    meta = item["metadata"]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [
            {"name": n, "type": "string", "format": f, "description": n, "priority": 0}
            for n, f in columns
        ],
        "rows": [
            {
                "cells": [
                    meta["name"],
                    "Ready",
                    "control-plane",
                    age(),
                    item["status"]["nodeInfo"]["kubeletVersion"],
                ],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                },
            }
        ],
    }


def discovery(path, ip, port):
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{ip}:{port}"}
            ],
        }
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
    if path == "/api/v1":
        nodes = {
            "name": "nodes",
            "singularName": "node",
            "namespaced": False,
            "kind": "Node",
            "verbs": ["get", "list"],
            "shortNames": ["no"],
        }
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [nodes]}
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config: ClassVar[dict] = {}

    def log_message(self, format, *args):
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def send(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        c = self.config
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        item = node(c["name"], c["ip"], c["version"])
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            major, minor = c["version"].lstrip("v").split(".")[:2]
            return self.send(200, {"major": major, "minor": minor, "gitVersion": c["version"]})
        answer = discovery(path, c["ip"], c["port"])
        if answer is None and path in ("/api/v1/nodes", f"/api/v1/nodes/{c['name']}"):
            wants_table = "as=Table" in self.headers.get("Accept", "")
            if wants_table:
                answer = table(item)
            elif path.endswith("/nodes"):
                answer = {"kind": "NodeList", "apiVersion": "v1", "items": [item]}
            else:
                answer = item
        if answer is None:
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
            return self.send(404, {**status, "reason": "NotFound", "code": 404})
        return self.send(200, answer)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    context = None

    def finish_request(self, request, client_address):
        # The handshake in the connection's own thread: one stuck client stalls no other.
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            sys.stderr.write(f"{client_address[0]} TLS handshake refused: {exc}\n")
            return
        super().finish_request(request, client_address)


def main(argv):
    cert, key, client_ca, port, name, ip, version = argv
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    Handler.config = {"name": name, "ip": ip, "port": int(port), "version": version}
    server = Server(("0.0.0.0", int(port)), Handler)
    server.context = context
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
