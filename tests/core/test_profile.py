"""parse_profile: the boot2docker profile's assignments, read without a shell."""

from __future__ import annotations

from docker_vpn_helper.core.profile import parse_profile

# What docker-machine's boot2docker provisioner writes to /var/lib/boot2docker/profile (its
# template rendered with two labels, an insecure registry and one engine env var).
DOCKER_MACHINE_PROFILE = """
EXTRA_ARGS='
--label provider=virtualbox
--label env=dev
--insecure-registry registry.local:5000

'
CACERT=/var/lib/boot2docker/ca.pem
DOCKER_HOST='-H tcp://0.0.0.0:2376'
DOCKER_STORAGE=aufs
DOCKER_TLS=auto
SERVERKEY=/var/lib/boot2docker/server-key.pem
SERVERCERT=/var/lib/boot2docker/server.pem

export \\""HTTP_PROXY=http://proxy:3128"\\"

"""


def test_parse_profile_reads_what_docker_machine_writes() -> None:
    values = parse_profile(DOCKER_MACHINE_PROFILE)
    assert values["CACERT"] == "/var/lib/boot2docker/ca.pem"
    assert values["SERVERCERT"] == "/var/lib/boot2docker/server.pem"
    assert values["SERVERKEY"] == "/var/lib/boot2docker/server-key.pem"
    assert values["DOCKER_HOST"] == "-H tcp://0.0.0.0:2376"
    assert values["DOCKER_TLS"] == "auto"
    assert values["EXTRA_ARGS"].split() == [
        "--label",
        "provider=virtualbox",
        "--label",
        "env=dev",
        "--insecure-registry",
        "registry.local:5000",
    ]
    assert "HTTP_PROXY" not in values  # docker-machine's doubly quoted export is no assignment


def test_parse_profile_follows_shell_quoting() -> None:
    text = (
        "# SERVERCERT=/commented/out\n"
        'SERVERCERT="/var/lib/my certs/server.pem" # trailing comment\n'
        "export SERVERKEY='/k.pem'; CACERT=/a\\ b/ca.pem\n"
        'MULTI="one \\"two\\"\n'
        'three"\n'
        "echo NOT=assigned\n"
        "CACERT=/last/ca.pem\n"
        "WORD=a#b\n"
        "LONG=con\\\n"
        "tinued\n"
    )
    assert parse_profile(text) == {
        "SERVERCERT": "/var/lib/my certs/server.pem",
        "SERVERKEY": "/k.pem",
        "CACERT": "/last/ca.pem",
        "MULTI": 'one "two"\nthree',
        "WORD": "a#b",
        "LONG": "continued",
    }


def test_parse_profile_of_nothing() -> None:
    assert parse_profile("") == {}
    assert parse_profile("# only a comment\n\n") == {}
