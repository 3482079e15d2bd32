"""adapters.corporate: the host's roots and proxy where each platform keeps them. macOS's
`security` and `scutil` never run here: MockContext answers with constructed outputs in their
real layouts (tests/core/data), certificates made by tests/support/corp."""

from __future__ import annotations

import shlex

import pytest
from invoke import MockContext, Result

from docker_vpn_helper.adapters import corporate, host
from docker_vpn_helper.core import trust
from docker_vpn_helper.errors import HelperError

from ..core.fixtures import load
from ..support import corp as pki


@pytest.fixture
def macos(monkeypatch):
    monkeypatch.setattr(corporate, "platform", lambda: "macos")


def answers(home: str, system: bytes, login: bytes, admin: str, user: str) -> MockContext:
    (find_system, dump_admin, _), (find_login, dump_user, _) = corporate.security_commands(home)
    return MockContext(
        run={
            shlex.join(find_system): Result(system.decode()),
            shlex.join(dump_admin): Result(admin),
            shlex.join(find_login): Result(login.decode()),
            shlex.join(dump_user): Result(user),
        },
        repeat=True,
    )


def test_keychains_give_only_what_their_trust_settings_trust(macos, tmp_path) -> None:
    company, _ = pki.company_root("Example Corp Root CA")
    signing, _ = pki.company_root("Example Corp Code Signing")
    identity, _ = pki.company_root("Jane's device", ca=False)
    zscaler, _ = pki.company_root("Zscaler Root CA")
    system = pki.pem(company) + pki.pem(signing) + pki.pem(identity)
    c = answers(
        str(tmp_path),
        system,
        pki.pem(zscaler),
        load("dump_trust_settings_admin.txt"),
        load("dump_trust_settings_user.txt"),
    )
    found = corporate.host_roots(c, None, home=str(tmp_path))
    assert [r.label for r in found.roots] == ["Example Corp Root CA", "Zscaler Root CA"]
    assert [r.source for r in found.roots] == ["System.keychain", "login.keychain-db"]
    assert any(line.startswith("CN=Example Corp Code Signing") for line in found.skipped)
    assert any("is not a CA certificate" in line for line in found.skipped)


def test_no_trust_settings_is_no_roots(macos, tmp_path) -> None:
    company, _ = pki.company_root("Example Corp Root CA")
    (find_system, dump_admin, _), (find_login, dump_user, _) = corporate.security_commands(
        str(tmp_path)
    )
    none = Result(
        stderr="SecTrustSettingsCopyCertificates: No Trust Settings were found.\n", exited=1
    )
    c = MockContext(
        run={
            shlex.join(find_system): Result(pki.pem(company).decode()),
            shlex.join(dump_admin): none,
            shlex.join(find_login): Result(
                stderr="security: SecKeychainSearchCopyNext: not found", exited=44
            ),
            shlex.join(dump_user): none,
        },
        repeat=True,
    )
    found = corporate.host_roots(c, None, home=str(tmp_path))
    assert found.roots == ()
    assert found.skipped[0].endswith("no admin trust setting trusts it")


def test_a_failing_security_command_is_one_line(macos, tmp_path) -> None:
    (find_system, dump_admin, _), _ = corporate.security_commands(str(tmp_path))
    c = MockContext(
        run={
            shlex.join(find_system): Result(""),
            shlex.join(dump_admin): Result(stderr="boom: operation not permitted", exited=1),
        },
        repeat=True,
    )
    with pytest.raises(HelperError, match=r"^`security dump-trust-settings -d` failed: boom"):
        corporate.host_roots(c, None, home=str(tmp_path))


def test_linux_reads_the_local_additions_and_the_bundle(tmp_path) -> None:
    folder = tmp_path / "ca-certificates"
    (folder / "corp").mkdir(parents=True)
    company, _ = pki.company_root("Example Corp Root CA")
    (folder / "corp" / "company.crt").write_bytes(pki.pem(company))
    (folder / "ignored.pem").write_bytes(pki.pem(company))  # update-ca-certificates reads *.crt
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.pem(company))
    found = corporate.local_roots(folder) + corporate.bundle_roots(str(bundle))
    assert len(found.roots) == 2 and len(trust.unique(found.roots)) == 1


def test_an_empty_bundle_is_refused(tmp_path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(HelperError, match="which holds no PEM certificate"):
        corporate.bundle_roots(str(empty))


def test_macos_system_proxy_comes_first(macos) -> None:
    c = MockContext(run={"scutil --proxy": Result(load("scutil_proxy_loopback.txt"))}, repeat=True)
    found = corporate.host_proxy(c, "http://setting:1", environ={"HTTP_PROXY": "http://env:2"})
    assert found.http == "http://127.0.0.1:3128" and found.source.startswith("the system proxy")


def test_without_a_system_proxy_the_environment_then_the_setting(macos) -> None:
    c = MockContext(run={"scutil --proxy": Result(load("scutil_proxy_none.txt"))}, repeat=True)
    assert (
        corporate.host_proxy(c, "", environ={"HTTP_PROXY": "http://env:2"}).http == "http://env:2"
    )
    assert corporate.host_proxy(c, "setting:1", environ={}).https == "http://setting:1"


def test_linux_never_runs_scutil() -> None:
    assert host.platform() == "linux"
    found = corporate.host_proxy(MockContext(), "", environ={"https_proxy": "http://p:3"})
    assert found.https == "http://p:3"
