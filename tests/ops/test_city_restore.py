"""A point-in-time recovery lines the catalog up with a newer storage root (docs/city.md §7):
the database comes back as it was at T, the storage root holds versions written after T,
and `repo-server reconcile-storage` imports them, so nothing acknowledged after T is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from repo_server import build_env, create_app
from repo_server.cli import main
from repo_server.services import backup as bk
from repo_server.services.keys import create_key
from tests.conftest import Client, close_env
from tests.ops.helpers import assert_catalog_matches_storage


def test_reconcile_storage_imports_what_was_written_after_the_database_point(
        client, dossier, env, config, restore_config, tmp_path, monkeypatch):
    doc = client.make_document(dossier["id"], subject="Trước thời điểm T")
    # the database at T (here: the snapshot of a backup set, restored into a new instance)
    bk.backup(env, tmp_path / "b", mode="full")
    # after T: a correction and a new dossier, acknowledged, in the storage root
    r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "Sau thời điểm T"},
                     headers={"If-Match": client.get(f"/api/v1/documents/{doc['id']}")
                              .headers["ETag"]})
    assert r.status_code == 200, r.json
    late = client.make_dossier(title="Hồ sơ lập sau thời điểm T")
    bk.restore(restore_config, tmp_path / "b", reindex=False)
    # the live storage root (newer than the database) is put in place
    restored_root = Path(restore_config["STORAGE_ROOT"])
    shutil.rmtree(restored_root)
    shutil.copytree(config["STORAGE_ROOT"], restored_root)

    monkeypatch.setenv("REPO_DATABASE_URL", restore_config["DATABASE_URL"])
    monkeypatch.setenv("REPO_FSYNC", "false")
    args = ["--instance", restore_config["INSTANCE_PATH"], "reconcile-storage"]
    refused = CliRunner().invoke(main, args, input="n\n")
    assert refused.exit_code == 1  # asks first
    out = CliRunner().invoke(main, [*args, "--yes"])
    assert out.exit_code == 0, out.output
    assert "Imported from the storage root: 2;" in out.output

    env2 = build_env(restore_config)
    try:
        c2 = Client(create_app(restore_config, env=env2),
                    create_key(env2, "pitr-check", ["admin"])[1])
        assert c2.get(f"/api/v1/documents/{doc['id']}").json["subject"] == "Sau thời điểm T"
        assert c2.get(f"/api/v1/dossiers/{late['id']}").status_code == 200
        assert_catalog_matches_storage(env2)
    finally:
        close_env(env2)


def test_reconcile_storage_says_when_the_storage_root_is_older_than_the_database(
        client, dossier, env, config, restore_config, tmp_path, monkeypatch):
    """The one wrong pairing: storage from before the database's point in time."""
    bk.backup(env, tmp_path / "old-storage", mode="full")  # storage at T0
    client.make_document(dossier["id"], subject="Sau T0")
    bk.backup(env, tmp_path / "b", mode="full")  # database at T1 > T0
    bk.restore(restore_config, tmp_path / "b", reindex=False)
    restored_root = Path(restore_config["STORAGE_ROOT"])
    shutil.rmtree(restored_root)
    old_set = next((tmp_path / "old-storage" / "sets").iterdir())
    shutil.copytree(old_set / "storage", restored_root)

    monkeypatch.setenv("REPO_DATABASE_URL", restore_config["DATABASE_URL"])
    monkeypatch.setenv("REPO_FSYNC", "false")
    out = CliRunner().invoke(main, ["--instance", restore_config["INSTANCE_PATH"],
                                    "reconcile-storage", "--yes"])
    assert out.exit_code == 1
    assert "have no object in the storage root" in out.output, out.output
