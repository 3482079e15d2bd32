"""Real outputs from the field (../shared/corpus, sources in its SOURCES.md) through our parsers.

The samples stay in shared/, beside the clone (CI clones the project into a folder with shared/
next to it); without it this module is skipped. Every expected value below was read off the
sample's own text by hand, not taken from a parser's answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docker_vpn_helper.core import dockerctx, profile, routes, store, vbox

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


def sample(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


# --- docker-machine's config.json -> the store reader ---------------------------------------

#: file: (ConfigVersion, DriverName, IPAddress, SSHUser, SSHPort, SSHKeyPath or None for the
#: store's default, HostOnlyCIDR, ServerCertPath)
CONFIGS = {
    "config/1.json": (
        3, "virtualbox", "192.168.99.100", "docker", 62491,
        "/Users/z/.docker/machine/machines/default/id_rsa", "192.168.99.1/24",
        "/Users/z/.docker/machine/machines/default/server.pem",
    ),
    "config/2.json": (
        3, "virtualbox", "192.168.99.100", "docker", 49913,
        "C:\\Users\\Corne\\.docker\\machine\\machines\\default\\id_rsa", "192.168.99.1/24",
        "C:\\Users\\Corne\\.docker\\machine\\machines\\default\\server.pem",
    ),
    # never finished its first start: SSHPort 0 means 22, an empty key path the store's own
    "config/3.json": (
        3, "virtualbox", None, "docker", 22, None, "192.168.99.1/24",
        "/Users/javier/.docker/machine/machines/default/server.pem",
    ),
    "config/4.json": (
        3, "virtualbox", "192.168.99.100", "docker", 50066,
        "C:\\Users\\manis\\.docker\\machine\\machines\\default\\id_rsa", "192.168.99.1/24",
        "C:\\Users\\manis\\.docker\\machine\\machines\\default\\server.pem",
    ),
    "config/5.json": (
        3, "virtualbox", "192.168.99.100", "docker", 49510,
        "/Users/ryanfisher/.docker/machine/machines/default/id_rsa", "192.168.99.1/24",
        "/Users/ryanfisher/.docker/machine/machines/default/server.pem",
    ),
    "config/6.json": (
        3, "virtualbox", "192.168.99.100", "docker", 57894,
        "C:\\Users\\user\\.docker\\machine\\machines\\default\\id_rsa", "192.168.99.1/24",
        "C:\\Users\\user\\.docker\\machine\\machines\\default\\server.pem",
    ),
    # docker-machine 0.4: no SSHKeyPath, the CA key as PrivateKeyPath
    "config/7.json": (
        1, "virtualbox", "192.168.99.100", "docker", 64477, None, "192.168.99.1/24",
        "/Users/catbug/.docker/machine/machines/foobar/server.pem",
    ),
    # before ConfigVersion: none, HostOnlyCIDR "" (docker-machine's default), cert under certs/
    "config/8.json": (
        0, "virtualbox", "192.168.99.100", "docker", 53507, None, "192.168.99.1/24",
        "/Users/ljrittle/.docker/machine/certs/server.pem",
    ),
    # minikube's store: the docker driver, SSHUser "" and SSHPort 0
    "config/9.json": (
        3, "docker", None, "docker", 22,
        "/Users/erhhung/.minikube/machines/minikube/id_rsa", "192.168.99.1/24",
        "/Users/erhhung/.minikube/machines/server.pem",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_json(name, tmp_path):
    version, driver, ip, user, port, key, cidr, server_cert = CONFIGS[name]
    path = CORPUS / name
    machine = store.parse_machine(tmp_path, "m", store.read_config(path), path)
    assert machine.config_version == version
    assert machine.driver_name == driver
    assert machine.on_virtualbox is (driver == "virtualbox")
    assert machine.ip == ip
    assert (machine.ssh_user, machine.ssh_port) == (user, port)
    assert machine.ssh_key == (Path(key) if key else tmp_path / "machines" / "m" / "id_rsa")
    assert machine.host_only_cidr == cidr
    assert machine.auth.server_cert == Path(server_cert)


def test_config_v1_ca_key_is_called_private_key_path(tmp_path):
    path = CORPUS / "config/7.json"
    machine = store.parse_machine(tmp_path, "foobar", store.read_config(path), path)
    assert machine.auth.ca_key == Path("/Users/catbug/.docker/machine/certs/ca-key.pem")
    assert machine.server_cert_sans == ()


def test_minikube_null_sans_are_none(tmp_path):
    path = CORPUS / "config/9.json"
    machine = store.parse_machine(tmp_path, "minikube", store.read_config(path), path)
    assert machine.server_cert_sans == ()


# --- VBoxManage showvminfo --machinereadable -------------------------------------------------

#: file: (name, VMState, {nic: attachment}, {nic: [rule specs]}, CfgFile)
SHOWVMINFO = {
    "showvminfo/1.txt": (
        "urfve6cb85a2_default_1458910687825_39001", "running", {1: "nat"},
        {1: ["ssh,tcp,127.0.0.1,2200,,22", "tcp56790,tcp,,2201,,56789",
             "tcp56791,tcp,,2202,,56787"]},
        "/Users/rjeczalik/VirtualBox VMs/urfve6cb85a2_default_1458910687825_39001/"
        "urfve6cb85a2_default_1458910687825_39001.vbox",
    ),
    "showvminfo/2.txt": (
        "ubuntu-18.04-amd64_1549746024485_35372", "poweroff", {1: "nat"}, {},
        "/virtual/machines/ubuntu-18.04-amd64_1549746024485_35372/"
        "ubuntu-18.04-amd64_1549746024485_35372.vbox",
    ),
    "showvminfo/3.txt": (  # after VirtualBox 3.1's banner
        "foo", "poweroff", {1: "bridged"}, {},
        "/Users/mitchellh/Library/VirtualBox/Machines/foo/foo.xml",
    ),
    "showvminfo/4.txt": (
        "testvm1", "poweroff", {1: "nat"}, {},
        "/Users/araveendrann/VirtualBox VMs/tess/testvm1/testvm1.vbox",
    ),
    "showvminfo/5.txt": (
        "manjaro-gnome-x64-full-clean", "poweroff", {1: "nat"}, {},
        "/home/user/VirtualBox VMs/manjaro-gnome-x64-full-clean/manjaro-gnome-x64-full-clean.vbox",
    ),
    "showvminfo/6.txt": (
        "SERVER1919C v114", "poweroff", {1: "bridged"}, {},
        "/opt/matti/VirtualBox_VMs/SERVER1919C v114/SERVER1919C v114.vbox",
    ),
    "showvminfo/7.txt": (
        "xtec-1", "poweroff", {1: "nat", 2: "hostonly"}, {1: ["ssh,tcp,127.0.0.1,2201,,22"]},
        "/home/david/.xtec/xtec-1/xtec-1.vbox",
    ),
    "showvminfo/8.txt": (
        "Centos5.7", "poweroff", {1: "nat"}, {},
        "/Users/nfisher/VirtualBox VMs/Centos5.7/Centos5.7.vbox",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SHOWVMINFO))
def test_showvminfo(name):
    vm_name, state, nics, rules, cfg = SHOWVMINFO[name]
    info = vbox.parse_showvminfo(sample(name))
    assert (info.name, info.state, info.nics) == (vm_name, state, nics)
    assert {n: [r.spec() for r in rs] for n, rs in info.forwarding.items() if rs} == rules
    assert info.raw["CfgFile"] == cfg


def test_showvminfo_odd_lines():
    seven = vbox.parse_showvminfo(sample("showvminfo/7.txt"))
    assert seven.hostonly_adapters == {2: "VirtualBox Host-Only Ethernet Adapter"}
    five = vbox.parse_showvminfo(sample("showvminfo/5.txt"))
    assert five.raw["description"] == "name1=value1\nname2=value2"
    assert "Encryption:" not in "".join(five.raw)
    six = vbox.parse_showvminfo(sample("showvminfo/6.txt"))
    assert (six.raw["videocapres"], six.raw["videocapopts"]) == ("1024x768", "")
    assert six.raw["nictype1"] == "virtio"
    four = vbox.parse_showvminfo(sample("showvminfo/4.txt"))
    assert four.raw["nictype1"] == "Am79C973"
    one = vbox.parse_showvminfo(sample("showvminfo/1.txt"))
    assert one.running and one.nat_nic == 1


# --- the VM's settings file (.vbox) ---------------------------------------------------------

#: file: (format, NIC 1's type, (proxy, host resolver), localhost reachable, [rule specs],
#: NIC 2's attachment)
SETTINGS = {
    "vbox/1.vbox": ((1, 15), "82540EM", (True, False), True, ["ssh,tcp,127.0.0.1,49913,,22"], "hostonly"),
    "vbox/2.vbox": ((1, 15), "82540EM", (True, False), True, ["ssh,tcp,127.0.0.1,50066,,22"], "hostonly"),
    # the snapshot (first in the file) has only `ssh`; the machine's own hardware both rules
    "vbox/3.vbox": (
        (1, 19), "82540EM", (True, False), True,
        ["ssh,tcp,127.0.0.1,2222,,22", "tcp7700,tcp,,7700,,80"], "hostonly",
    ),
    # VirtualBox 3.1: innotek's namespace, `<NAT/>`, NIC 2 disabled and unattached
    "vbox/4.vbox": ((1, 9), "Am79C973", (False, False), True, [], ""),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_settings_file(name):
    version, kind, dns, reachable, rules, nic2 = SETTINGS[name]
    text = sample(name)
    settings = vbox.parse_settings(text)
    nic1 = settings.adapter(1)
    assert settings.format == version
    assert (nic1.kind, nic1.attachment) == (kind, "nat")
    assert nic1.dns == vbox.NatDns(*dns)
    assert nic1.localhost_reachable is reachable
    assert [r.spec() for r in nic1.rules] == rules
    assert settings.adapter(2).attachment == nic2


@pytest.mark.parametrize("name", ["vbox/3.vbox", "vbox/4.vbox"])
def test_snapshots_come_before_the_machines_own_hardware(name):
    text = sample(name)
    assert text.index("<Snapshot ") < text.index("<Adapter ") < text.rindex("<Hardware")


def test_settings_file_extradata():
    assert vbox.parse_settings(sample("vbox/1.vbox")).extradata == {
        "VBoxInternal2/SharedFoldersEnableSymlinksCreate/c/Users": "1"
    }
    four = vbox.parse_settings(sample("vbox/4.vbox")).extradata
    assert (len(four), four["GUI/Seamless"]) == (8, "off")


def test_the_ssh_rule_of_the_settings_file_is_the_ssh_port_of_its_config():
    """Same machines (SOURCES.md): the .vbox's `ssh` rule is config.json's SSHPort."""
    for settings, config in (("vbox/1.vbox", "config/2.json"), ("vbox/2.vbox", "config/4.json")):
        rule = vbox.parse_settings(sample(settings)).adapter(1).rules[0]
        assert rule.host_port == json.loads(sample(config))["Driver"]["SSHPort"]


# --- VBoxManage --version, list vms -----------------------------------------------------------


@pytest.mark.parametrize(
    "name, version",
    [("version/1.txt", (7, 0, 22)), ("version/2.txt", (5, 2, 16)), ("version/3.txt", (4, 3, 8))],
)
def test_version(name, version):
    assert vbox.parse_version(sample(name)) == version


def test_the_gui_about_text_is_not_a_version():
    with pytest.raises(ValueError, match="no VirtualBox version"):
        vbox.parse_version(sample("version/4.txt"))


def test_list_vms():
    first = vbox.parse_list_vms(sample("listvms/1.txt"))
    assert len(first) == 10
    assert first["boot2docker-vm"] == "d4d92435-7863-43ab-9a4a-1b24654abcd8"
    assert (
        first["urfve6cb85a2_default_1458910687825_39001"] == "295e77c3-d922-4849-93de-4422b8c08880"
    )
    assert vbox.parse_list_vms(sample("listvms/2.txt")) == {
        "ubuntu-18.04-amd64_1549746024485_35372": "6294f16b-4f05-4430-afb9-773bdb237aec"
    }


# --- boot2docker's profile -------------------------------------------------------------------

DOCKER_MACHINE_PROFILE = {
    "CACERT": "/var/lib/boot2docker/ca.pem",
    "DOCKER_HOST": "-H tcp://0.0.0.0:2376",
    "DOCKER_STORAGE": "aufs",
    "DOCKER_TLS": "auto",
    "SERVERKEY": "/var/lib/boot2docker/server-key.pem",
    "SERVERCERT": "/var/lib/boot2docker/server.pem",
}
PROFILES = {
    "profile/1.profile": {"EXTRA_ARGS": "\n--label provider=virtualbox\n--iptables=false\n\n"},
    "profile/2.profile": {"EXTRA_ARGS": "\n--label provider=virtualbox\n--iptables=false\n\n"},
    "profile/3.profile": {"EXTRA_ARGS": "\n--label provider=virtualbox\n\n"},
    "profile/4.profile": {
        "EXTRA_ARGS": "\n--label provider=virtualbox\n"
        "--registry-mirror=https://fgxrbz510.mirror.aliyuncs.com\n",
        "NO_PROXY": "192.168.99.100",
    },
    "profile/5.profile": {
        "EXTRA_ARGS": "\n--label provider=virtualbox\n--insecure-registry "
        "https://registry.it.test.com\n--registry-mirror https://xxxxxxx.mirror.aliyuncs.com\n\n",
        "HTTP_PROXY": "ip:port",  # the comment after it is not part of the value
        "HTTPS_PROXY": "ip:port",
        "NO_PROXY": "ip:port",
    },
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile(name):
    assert profile.parse_profile(sample(name)) == {**DOCKER_MACHINE_PROFILE, **PROFILES[name]}


# --- macOS route get / netstat -rn ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, destination, interface, gateway",
    [
        ("route/1.txt", "0.0.0.0/1", "utun3", "192.168.12.1"),  # default + mask 128.0.0.0
        ("route/2.txt", "default", "en0", "10.62.96.1"),
    ],
)
def test_route_get(name, destination, interface, gateway):
    route = routes.parse_route_get(sample(name))
    assert (route.destination, route.interface, route.gateway) == (destination, interface, gateway)


@pytest.mark.parametrize(
    "name, address, destination, interface",
    [
        ("netstat/1.txt", "192.168.99.100", "128.0.0.0/1", "utun2"),
        ("netstat/1.txt", "8.8.8.8", "0.0.0.0/1", "utun2"),
        ("netstat/1.txt", "192.168.1.51", "192.168.1.51/32", "en0"),
        ("netstat/2.txt", "192.168.99.100", "default", "utun2"),  # en0's default is scoped (I)
        ("netstat/2.txt", "10.0.0.7", "10.0.0.0/24", "utun2"),
        ("netstat/3.txt", "192.168.99.100", "default", "en0"),  # a split VPN
        ("netstat/3.txt", "10.90.5.9", "10.90.5.0/24", "utun0"),
        ("netstat/4.txt", "192.168.99.100", "default", "en0"),  # Refs and Use columns
        ("netstat/4.txt", "192.168.1.7", "192.168.1.0/24", "en0"),
    ],
)
def test_netstat(name, address, destination, interface):
    route = routes.select_route(routes.parse_netstat_routes(sample(name)), address)
    assert (route.destination, route.interface) == (destination, interface)


def test_netstat_cut_rows_are_left_out():
    """The store cut netstat/4 mid-row (`192.168.1.24/32  link#5  UCS  0`) and netstat/3 after
    `192.168.64  link`: no route to them is made up."""
    four = routes.parse_netstat_routes(sample("netstat/4.txt"))
    assert "192.168.1.24/32" not in [r.destination for r in four]
    three = routes.parse_netstat_routes(sample("netstat/3.txt"))
    assert "192.168.64.0/24" not in [r.destination for r in three]


# --- docker context inspect -------------------------------------------------------------------

CONTEXTS = {
    "context/1.json": (
        "my-remote-engine", "ssh://USERNAME@docker-host.example.com", False,
        "Remote Docker engine on centos7-server as USERNAME@docker-host.example.com, IP=10.0.0.131",
    ),
    "context/3.json": ("ictsc", "tcp://192.168.20.1:2375", True, ""),
    "context/4.json": (
        "desktop-linux", "unix:///Users/marcela-dev/.docker/run/docker.sock", False, "Docker Desktop",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_context(name):
    context = dockerctx.parse_inspect(sample(name))
    assert (context.name, context.host, context.skip_tls_verify, context.description) == CONTEXTS[
        name
    ]
    assert context.tls_dir is None  # no TLS material in these


def test_a_context_pasted_without_its_closing_bracket_is_refused():
    with pytest.raises(ValueError, match="printed no JSON"):
        dockerctx.parse_inspect(sample("context/2.json"))


# --- every sample has its expectation ---------------------------------------------------------

BROKEN = {"version/4.txt", "context/2.json"}  # refused above, on purpose
COVERED = (
    set(CONFIGS) | set(SHOWVMINFO) | set(SETTINGS) | set(PROFILES) | set(CONTEXTS) | BROKEN
    | {"version/1.txt", "version/2.txt", "version/3.txt", "listvms/1.txt", "listvms/2.txt"}
    | {"route/1.txt", "route/2.txt"} | {f"netstat/{i}.txt" for i in range(1, 5)}
)  # fmt: skip


def test_every_sample_is_fed_to_a_parser():
    samples = {
        str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"
    }
    assert samples - COVERED == set(), "samples without expectations: add them here"
    assert COVERED - samples == set(), "expectations without samples"
