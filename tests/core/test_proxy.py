"""core.proxy: the host's proxy as the VM's daemon must use it, and the profile's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from docker_vpn_helper.core import proxy
from docker_vpn_helper.core.profile import parse_profile

from .fixtures import load

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "profile"
VM = ("192.168.99.100",)


def test_scutil_local_proxy() -> None:
    host = proxy.parse_scutil_proxy(load("scutil_proxy_loopback.txt"))
    assert host == proxy.HostProxy(
        "http://127.0.0.1:3128",
        "http://127.0.0.1:3128",
        ("*.local", "169.254/16", "<local>"),
        "the system proxy (scutil --proxy)",
    )


def test_scutil_pac_and_disabled_https() -> None:
    host = proxy.parse_scutil_proxy(load("scutil_proxy_corp_pac.txt"))
    assert host.http == "http://proxy.corp.example.com:8080"
    assert host.https == ""
    assert host.pac == "http://wpad.corp.example.com/proxy.pac"
    assert host.exceptions == ("*.corp.example.com", "10/8")


def test_scutil_without_a_proxy() -> None:
    host = proxy.parse_scutil_proxy(load("scutil_proxy_none.txt"))
    assert not host.any and not host.pac


@pytest.mark.parametrize(
    ("environ", "http", "https", "exceptions"),
    [
        ({"HTTP_PROXY": "proxy:3128"}, "http://proxy:3128", "", ()),
        ({"https_proxy": "http://p:1", "no_proxy": "a, .b ,"}, "", "http://p:1", ("a", ".b")),
        ({"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:1"}, "", "http://up:1", ()),
        ({"NO_PROXY": "x"}, "", "", ()),
    ],
)
def test_environment(environ, http, https, exceptions) -> None:
    host = proxy.from_environment(environ)
    assert (host.http, host.https, host.exceptions) == (http, https, exceptions)


def test_first_source_wins() -> None:
    system = proxy.parse_scutil_proxy(load("scutil_proxy_none.txt"))
    env = proxy.from_environment({"HTTPS_PROXY": "http://env:1"})
    setting = proxy.from_setting("set:2")
    assert proxy.first(system, env, setting) == env
    assert proxy.first(system, proxy.HostProxy(), setting).http == "http://set:2"
    assert proxy.first(proxy.HostProxy()) == proxy.HostProxy()


@pytest.mark.parametrize(
    ("url", "vm"),
    [
        ("http://127.0.0.1:3128", "http://10.0.2.2:3128"),
        ("http://localhost:3128", "http://10.0.2.2:3128"),
        ("http://127.1.2.3", "http://10.0.2.2"),
        ("http://[::1]:8080", "http://10.0.2.2:8080"),
        ("http://user:s%40cret@127.0.0.1:3128/", "http://user:s%40cret@10.0.2.2:3128/"),
        ("http://proxy.corp:8080", "http://proxy.corp:8080"),
        ("http://10.1.2.3:8080", "http://10.1.2.3:8080"),
        ("", ""),
    ],
)
def test_loopback_proxy_becomes_the_nat_gateway(url: str, vm: str) -> None:
    assert proxy.for_the_vm(url) == vm


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://jane:hunter2@proxy:3128", "http://****@proxy:3128"),
        ("http://token@proxy", "http://****@proxy"),
        ("http://proxy:3128", "http://proxy:3128"),
    ],
)
def test_mask(url: str, masked: str) -> None:
    assert proxy.mask(url) == masked
    assert "hunter2" not in proxy.mask_text(f"export HTTP_PROXY='{url}' # and {url}")


def test_no_proxy_covers_the_vm_and_converts_mac_exceptions() -> None:
    value = proxy.no_proxy(("*.local", "169.254/16", "<local>", "localhost"), VM)
    assert value.split(",") == [
        ".local",
        "169.254.0.0/16",
        "localhost",
        "192.168.99.100",
        "127.0.0.1",
        "10.0.2.15",
        "172.17.0.0/16",
    ]


def test_wanted_for_a_local_proxy() -> None:
    host = proxy.parse_scutil_proxy(load("scutil_proxy_loopback.txt"))
    lines = proxy.wanted(host, VM).lines()
    assert lines[0] == "export HTTP_PROXY=http://10.0.2.2:3128"
    assert lines[1] == "export HTTPS_PROXY=http://10.0.2.2:3128"
    assert lines[2].startswith("export NO_PROXY=.local,169.254.0.0/16,192.168.99.100,localhost")
    assert proxy.wanted(proxy.HostProxy(), VM).values == ()


def test_masked_lines_hide_credentials() -> None:
    host = proxy.from_environment({"HTTPS_PROXY": "http://jane:hunter2@127.0.0.1:3128"})
    wanted = proxy.wanted(host, VM)
    assert "hunter2" in "\n".join(wanted.lines())  # the VM needs them
    assert wanted.masked_lines()[0] == "export HTTPS_PROXY=http://****@10.0.2.2:3128"


def corpus_profiles() -> list[Path]:
    return sorted(CORPUS.glob("*.profile")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not corpus_profiles(), reason="no ../shared/corpus/profile here")
@pytest.mark.parametrize("path", corpus_profiles(), ids=lambda p: p.name)
def test_edit_profile_on_real_profiles(path: Path) -> None:
    """Real profiles (users' own proxy lines in 4 and 5): ours is appended once, wins, is
    replaced in place, and taking it out gives the user's profile back byte for byte."""
    original = path.read_text()
    first = proxy.wanted(proxy.from_setting("http://127.0.0.1:3128"), VM)
    second = proxy.wanted(proxy.from_setting("http://proxy.corp:8080"), VM)
    edited = proxy.edit_profile(original, first)
    assert edited.startswith(original.rstrip("\n"))
    assert proxy.edit_profile(edited, first) == edited  # idempotent
    assert proxy.effective(edited)["HTTP_PROXY"] == "http://10.0.2.2:3128"
    assert parse_profile(edited)["SERVERCERT"] == "/var/lib/boot2docker/server.pem"
    replaced = proxy.edit_profile(edited, second)
    assert replaced.count(proxy.BEGIN) == 1
    assert proxy.effective(replaced)["HTTPS_PROXY"] == "http://proxy.corp:8080"
    removed = proxy.edit_profile(replaced, proxy.VMProxy())
    assert removed.rstrip("\n") == original.rstrip("\n")
    assert proxy.edit_profile(original, proxy.VMProxy()) == original


def test_edit_profile_keeps_the_users_lines_after_our_block() -> None:
    wanted = proxy.wanted(proxy.from_setting("http://p:1"), VM)
    ours = proxy.edit_profile("A=1\n", wanted)
    mine = ours + "export HTTP_PROXY=http://mine:2\n"
    again = proxy.edit_profile(mine, proxy.wanted(proxy.from_setting("http://q:3"), VM))
    assert again.endswith("export HTTP_PROXY=http://mine:2\n")
    assert proxy.effective(again)["HTTP_PROXY"] == "http://mine:2"  # the user's line wins
    assert proxy.effective(again)["HTTPS_PROXY"] == "http://q:3"


def test_edit_profile_appends_after_a_missing_newline() -> None:
    wanted = proxy.wanted(proxy.from_setting("http://p:1"), VM)
    assert proxy.edit_profile("A=1", wanted).startswith("A=1\n\n" + proxy.BEGIN + "\n")
