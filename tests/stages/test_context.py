import json
import shutil

import pytest

from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import context as ctx
from docker_vpn_helper.stages import step

from ..support.runs import session_for
from .standins import cmd, commands, context, fail, ok

INSPECT = cmd("docker", "context", "inspect", "docker-machine-default")
NOT_FOUND = fail(
    'context "docker-machine-default": context not found: open /h/meta.json: no such file'
)


def description(port=2376):
    return f"docker-machine default through tcp://localhost:{port} (docker-vpn-helper)"


def spec(store):
    folder = store / "machines" / "default"
    return (
        f"host=tcp://localhost:2376,ca={folder}/ca.pem,cert={folder}/cert.pem,key={folder}/key.pem"
    )


def write(store, action):
    return cmd(
        "docker", "context", action, "docker-machine-default",
        "--description", description(), "--docker", spec(store),
    )  # fmt: skip


def inspected(tls_dir, host="tcp://localhost:2376"):
    return ok(
        json.dumps(
            [
                {
                    "Name": "docker-machine-default",
                    "Metadata": {"Description": description()},
                    "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
                    "TLSMaterial": {"docker": ["ca.pem", "cert.pem", "key.pem"]},
                    "Storage": {"MetadataPath": "/h/meta", "TLSPath": str(tls_dir)},
                }
            ]
        )
    )


def copies(store, tmp_path):
    """docker's copies of the machine's TLS files, as `docker context create` leaves them."""
    tls = tmp_path / "tls"
    (tls / "docker").mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(store / "machines" / "default" / name, tls / "docker" / name)
    return tls


def run(store, results, dry_run=False):
    c = context(results)
    step(session_for(c, "default", str(store), dry_run=dry_run), ctx.STAGE)
    return c


def test_missing_context_is_created(store, capsys):
    c = run(store, {INSPECT: NOT_FOUND, write(store, "create"): ok("docker-machine-default\n")})
    assert commands(c) == [INSPECT, write(store, "create")]
    assert "created docker context 'docker-machine-default'" in capsys.readouterr().err


def test_identical_context_is_left_alone(store, tmp_path, capsys):
    c = run(store, {INSPECT: inspected(copies(store, tmp_path))})
    assert commands(c) == [INSPECT]
    assert "nothing to do" in capsys.readouterr().err


def test_context_with_another_port_or_stale_certificates_is_updated(store, tmp_path, capsys):
    tls = copies(store, tmp_path)
    (tls / "docker" / "ca.pem").write_text("an old CA")
    results = {INSPECT: inspected(tls, "tcp://localhost:2377"), write(store, "update"): ok()}
    c = run(store, results)
    assert commands(c) == [INSPECT, write(store, "update")]
    assert "(it has host tcp://localhost:2377, other ca.pem)" in capsys.readouterr().err


def test_dry_run_only_inspects(store, capsys):
    c = run(store, {INSPECT: NOT_FOUND}, dry_run=True)
    assert commands(c) == [INSPECT]
    err = capsys.readouterr().err
    assert "would run: docker context create docker-machine-default --description " in err


def test_a_store_path_with_a_comma_is_refused_before_docker_runs(store, tmp_path):
    odd = tmp_path / "my,store"
    shutil.copytree(store, odd)
    c = context({})
    with pytest.raises(HelperError, match=r"contains a comma.*cannot carry"):
        step(session_for(c, "default", str(odd)), ctx.STAGE)
    assert commands(c) == []


def test_docker_failing_is_one_line(store):
    with pytest.raises(
        HelperError, match="docker context create docker-machine-default failed: boom"
    ):
        run(store, {INSPECT: NOT_FOUND, write(store, "create"): fail("boom")})
