import json
import os
import stat
from pathlib import Path

import pytest

from docker_vpn_helper.core import store
from docker_vpn_helper.core.fsutil import backup_files
from docker_vpn_helper.errors import HelperError, StoreUnreadable

DATA = Path(__file__).parent / "data" / "store"


def make_store(tmp_path: Path, name: str, fixture: str, files=("id_rsa",)) -> Path:
    root = tmp_path / "my store's $HOME"
    folder = root / "machines" / name
    folder.mkdir(parents=True)
    (root / "certs").mkdir(exist_ok=True)
    text = (DATA / fixture).read_text().replace("{STORE}", str(root).replace('"', '\\"'))
    (folder / "config.json").write_text(text)
    os.chmod(folder / "config.json", 0o600)
    for f in files:
        (folder / f).write_text("x")
    return root


def test_reads_a_v3_config_as_docker_machine_writes_it(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    m = store.load_machine(root, "default")
    assert (m.config_version, m.driver_name, m.ip) == (3, "virtualbox", "192.168.99.100")
    assert (m.ssh_user, m.ssh_port, m.ssh_key) == (
        "docker",
        50157,
        root / "machines/default/id_rsa",
    )
    assert m.auth.ca_key == root / "certs" / "ca-key.pem"
    assert m.auth.server_cert == root / "machines/default/server.pem"
    assert m.server_cert_sans == ()
    assert m.host_only_cidr == "192.168.99.1/24"


def test_v1_config_gets_docker_machine_defaults(tmp_path):
    root = make_store(tmp_path, "dev", "config-v1.json")
    m = store.load_machine(root, "dev")
    assert m.config_version == 1
    assert m.ssh_user == "docker"  # empty SSHUser
    assert m.ssh_key == root / "machines/dev/id_rsa"  # no SSHKeyPath in v0.4
    assert m.auth.ca_key == root / "certs" / "ca-key.pem"  # v1 called it PrivateKeyPath
    assert m.host_only_cidr == store.DEFAULT_HOST_ONLY_CIDR


def test_stale_absolute_paths_fall_back_to_the_store_layout(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    config = root / "machines/default/config.json"
    config.write_text(config.read_text().replace(str(root), "/Users/gone/.docker/machine"))
    (root / "certs" / "ca.pem").write_text("x")
    m = store.load_machine(root, "default")
    assert m.auth.ca_cert == root / "certs" / "ca.pem"  # present here
    assert m.auth.client_cert == Path("/Users/gone/.docker/machine/certs/cert.pem")  # nowhere: keep


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("{not json", "is not valid JSON"),
        ("[]", "not a JSON object"),
        ("{}", "has neither Driver nor HostOptions"),
        ('{"ConfigVersion": 9, "Driver": {}}', "unsupported ConfigVersion 9"),
        ('{"ConfigVersion": 3, "Driver": {"SSHPort": "x"}}', "is not a port number"),
        ('{"Driver": {}, "HostOptions": []}', "HostOptions is not a JSON object"),
    ],
)
def test_bad_configs_are_one_line_errors_naming_the_file(tmp_path, content, message):
    root = make_store(tmp_path, "default", "config-v3.json")
    (root / "machines/default/config.json").write_text(content)
    with pytest.raises(HelperError) as caught:
        store.load_machine(root, "default")
    assert message in caught.value.message
    assert str(root / "machines/default/config.json") in caught.value.message
    assert "\n" not in caught.value.message


def test_unreadable_config(tmp_path, monkeypatch):
    root = make_store(tmp_path, "default", "config-v3.json")

    def denied(self, *args, **kwargs):  # as root nothing is unreadable: simulate EACCES
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(StoreUnreadable, match=r"cannot read .*config.json: Permission denied") as e:
        store.load_machine(root, "default")
    assert e.value.path == root / "machines" / "default" / "config.json"


