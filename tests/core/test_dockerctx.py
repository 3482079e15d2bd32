import json
from pathlib import Path

import pytest

from docker_vpn_helper.core.dockerctx import (
    Context,
    Endpoint,
    context_name,
    differences,
    parse_inspect,
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
        "tcp://localhost:2376", False, "desc", Path("/h/.docker/contexts/tls/abc/docker")
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
