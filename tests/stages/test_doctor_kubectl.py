"""doctor's kubectl findings for minikube's VMs (issue 24): the API server's forward, our
kubeconfig's server and whether kubectl in this shell reads our kubeconfig first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docker_vpn_helper.core import minikube
from docker_vpn_helper.stages import apiserver, doctor

from ..support import minikube as mk
from ..support.runs import close_all, session_for
from .standins import cmd, context, ok, showvminfo

SSH = "ssh,tcp,127.0.0.1,50158,,22"
API_RULE = "apiserver,tcp,127.0.0.1,8443,,8443"
SHOW = cmd("VBoxManage", "showvminfo", "minikube", "--machinereadable")
LIST = cmd("VBoxManage", "list", "vms")
OLD = "the API server's certificate of profile 'minikube' does not name 127.0.0.1 (minikube ..."


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kube")
    mk.minikube_world(root, mk.Node())
    return root / ".minikube"


@pytest.fixture
def home(template, tmp_path) -> Path:
    return mk.copy_home(template, tmp_path)


# rule: the API forward is there; written: our kubeconfig's port (None: no file); first: where
# KUBECONFIG names ours (None: unset); problem: what judging the served certificate says.
CASES = {
    "nothing yet": (False, None, None, "", ["fail", "fail", "fail"]),
    "all in place": (True, 8443, 0, "", ["ok", "ok", "ok"]),
    "kubeconfig for another port": (True, 8444, 0, "", ["ok", "fail", "ok"]),
    "ours named second": (True, 8443, 1, "", ["ok", "ok", "fail"]),
    "certificate without 127.0.0.1": (True, 8443, 0, OLD, ["fail", "ok", "ok"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_doctor_s_kubectl_findings(home, monkeypatch, case):
    rule, written, first, problem, statuses = CASES[case]
    monkeypatch.setattr(apiserver, "judge", lambda s, port: problem)
    monkeypatch.setattr(apiserver, "port_listener", lambda port: False)
    profile = minikube.load_profile(home, "minikube")
    ours = profile.kubeconfig
    if written is not None:
        ours.write_bytes(minikube.render_kubeconfig(minikube.kubeconfig(profile, written)))
    if first is None:
        monkeypatch.delenv("KUBECONFIG", raising=False)
    else:
        files = [str(home.parent / ".kube" / "config")]
        files.insert(first, str(ours))
        monkeypatch.setenv("KUBECONFIG", os.pathsep.join(files))
    rules = (SSH, "docker,tcp,127.0.0.1,2376,,2376", *((API_RULE,) if rule else ()))
    c = context({SHOW: ok(showvminfo(rules=rules, name="minikube")), LIST: ok()})
    s = session_for(c, "minikube", str(home), dry_run=True)
    try:
        found = doctor.check_kubectl(s, doctor.Known())
    finally:
        close_all()
    assert [f.check for f in found] == ["API server forward", "kubeconfig", "kubectl in this shell"]
    assert [f.status for f in found] == statuses
    forward, kubeconfig, shell = found
    if not rule:
        assert forward.seen == "no NAT rule to the API server (8443)"
        assert forward.fix.endswith("fix --minikube --profile minikube")
    if problem:
        assert forward.seen == problem
    if kubeconfig.status == "fail":
        expected = "none" if written is None else f"https://127.0.0.1:{written}"
        assert f"server {expected}, not https://127.0.0.1:8443" in kubeconfig.seen
    else:
        assert kubeconfig.seen == f"{ours}: server https://127.0.0.1:8443"
    if shell.status == "fail":
        assert f"KUBECONFIG does not name {ours} first" in shell.seen
        assert "env.print --minikube --profile minikube" in shell.fix


def test_doctor_has_no_kubectl_findings_for_docker_machine(store):
    from .standins import RUNNING

    s = session_for(context(RUNNING), "default", str(store), dry_run=True)
    try:
        assert doctor.check_kubectl(s, doctor.Known()) == []
    finally:
        close_all()
