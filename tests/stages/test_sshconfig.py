import os
import stat

from invoke import MockContext

from docker_vpn_helper.environment import render
from docker_vpn_helper.settings import resolve
from docker_vpn_helper.stages import step
from docker_vpn_helper.stages.sshconfig import STAGE

from ..support.runs import close_all, session_for

BEGIN = "# BEGIN docker-vpn-helper docker-machine-default"


def run(store, dry_run=False):
    c = MockContext()
    step(session_for(c, "default", str(store), dry_run=dry_run), STAGE)
    return c


def test_missing_config_is_created_0600_and_a_second_run_changes_nothing(
    store, isolated_home, capsys
):
    run(store)
    config = isolated_home / ".ssh" / "config"
    text = config.read_text()
    assert text.startswith(BEGIN + "\n")
    assert "    Port 50157\n" in text
    assert f'    IdentityFile "{store}/machines/default/id_rsa"\n' in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    before = config.stat().st_mtime_ns
    run(store)
    assert config.stat().st_mtime_ns == before
    assert "already has Host docker-machine-default (port 50157): nothing to do" in (
        capsys.readouterr().err
    )


def test_existing_config_is_backed_up_kept_and_the_block_updated(store, isolated_home):
    config = isolated_home / ".ssh" / "config"
    config.parent.mkdir()
    config.write_text("Host work\n    User me\n")
    config.chmod(0o644)
    run(store)
    first = config.read_text()
    assert first.endswith("\nHost work\n    User me\n")
    assert stat.S_IMODE(config.stat().st_mode) == 0o644
    backups = list((store / "machines" / "default" / "backups").glob("*/config"))
    assert [b.read_text() for b in backups] == ["Host work\n    User me\n"]

    machine = store / "machines" / "default" / "config.json"
    machine.write_text(machine.read_text().replace('"SSHPort": 50157', '"SSHPort": 41000'))
    close_all()  # a new run reads config.json again
    run(store)
    assert config.read_text() == first.replace("Port 50157", "Port 41000")


def test_a_symlinked_config_is_changed_where_it_points(store, isolated_home, tmp_path):
    target = tmp_path / "dotfiles-ssh-config"
    target.write_text("Host work\n")
    (isolated_home / ".ssh").mkdir()
    (isolated_home / ".ssh" / "config").symlink_to(target)
    run(store)
    assert os.path.islink(isolated_home / ".ssh" / "config")
    assert target.read_text().startswith(BEGIN)


def test_dry_run_writes_nothing(store, isolated_home, capsys):
    run(store, dry_run=True)
    assert not (isolated_home / ".ssh").exists()
    assert "would write Host docker-machine-default" in capsys.readouterr().err


def test_env_print_ssh_transport_has_no_tls_variables(store):
    settings = resolve({}, machine="default", storage_path=str(store))
    out = render(settings, "bash", False, None, "ssh")
    assert out.splitlines()[:2] == [
        'export DOCKER_HOST="ssh://docker-machine-default"',
        'export DOCKER_MACHINE_NAME="default"',
    ]
    assert "DOCKER_TLS_VERIFY" not in out and "DOCKER_CERT_PATH" not in out
    assert "--transport ssh" in out
