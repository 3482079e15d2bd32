"""corp.sync through the stand-ins: a fake boot2docker guest (files in memory), a fake daemon,
the host's roots from a folder and a bundle, the proxy from the environment."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from docker_vpn_helper.adapters import corporate
from docker_vpn_helper.core import proxy, trust
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import corp, restore, step

from ..support import corp as pki
from ..support.runs import close_all, session_for
from .standins import RUNNING, SHOW, context, ok, showvminfo, write_settings

PROFILE = "/var/lib/boot2docker/profile"
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DM_PROFILE = b"\nEXTRA_ARGS='\n--label provider=virtualbox\n\n'\nDOCKER_TLS=auto\n"
SECRET = "hunter2-Secret"


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """The company root in the host's local roots folder (as on Linux), a second one in a
    bundle named by vpnhelper.ca_bundle (with a private key beside it)."""
    folder = tmp_path / "local"
    folder.mkdir()
    company, _ = pki.company_root("Example Corp Root CA")
    (folder / "company.crt").write_bytes(pki.pem(company))
    monkeypatch.setattr(corporate, "LINUX_LOCAL_ROOTS", folder)
    other, key = pki.company_root("Zscaler Root CA")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.pem(other) + pki.key_pem(key) + pki.pem(company))
    return {"company": company, "other": other, "bundle": bundle}


@pytest.fixture
def vm(guest):
    guest.files[PROFILE] = DM_PROFILE
    guest.files[BUNDLE] = b"# the ISO's public roots\n"
    return guest


def session(store, roots, **settings):
    s = session_for(context(RUNNING), "default", str(store))
    s.settings = replace(s.settings, ca_bundle=str(roots["bundle"]), **settings)
    return s


def ours(guest) -> dict[str, bytes]:
    return {p: d for p, d in guest.files.items() if p.startswith(trust.GUEST_CERTS_DIR + "/")}


def test_roots_and_proxy_go_into_the_vm_and_restore_takes_them_out(
    store, roots, vm, dockerd, monkeypatch, capsys
):
    monkeypatch.setenv("HTTPS_PROXY", f"http://jane:{SECRET}@127.0.0.1:3128")
    before = dict(vm.files)
    s = session(store, roots)
    plan = step(s, corp.STAGE)
    assert plan.changes == ("corp",) and vm.restarts == 1
    installed = ours(vm)
    assert len(installed) == 2  # the company root once, though found twice
    fingerprints = set().union(*(trust.fingerprints(d) for d in installed.values()))
    assert fingerprints == trust.fingerprints(pki.pem(roots["company"]) + pki.pem(roots["other"]))
    assert fingerprints <= trust.fingerprints(vm.files[BUNDLE])
    assert vm.files[BUNDLE].startswith(before[BUNDLE])
    profile = vm.files[PROFILE].decode()
    assert profile.startswith(DM_PROFILE.decode())
    assert proxy.effective(profile)["HTTPS_PROXY"] == f"http://jane:{SECRET}@10.0.2.2:3128"
    err = capsys.readouterr().err
    assert SECRET not in err and "restarted the daemon" in err
    assert "a private key, never copied" in err
    manifest = json.loads((s.journal.folder / "manifest.json").read_text())
    assert manifest["guest_state"] == "served"
    assert sorted(t for saved, t in manifest["guest"] if not saved) == sorted(installed)

    close_all()
    again = session(store, roots)
    assert step(again, corp.STAGE).changes == () and vm.restarts == 1  # idempotent, no restart
    close_all()
    step(session_for(context(RUNNING), "default", str(store)), restore.STAGE)
    assert vm.files == {**before, **{p: d for p, d in vm.files.items() if "/backups/" in p}}
    assert ours(vm) == {}


def test_a_root_the_running_bundle_has_is_only_made_persistent(store, roots, vm, dockerd):
    vm.files[BUNDLE] += pki.pem(roots["company"]) + pki.pem(roots["other"])
    plan = step(session(store, roots), corp.STAGE)
    assert len(plan.persist) == 2 and plan.load == () and not plan.restart
    assert vm.restarts == 0 and len(ours(vm)) == 2


def test_dry_run_lists_subjects_fingerprints_and_masked_lines(
    store, roots, vm, dockerd, monkeypatch, capsys
):
    monkeypatch.setenv("HTTP_PROXY", f"http://jane:{SECRET}@proxy.corp:8080")
    before = dict(vm.files)
    s = session_for(context(RUNNING), "default", str(store), dry_run=True)
    s.settings = replace(s.settings, ca_bundle=str(roots["bundle"]))
    step(s, corp.STAGE)
    err = capsys.readouterr().err
    company = trust.read_pem(pki.pem(roots["company"]), "x").roots[0]
    assert f"would copy {company.describe()} to {company.guest_path}" in err
    assert (
        "would write to /var/lib/boot2docker/profile: export HTTP_PROXY=http://****@proxy.corp:8080"
        in err
    )
    assert SECRET not in err
    assert vm.files == before and vm.restarts == 0


def test_turned_off_changes_nothing(store, roots, vm, dockerd, capsys):
    s = session(store, roots, corp_roots=False, corp_proxy=False)
    assert step(s, corp.STAGE).changes == ()
    assert (
        "turned off (vpnhelper.corp_roots and vpnhelper.corp_proxy are off)"
        in capsys.readouterr().err
    )
    assert ours(vm) == {} and vm.log == []  # not even read


def test_a_daemon_that_does_not_come_back_gets_the_previous_files(store, roots, vm, dockerd):
    before = dict(vm.files)
    vm.refuse = vm.files[vm.CERT]  # the init script will not start dockerd any more
    s = session(store, roots, daemon_wait=0.3)
    with pytest.raises(HelperError, match="the previous profile and bundle were put back"):
        step(s, corp.STAGE)
    assert {p: d for p, d in vm.files.items() if "/backups/" not in p} == before
    manifest = json.loads((s.journal.folder / "manifest.json").read_text())
    assert manifest["guest_state"] == "rolled back"


def test_a_bundle_that_cannot_be_read_is_one_line(store, roots, vm, dockerd, tmp_path):
    s = session(store, roots)
    s.settings = replace(s.settings, ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(
        HelperError, match=r"vpnhelper.ca_bundle names .*missing.pem, which cannot be read"
    ):
        step(s, corp.STAGE)


@pytest.mark.parametrize(("format", "reachable"), [("1.19", False), ("1.16", True)])
def test_a_loopback_proxy_on_a_vm_whose_nat_cannot_reach_the_host_is_named(
    store, roots, vm, dockerd, monkeypatch, capsys, format, reachable
):
    """VirtualBox 7's new VMs (settings format 1.19) keep 10.0.2.2 off the host's loopback."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    cfg = write_settings(store)
    cfg.write_text(cfg.read_text().replace('version="1.16-macosx"', f'version="{format}-macosx"'))
    running = {SHOW: ok(showvminfo(cfg=cfg))}
    s = session_for(context(running), "default", str(store), dry_run=True)
    s.settings = replace(s.settings, ca_bundle=str(roots["bundle"]))
    plan = step(s, corp.STAGE)
    said = "--nat-localhostreachable1 on"
    assert (said in plan.problem) is not reachable
    assert (said in capsys.readouterr().err) is not reachable


