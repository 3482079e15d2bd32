from pathlib import Path

import pytest

from docker_vpn_helper.core.sshconfig import markers, render_block, with_block

BLOCK = render_block("docker-machine-dev", "dev", 50157, "docker", Path("/s/machines/dev/id_rsa"))


def test_block_has_everything_the_docker_ssh_transport_needs():
    lines = [line.strip() for line in BLOCK.splitlines()]
    assert lines[0] == "# BEGIN docker-vpn-helper docker-machine-dev"
    assert lines[-1] == "# END docker-vpn-helper docker-machine-dev"
    for option in (
        "Host docker-machine-dev", "HostName 127.0.0.1", "Port 50157", "User docker",
        'IdentityFile "/s/machines/dev/id_rsa"', "IdentitiesOnly yes",
        "StrictHostKeyChecking no", "UserKnownHostsFile /dev/null",
        "HostKeyAlgorithms +ssh-rsa", "PubkeyAcceptedKeyTypes +ssh-rsa",
    ):  # fmt: skip
        assert option in lines
    assert lines[-2] == "Host *"  # what follows applies to every host again


def test_percent_is_escaped_and_quotes_are_refused():
    block = render_block("a", "a", 22, "docker", Path("/Users/x/100%/id_rsa"))
    assert 'IdentityFile "/Users/x/100%%/id_rsa"' in block
    with pytest.raises(ValueError):
        render_block("a", "a", 22, "docker", Path('/Users/x/"q"/id_rsa'))


def test_new_block_goes_first_and_a_second_run_changes_nothing():
    existing = "Host *\n    User me\n"
    once = with_block(existing, "docker-machine-dev", BLOCK)
    assert once == BLOCK + "\n" + existing
    assert with_block(once, "docker-machine-dev", BLOCK) == once
    assert with_block("", "docker-machine-dev", BLOCK) == BLOCK


def test_block_is_replaced_in_place():
    old = BLOCK.replace("Port 50157", "Port 41000")
    text = "# mine\n" + old + "Host other\n    Port 2222\n"
    assert (
        with_block(text, "docker-machine-dev", BLOCK)
        == "# mine\n" + BLOCK + "Host other\n    Port 2222\n"
    )


def test_a_lone_marker_is_refused():
    begin, _ = markers("docker-machine-dev")
    with pytest.raises(ValueError, match="do not enclose one block"):
        with_block(f"{begin}\nHost x\n", "docker-machine-dev", BLOCK)
