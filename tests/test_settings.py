from pathlib import Path

import pytest

from docker_vpn_helper.settings import DEFAULTS, resolve


def test_defaults_follow_docker_machine(isolated_home):
    s = resolve({}, environ={"HOME": str(isolated_home)})
    assert s.machine == "default"
    assert s.storage_path == isolated_home / ".docker" / "machine"
    assert (s.host_port, s.nat_rule, s.vboxmanage) == (2376, "docker", "VBoxManage")


def test_machine_storage_path_env_then_config_then_flag():
    env = {"HOME": "/home/u", "MACHINE_STORAGE_PATH": "/srv/machines"}
    assert resolve({}, environ=env).storage_path == Path("/srv/machines")
    assert resolve({"storage_path": "/cfg"}, environ=env).storage_path == Path("/cfg")
    assert resolve(
        {"storage_path": "/cfg"}, storage_path="/flag", environ=env
    ).storage_path == Path("/flag")


def test_flags_win_over_config_and_zero_port_means_unset():
    config = {**DEFAULTS, "machine": "dev", "host_port": 2380}
    assert resolve(config).machine == "dev"
    assert resolve(config, machine="other").machine == "other"
    assert resolve(config).host_port == 2380
    assert resolve(config, port=2390).host_port == 2390
    assert resolve(config, port=0).host_port == 2380


def test_unknown_config_keys_are_ignored_and_types_coerced():
    s = resolve({"host_port": "2377", "surprise": 1, "daemon_wait": "5"})
    assert s.host_port == 2377
    assert s.daemon_wait == 5.0


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_a_relative_store_path_is_made_absolute(tmp_path, monkeypatch, where):
    """DOCKER_CERT_PATH is eval'd in other folders: a relative store must not stay relative."""
    monkeypatch.chdir(tmp_path)
    environ = {"MACHINE_STORAGE_PATH": "store", "HOME": str(tmp_path)}
    flag = "./store" if where == "flag" else None
    settings = resolve({}, storage_path=flag, environ=environ if where != "flag" else {})
    assert settings.storage_path == tmp_path / "store"


@pytest.mark.parametrize(
    ("word", "on"), [("false", False), ("0", False), ("off", False), ("true", True), ("1", True)]
)
def test_corp_switches_from_the_environment_as_invoke_hands_them_over(monkeypatch, word, on):
    """INVOKE_VPNHELPER_CORP_ROOTS=false turns the roots off: invoke casts a word to the
    default's type, and a bool default would make every non-empty word True."""
    from invoke import Config

    monkeypatch.setenv("INVOKE_VPNHELPER_CORP_ROOTS", word)
    monkeypatch.setenv("INVOKE_VPNHELPER_CA_BUNDLE", "/etc/corp.pem")
    config = Config(defaults={"vpnhelper": dict(DEFAULTS)})
    config.load_shell_env()
    settings = resolve(config["vpnhelper"])
    assert settings.corp_roots is on and settings.corp_proxy is True
    assert settings.ca_bundle == "/etc/corp.pem"


def test_corp_switches_from_yaml_booleans():
    assert resolve({"corp_proxy": False}).corp_proxy is False
    assert resolve({}).corp_roots is True and resolve({}).proxy == ""