def test_restore_original_takes_out_two_runs_of_roots_and_proxy(
    store, roots, vm, dockerd, monkeypatch
):
    """Two corp runs (the second after the host's proxy changed): `restore --original` leaves
    the VM's profile, bundle and certs folder as they were before the first."""
    before = dict(vm.files)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy-a:3128")
    step(session(store, roots), corp.STAGE)
    close_all()
    monkeypatch.setenv("HTTP_PROXY", "http://proxy-b:3128")
    step(session(store, roots), corp.STAGE)
    assert proxy.effective(vm.files[PROFILE].decode())["HTTP_PROXY"] == "http://proxy-b:3128"
    close_all()
    step(session_for(context(RUNNING), "default", str(store)), restore.STAGE, original=True)
    assert {p: d for p, d in vm.files.items() if "/backups/" not in p} == before


def record(store) -> dict | None:
    state = store / "machines" / "default" / "docker-vpn-helper.json"
    return json.loads(state.read_text()).get("corp") if state.exists() else None


def test_a_healthy_run_with_the_record_matching_opens_no_ssh(store, roots, vm, dockerd, capsys):
    """The first run writes and records; the second (host unchanged, the daemon serving the
    store's certificate) plans nothing without an SSH connection."""
    step(session(store, roots), corp.STAGE)
    assert len(record(store)["roots"]) == 2 and record(store)["proxy"] is not None
    close_all()
    vm.connections_opened, vm.log = 0, []
    capsys.readouterr()
    plan = step(session(store, roots), corp.STAGE)
    assert plan.changes == () and plan.chores == ()
    assert vm.connections_opened == 0 and vm.log == [] and vm.restarts == 1
    assert "not read over SSH" in capsys.readouterr().err


def test_a_new_host_root_reads_the_vm_and_uploads_it(store, roots, vm, dockerd, tmp_path):
    step(session(store, roots), corp.STAGE)
    close_all()
    vm.connections_opened = 0
    new, _ = pki.company_root("Netskope Root CA")
    roots["bundle"].write_bytes(roots["bundle"].read_bytes() + pki.pem(new))
    plan = step(session(store, roots), corp.STAGE)
    assert vm.connections_opened == 1 and vm.restarts == 2
    added = trust.read_pem(pki.pem(new), "x").roots[0]
    assert [r.fingerprint for r in plan.persist] == [added.fingerprint]
    assert added.guest_path in vm.files and added.fingerprint in record(store)["roots"]


def test_a_record_on_an_unproven_machine_still_reads_the_vm(store, roots, vm, dockerd):
    """The daemon does not serve the store's certificate: the record proves nothing."""
    step(session(store, roots), corp.STAGE)
    close_all()
    vm.connections_opened = 0
    dockerd.plain = True  # another program answers on the port
    plan = step(session(store, roots), corp.STAGE)
    assert vm.connections_opened == 1 and plan.changes == ()


def test_a_vm_with_the_files_but_no_record_is_read_once_then_recorded(store, roots, vm, dockerd):
    """A machine set up before the record existed: read, nothing written, recorded (the chore)."""
    step(session(store, roots), corp.STAGE)
    state = store / "machines" / "default" / "docker-vpn-helper.json"
    state.write_text(
        json.dumps({k: v for k, v in json.loads(state.read_text()).items() if k != "corp"})
    )
    close_all()
    vm.connections_opened = 0
    plan = step(session(store, roots), corp.STAGE)
    assert vm.connections_opened == 1 and plan.changes == () and plan.chores
    assert vm.restarts == 1 and record(store) is not None


def test_restore_forgets_the_record(store, roots, vm, dockerd):
    step(session(store, roots), corp.STAGE)
    assert record(store) is not None
    close_all()
    step(session_for(context(RUNNING), "default", str(store)), restore.STAGE)
    assert record(store) is None
    close_all()
    vm.connections_opened = 0
    plan = step(session(store, roots), corp.STAGE)  # the VM is read and given the roots again
    assert vm.connections_opened == 1 and len(plan.persist) == 2
