"""plan_deploy and CertPlan: one row per decision branch."""

from __future__ import annotations

import pytest

from docker_vpn_helper.core.plans.cert import CertPlan, ForeignCA, plan_deploy

CERT, KEY = "/var/lib/boot2docker/server.pem", "/var/lib/boot2docker/server-key.pem"


@pytest.mark.parametrize(
    "case, issued, serves_it, remote, key_same, upload, certain, why",
    [
        ("issued in this run", True, False, None, True, True, True,
         "cert.issue issues a new certificate"),
        ("the daemon serves it", False, True, None, True, False, True,
         "the daemon already serves this certificate"),
        ("the VM cannot be read yet", False, False, None, True, True, False,
         "the VM cannot be read before it runs"),
        ("the VM has another certificate", False, False, False, True, True, True,
         "the VM has another certificate"),
        ("the VM has another key", False, False, True, False, True, True,
         f"the VM's server key is not the store's ({KEY})"),
        ("the VM has both", False, False, True, True, False, True,
         f"the VM already has this certificate and its key ({CERT})"),
    ],
)  # fmt: skip
def test_plan_deploy(case, issued, serves_it, remote, key_same, upload, certain, why):
    plan = plan_deploy(issued, serves_it, remote, CERT, KEY, key_same)
    assert (plan.upload, plan.certain, plan.why) == (upload, certain, why), case
    assert plan.changes == (("deploy",) if upload else ())
    assert bool(plan.problem) is (upload and certain), case


def test_a_foreign_ca_stops_before_anything_is_uploaded_unless_the_daemon_serves_ours():
    with pytest.raises(ForeignCA):
        plan_deploy(False, False, True, CERT, KEY, True, ca_matches=False)
    assert not plan_deploy(False, True, None, CERT, KEY, ca_matches=False).upload


@pytest.mark.parametrize(
    "problems, force, record, issue, changes, reason",
    [
        ((), False, False, False, (), "--force"),
        (("it expires in 3 days",), False, False, True, ("cert",), "it expires in 3 days"),
        ((), True, False, True, ("cert",), "--force"),
        ((), False, True, False, ("config",), "--force"),
    ],
)  # fmt: skip
def test_cert_plan(problems, force, record, issue, changes, reason):
    plan = CertPlan(("localhost",), problems, force, record, "/s/config.json", "2027-01-01")
    assert (plan.issue, plan.changes, plan.reason) == (issue, changes, reason)
    assert len(plan.actions()) == int(issue) + int(record)


def test_a_wrong_key_alone_is_a_reason_to_upload_both_files():
    plan = plan_deploy(False, False, True, "/v/server.pem", "/v/server-key.pem", key_matches=False)
    assert plan.upload and plan.why == "the VM's server key is not the store's (/v/server-key.pem)"
    assert not plan_deploy(False, False, True, "/v/server.pem", "/v/server-key.pem").upload
