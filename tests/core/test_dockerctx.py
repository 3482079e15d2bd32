import json
from pathlib import Path

import pytest

from docker_vpn_helper.core.dockerctx import (
    Context,
    Endpoint,
    Expected,
    Target,
    context_name,
    differences,
    judge_target,
    parse_inspect,
    target_from_context,
    target_from_environment,
)


@pytest.mark.parametrize(
    ("machine", "name"),
    [("dev", "dev"), ("my.vm-2", "my.vm-2"), ("default", "docker-machine-default"),
     ("a", "docker-machine-a")],
)  # fmt: skip
def test_context_is_named_after_the_machine_unless_docker_refuses_the_name(machine, name):
    assert context_name(machine) == name


def test_spec_names_host_and_the_three_tls_files():
    endpoint = Endpoint("tcp://localhost:2376", Path("/s/machines/dev"), "d")
    assert endpoint.spec() == (
        "host=tcp://localhost:2376,ca=/s/machines/dev/ca.pem,"
        "cert=/s/machines/dev/cert.pem,key=/s/machines/dev/key.pem"
    )
    assert Endpoint("tcp://x:1", Path("/a=b/m"), "d").spec().endswith("key=/a=b/m/key.pem")


@pytest.mark.parametrize("folder", ["/Users/me/a,b/machines/dev", '/x/"q"/dev'])
def test_spec_refuses_paths_the_csv_syntax_cannot_carry(folder):
    with pytest.raises(ValueError, match="cannot carry"):
        Endpoint("tcp://localhost:2376", Path(folder), "d").spec()


def inspect_output(tls_path="/h/.docker/contexts/tls/abc", host="tcp://localhost:2376"):
    return json.dumps(
        [
            {
                "Name": "dev",
                "Metadata": {"Description": "desc"},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
                "TLSMaterial": {"docker": ["ca.pem", "cert.pem", "key.pem"]},
                "Storage": {"MetadataPath": "/h/meta", "TLSPath": tls_path},
            }
        ]
    )


def test_parse_inspect():
    assert parse_inspect(inspect_output()) == Context(
        "tcp://localhost:2376", False, "desc", Path("/h/.docker/contexts/tls/abc/docker"), "dev"
    )
    assert parse_inspect("[]\n") is None
    with pytest.raises(ValueError):
        parse_inspect("context not found")


def test_differences_compare_the_tls_files_by_content(tmp_path):
    mine, theirs = tmp_path / "machine", tmp_path / "copies"
    for folder in (mine, theirs):
        folder.mkdir()
        for name in ("ca.pem", "cert.pem", "key.pem"):
            (folder / name).write_text(name)
    wanted = Endpoint("tcp://localhost:2376", mine, "desc")
    current = Context("tcp://localhost:2376", False, "desc", theirs)
    assert differences(current, wanted) == []
    (mine / "ca.pem").write_text("a new CA")
    assert differences(current, wanted) == ["other ca.pem"]
    stale = Context("tcp://localhost:2377", True, "old", None)
    assert differences(stale, wanted) == [
        "host tcp://localhost:2377",
        "TLS verification off",
        "another description",
        "no TLS files",
    ]


# -- what the user's docker talks to (doctor, issue 17 item 4) -----------------------------


def machine_folder(tmp_path):
    folder = tmp_path / "machines" / "dev"
    folder.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (folder / name).write_text(f"{name} of dev")
    return folder


def expected(folder, **changes):
    values = dict(
        machine="dev",
        port=2377,
        cert_dir=folder,
        vm_ip="192.168.99.100",
        daemon_port=2376,
        others={2376: "default"},
    )
    values.update(changes)
    return Expected(**values)


def judge(environ, folder, hijacked=None):
    target = target_from_environment({"HOME": "/home/me", **environ})
    assert target is not None
    return judge_target(target, expected(folder), hijacked)


def test_docker_host_wins_and_takes_the_tls_variables(tmp_path):
    assert target_from_environment({"DOCKER_CONTEXT": "dev"}) is None
    target = target_from_environment({"DOCKER_HOST": "tcp://localhost:2377", "HOME": "/h"})
    assert target == Target("DOCKER_HOST=tcp://localhost:2377", "tcp://localhost:2377", False,
                            Path("/h/.docker"))  # fmt: skip


def test_the_machines_forward_with_its_certificates_is_ok(tmp_path):
    folder = machine_folder(tmp_path)
    env = {"DOCKER_HOST": "tcp://localhost:2377", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(folder)}  # fmt: skip
    assert judge(env, folder)[0] == "ok"
    assert judge({**env, "DOCKER_HOST": "tcp://127.0.0.1:2377"}, folder)[0] == "ok"
    status, seen = judge({**env, "DOCKER_TLS_VERIFY": ""}, folder)
    assert status == "fail" and "plain HTTP" in seen
    status, seen = judge({**env, "DOCKER_CERT_PATH": str(tmp_path)}, folder)
    assert status == "fail" and "the daemon refuses them" in seen


def test_the_vms_address_fails_on_the_vpn_and_warns_off_it(tmp_path):
    folder = machine_folder(tmp_path)
    env = {"DOCKER_HOST": "tcp://192.168.99.100:2376", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(folder)}  # fmt: skip
    status, seen = judge(env, folder, hijacked=True)
    assert status == "fail"
    assert seen == (
        "DOCKER_HOST=tcp://192.168.99.100:2376: the VPN took the route to 192.168.99.100, so "
        "docker hangs; tcp://localhost:2377 reaches the same daemon"
    )
    assert judge(env, folder, hijacked=False)[0] == "warn"


def test_another_machine_warns_anything_else_fails(tmp_path):
    folder = machine_folder(tmp_path)
    assert judge({"DOCKER_HOST": "tcp://localhost:2376"}, folder) == (
        "warn", "DOCKER_HOST=tcp://localhost:2376: machine 'default', not 'dev'"
    )  # fmt: skip
    status, seen = judge({"DOCKER_HOST": "unix:///var/run/docker.sock"}, folder)
    assert status == "fail" and "a local daemon" in seen
    assert judge({"DOCKER_HOST": "ssh://docker-machine-dev"}, folder)[0] == "ok"


def test_a_context_is_judged_by_its_endpoint_and_copies(tmp_path):
    folder = machine_folder(tmp_path)
    copies = tmp_path / "copies"
    copies.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (copies / name).write_text(f"{name} of dev")
    context = Context("tcp://localhost:2377", False, "", copies, "dev")
    target = target_from_context(context, "docker context use")
    assert target.via == "docker context 'dev' (docker context use)"
    assert judge_target(target, expected(folder), None)[0] == "ok"
    builtin = Context("unix:///var/run/docker.sock", False, "", None, "default")
    status, _ = judge_target(target_from_context(builtin, "docker's own"), expected(folder), None)
    assert status == "fail"
