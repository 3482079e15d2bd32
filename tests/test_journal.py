"""The journal's manifests, read in one place (journal.read_manifest)."""

from __future__ import annotations

import json

from docker_vpn_helper.journal import MANIFEST, Journal, read_manifest


def test_a_manifest_that_is_not_a_json_object_reads_as_none(tmp_path):
    for text in ("{", "[1, 2]", '"x"'):
        (tmp_path / MANIFEST).write_text(text)
        assert read_manifest(tmp_path / MANIFEST) is None, text
    assert read_manifest(tmp_path / "missing.json") is None
    (tmp_path / MANIFEST).write_text('{"guest_state": "installed"}')
    assert read_manifest(tmp_path / MANIFEST) == {"guest_state": "installed"}


def test_earlier_runs_skip_unreadable_manifests_and_settling_leaves_them_alone(tmp_path):
    journal = Journal(tmp_path, "default")
    for stamp, text in (("20260101T000000Z", "{"), ("20260102T000000Z", '{"guest": [["a", "b"]]}')):
        (journal.root / stamp).mkdir(parents=True)
        (journal.root / stamp / MANIFEST).write_text(text)
    assert [folder.name for folder, _ in journal.earlier_runs()] == ["20260102T000000Z"]
    journal.settle_guest(["20260101T000000Z", "20260102T000000Z"], "served")
    assert (journal.root / "20260101T000000Z" / MANIFEST).read_text() == "{"
    settled = json.loads((journal.root / "20260102T000000Z" / MANIFEST).read_text())
    assert settled["guest_state"] == "served"