def test_unknown_machine_lists_the_existing_ones(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    make_store(tmp_path, "dev", "config-v1.json")
    with pytest.raises(HelperError) as caught:
        store.load_machine(root, "prod")
    assert f"no machine 'prod' in the store {root} (it has: default, dev)." in caught.value.message
    assert caught.value.message.endswith(
        "To create 'prod': docker-vpn-helper fix --machine prod --create"
    )


def test_a_misspelled_machine_gets_the_closest_name(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    make_store(tmp_path, "lab", "config-v1.json")
    facts = store.survey(root)
    assert facts.machines == ("default", "lab") and facts.is_store
    line = store.missing_machine("lba", facts, "CREATE")
    assert line == (
        f"no machine 'lba' in the store {root} (it has: default, lab); did you mean 'lab'? "
        "To create 'lba': CREATE"
    )
    assert "did you mean 'default'?" in store.missing_machine("Default", facts, "")
    assert "did you mean" not in store.missing_machine("prod", facts, "")


def test_a_path_that_is_not_a_store(tmp_path):
    with pytest.raises(HelperError, match="is not a docker-machine store"):
        store.load_machine(tmp_path, "default")


@pytest.mark.parametrize("name", ["", "-x", ".x", "a b", "a;rm -rf ~", "$(id)", "a/b", "../x", "é"])
def test_invalid_names_are_refused(name):
    with pytest.raises(HelperError, match="invalid machine name"):
        store.validate_machine_name(name)


@pytest.mark.parametrize("name", ["default", "dev-2", "a.b", "0x", "A", "a" * 255])
def test_valid_names(name):
    assert store.validate_machine_name(name) == name


def test_a_name_longer_than_a_folder_name_can_be_is_one_short_line(tmp_path):
    name = "a" * 300
    with pytest.raises(HelperError) as caught:
        store.machine_exists(tmp_path, name)
    assert caught.value.reason == (
        f"invalid machine name '{'a' * 24}...{'a' * 8}' (300 characters): a machine is a folder "
        "of the store, and a folder's name has at most 255"
    )


def test_a_store_path_too_long_for_the_system_is_one_line(tmp_path):
    deep = tmp_path / "/".join(["d" * 200] * 25)  # over PATH_MAX (4096) with the machine
    with pytest.raises(
        HelperError, match=r"^cannot look for machine 'default' in .*: File name too long$"
    ):
        store.machine_exists(deep, "default")


def test_recording_sans_keeps_unknown_fields_and_backs_up(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    m = store.load_machine(root, "default")
    original = m.config_path.read_text()
    updated = store.with_server_cert_sans(m.raw, ["localhost", "127.0.0.1"])
    assert updated is not None and m.raw["HostOptions"]["AuthOptions"]["ServerCertSANs"] == []
    backup = tmp_path / "backups" / "20260101T000000Z"
    backup_files([m.config_path], backup)
    store.write_config(m, updated)
    assert (backup / "config.json").read_text() == original
    written = m.config_path.read_text()
    assert written.startswith('{\n    "ConfigVersion": 3,')  # docker-machine's 4-space layout
    data = json.loads(written)
    assert data["HostOptions"]["AuthOptions"]["ServerCertSANs"] == ["localhost", "127.0.0.1"]
    assert data["Driver"]["NoVTXCheck"] is False and data["Name"] == "default"
    assert stat.S_IMODE(m.config_path.stat().st_mode) == 0o600
    again = store.load_machine(root, "default")
    assert store.with_server_cert_sans(again.raw, ["localhost", "127.0.0.1"]) is None


def test_a_config_json_that_is_a_link_stays_a_link(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    m = store.load_machine(root, "default")
    kept = tmp_path / "dotfiles" / "config.json"
    kept.parent.mkdir()
    m.config_path.rename(kept)
    m.config_path.symlink_to(kept)
    store.write_config(m, {**m.raw, "Name": "renamed"})
    assert m.config_path.is_symlink() and json.loads(kept.read_text())["Name"] == "renamed"


def test_recording_sans_appends_to_existing_ones():
    data = {"HostOptions": {"AuthOptions": {"ServerCertSANs": ["dev.local", "localhost"]}}}
    updated = store.with_server_cert_sans(data, ["localhost", "127.0.0.1"])
    assert updated["HostOptions"]["AuthOptions"]["ServerCertSANs"] == [
        "dev.local",
        "localhost",
        "127.0.0.1",
    ]
    assert data["HostOptions"]["AuthOptions"]["ServerCertSANs"] == ["dev.local", "localhost"]


def test_each_forward_s_remembered_port_keeps_the_others(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    machine = store.load_machine(root, "default")
    store.remember_port(machine, 2377)
    store.remember_port(machine, 8444, "apiserver_port")
    assert store.remembered_port(root, "default") == 2377
    assert store.remembered_port(root, "default", "apiserver_port") == 8444
    store.remember_port(machine, 2378)
    assert store.remembered_port(root, "default", "apiserver_port") == 8444
    assert store.remembered_ports(root, "other") == {2378: "default"}


def test_a_remembered_value_is_forgotten_with_none_and_none_writes_no_file(tmp_path):
    root = make_store(tmp_path, "default", "config-v3.json")
    machine = store.load_machine(root, "default")
    state = machine.directory / store.STATE_FILE
    store.remember(machine, "corp", None)
    assert not state.exists()  # forgetting on a machine with no state writes nothing
    store.remember_port(machine, 2377)
    store.remember(machine, "corp", {"roots": ["ab"]})
    assert store.remembered(root, "default", "corp") == {"roots": ["ab"]}
    assert state.stat().st_mode & 0o777 == 0o600
    store.remember(machine, "corp", None)
    assert store.remembered(root, "default", "corp") is None
    assert store.remembered_port(root, "default") == 2377
