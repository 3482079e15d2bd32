import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docker_vpn_helper.core import certs, minikube
from docker_vpn_helper.errors import HelperError
from tests.support.minikube import Node, create_home, minikube_world

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
USER = Path("/Users/me")


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, USER / ".minikube"),
        ({"MINIKUBE_HOME": ""}, USER / ".minikube"),
        ({"MINIKUBE_HOME": "/data/mk"}, Path("/data/mk/.minikube")),
        ({"MINIKUBE_HOME": "/data/mk/.minikube"}, Path("/data/mk/.minikube")),
        ({"MINIKUBE_HOME": "/data/mk/.minikube/"}, Path("/data/mk/.minikube")),
        ({"MINIKUBE_HOME": "/data/minikube"}, Path("/data/minikube/.minikube")),
    ],
)
def test_home_is_resolved_as_minikube_resolves_it(environ, expected):
    assert minikube.home(environ, USER) == expected


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two profiles (`dev` from before minikube 1.7.3); built once: RSA keys are slow to make."""
    root = tmp_path_factory.mktemp("user")
    return minikube_world(root, Node(), Node("dev", "192.168.59.101", 50159, False))


def test_a_virtualbox_profile_is_read_from_the_libmachine_store(world):
    home, _ = world
    profile = minikube.load_profile(home, "minikube")
    m = profile.machine
    assert (m.driver_name, m.ip, m.ssh_user, m.ssh_port) == (
        "virtualbox",
        "192.168.59.100",
        "docker",
        50158,
    )
    assert m.ssh_key == home / "machines/minikube/id_rsa"
    assert m.host_only_cidr == "192.168.59.1/24"
    # minikube keeps the daemon's certificate beside the machines, one for every profile.
    assert m.auth.server_cert == home / "machines/server.pem"
    assert m.auth.ca_cert == home / "certs/ca.pem"
    assert profile.cert_path == home / "certs"
    for path in (profile.cluster_ca, profile.client_cert, profile.client_key):
        assert path.is_file(), path
    assert profile.kubeconfig == home / "machines/minikube" / minikube.KUBECONFIG_FILE


def test_a_missing_profile_names_the_home_its_profiles_and_how_to_create_it(world):
    home, _ = world
    with pytest.raises(HelperError) as caught:
        minikube.load_profile(home, "staging")
    line = caught.value.reason
    assert "\n" not in line
    assert str(home) in line and "it has: dev, minikube" in line
    assert "minikube start -p staging --driver=virtualbox" in line


def test_a_home_without_machines_says_it_has_none(tmp_path):
    with pytest.raises(HelperError, match="it has none"):
        minikube.load_profile(tmp_path / ".minikube", "minikube")


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "x\n", "é"])
def test_invalid_profile_names_are_refused(world, name):
    with pytest.raises(HelperError, match="invalid minikube profile"):
        minikube.load_profile(world[0], name)


@pytest.mark.parametrize("driver", ["docker", "hyperkit", "qemu2", "podman", ""])
def test_other_drivers_are_refused_in_one_line(world, tmp_path, driver):
    data = json.loads((world[0] / "machines/minikube/config.json").read_text())
    data["DriverName"] = driver
    home = tmp_path / ".minikube"
    (home / "machines/minikube").mkdir(parents=True)
    (home / "machines/minikube/config.json").write_text(json.dumps(data))
    with pytest.raises(HelperError) as caught:
        minikube.load_profile(home, "minikube")
    line = caught.value.reason
    assert "\n" not in line
    assert f"uses the {driver or 'unnamed'} driver" in line
    assert "VirtualBox VMs only" in line and "out of scope" in line


def test_the_docker_driver_store_of_the_corpus_is_refused(tmp_path):
    sample = CORPUS / "config" / "9.json"
    if not sample.is_file():
        pytest.skip("the shared corpus is not beside the repository")
    folder = tmp_path / ".minikube/machines/minikube"
    folder.mkdir(parents=True)
    shutil.copyfile(sample, folder / "config.json")
    with pytest.raises(HelperError, match=r"uses the docker driver: .* VirtualBox VMs only"):
        minikube.load_profile(tmp_path / ".minikube", "minikube")


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, ["/k/ours", "/Users/me/.kube/config"]),
        ({"KUBECONFIG": ""}, ["/k/ours", "/Users/me/.kube/config"]),
        ({"KUBECONFIG": "/a:/b"}, ["/k/ours", "/a", "/b"]),
        ({"KUBECONFIG": "/k/ours:/a"}, ["/k/ours", "/a"]),  # a second eval adds nothing
        ({"KUBECONFIG": "/a::/k/ours"}, ["/k/ours", "/a"]),
    ],
)
def test_kubeconfig_puts_ours_first_and_keeps_what_kubectl_reads_now(environ, expected):
    value = minikube.kubeconfig_value(Path("/k/ours"), environ, USER)
    assert value.split(os.pathsep) == expected


@pytest.mark.parametrize(
    "environ, uses",
    [({}, False), ({"KUBECONFIG": "/a:/k/ours"}, False), ({"KUBECONFIG": "/k/ours:/a"}, True)],
)
def test_kubectl_uses_our_file_only_when_it_comes_first(environ, uses):
    assert minikube.kubectl_uses(Path("/k/ours"), environ) is uses


def test_the_environment_is_minikube_docker_env_with_the_forward(world):
    profile = minikube.load_profile(world[0], "minikube")
    env = dict(minikube.environment(profile, 2376))
    assert env == {
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_HOST": "tcp://localhost:2376",
        "DOCKER_CERT_PATH": str(world[0] / "certs"),
        "MINIKUBE_ACTIVE_DOCKERD": "minikube",
    }


def test_our_kubeconfig_names_the_forward_and_minikube_s_files(world):
    profile = minikube.load_profile(world[0], "dev")
    data = minikube.render_kubeconfig(minikube.kubeconfig(profile, 40123))
    assert minikube.kubeconfig_server(data, "dev") == "https://127.0.0.1:40123"
    assert minikube.kubeconfig_server(data, "minikube") is None
    assert minikube.kubeconfig_server(b"not: json", "dev") is None
    assert minikube.kubeconfig_server(None, "dev") is None


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_kubectl_reads_our_kubeconfig_before_minikube_s(world, tmp_path):
    home, users = world
    profile = minikube.load_profile(home, "minikube")
    ours = tmp_path / "ours.kubeconfig"
    ours.write_bytes(minikube.render_kubeconfig(minikube.kubeconfig(profile, 40123)))
    environ = {"KUBECONFIG": str(users)}
    value = minikube.kubeconfig_value(ours, environ, USER)
    view = ["kubectl", "config", "view", "--minify", "-o", "json"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KUBECONFIG": value}
    shown = json.loads(subprocess.run(view, env=env, capture_output=True, check=True).stdout)
    assert shown["current-context"] == "minikube"
    assert shown["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:40123"
    assert shown["users"][0]["user"]["client-certificate"] == str(profile.client_cert)
    names = subprocess.run(
        ["kubectl", "config", "get-contexts", "-o", "name"], env=env, capture_output=True
    )
    assert names.stdout.split() == [b"dev", b"minikube"]  # the user's other contexts stay


def served(home: Path, profile: str) -> bytes:
    return certs.to_der((home / "profiles" / profile / "apiserver.crt").read_bytes())


def test_an_api_server_certificate_naming_127_0_0_1_passes(world):
    home, _ = world
    ca = (home / "ca.crt").read_bytes()
    assert minikube.apiserver_problem(served(home, "minikube"), ca, "minikube") is None


def test_an_api_server_certificate_from_before_1_7_3_is_one_line_with_what_to_do(world):
    home, _ = world
    line = minikube.apiserver_problem(served(home, "dev"), (home / "ca.crt").read_bytes(), "dev")
    assert line is not None and "\n" not in line
    assert "does not name 127.0.0.1" in line and "minikube before 1.7.3" in line
    assert "minikube delete -p dev && minikube start -p dev --driver=virtualbox" in line
    assert "insecure" not in line  # verification is never turned off


def test_an_api_server_certificate_of_another_cluster_is_refused(world, tmp_path):
    create_home(tmp_path)  # another cluster CA
    line = minikube.apiserver_problem(
        served(world[0], "minikube"), (tmp_path / "ca.crt").read_bytes(), "minikube"
    )
    assert line is not None and "not signed by the cluster CA" in line


def test_an_unreadable_certificate_is_one_line(world):
    line = minikube.apiserver_problem(b"junk", (world[0] / "ca.crt").read_bytes(), "minikube")
    assert line is not None and "cannot be read" in line


MINIKUBE_DROP_IN = """[Service]
Type=notify
# The base configuration's ExecStart is cleared first.
ExecStart=
ExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2376 -H unix:///var/run/docker.sock \
--default-ulimit=nofile=1048576:1048576 --tlsverify --tlscacert /etc/docker/ca.pem \
--tlscert /etc/docker/server.pem --tlskey /etc/docker/server-key.pem --label provider=virtualbox
ExecReload=/bin/kill -s HUP $MAINPID
""".replace("\\\n", "")


@pytest.mark.parametrize(
    "unit, expected",
    [
        (
            MINIKUBE_DROP_IN,
            ("/etc/docker/ca.pem", "/etc/docker/server.pem", "/etc/docker/server-key.pem"),
        ),
        (
            "ExecStart=/old --tlscacert /a --tlscert /b --tlskey /c\nExecStart=\n"
            "ExecStart=/usr/bin/dockerd --tlscacert=/x/ca.pem --tlscert='/x/s p.pem' --tlskey=/x/k.pem\n",
            ("/x/ca.pem", "/x/s p.pem", "/x/k.pem"),
        ),
    ],
)
def test_the_daemon_s_files_come_from_the_unit_s_last_exec_start(unit, expected):
    files = minikube.unit_tls_files(unit)
    assert (files.ca, files.cert, files.key) == expected


@pytest.mark.parametrize(
    "unit",
    [
        "",
        "ExecStart=/usr/bin/dockerd --tlscacert /a --tlscert /b --tlskey /c\nExecStart=\n",
        "ExecStart=/usr/bin/dockerd --tlscacert /a --tlscert /b\n",
        "ExecStart=/usr/bin/dockerd --tlscacert /a --tlscert /b --tlskey\n",
        "ExecStart=/usr/bin/dockerd --tlscacert '/a\n",
    ],
)
def test_a_unit_naming_no_tls_files_is_one_line(unit):
    with pytest.raises(HelperError, match="names no --tlscacert"):
        minikube.unit_tls_files(unit)


def test_reading_a_profile_loads_no_cryptography(world):
    """env.print, eval'ed at shell start-up, needs the profile and the environment only."""
    code = (
        "import sys; from pathlib import Path; from docker_vpn_helper.core import minikube;"
        f" p = minikube.load_profile(Path({str(world[0])!r}), 'minikube');"
        " minikube.environment(p, 2376); minikube.kubeconfig_value(p.kubeconfig, {}, Path('/h'));"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('cryptography', 'invoke')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
