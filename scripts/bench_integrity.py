"""Figures for the integrity work (issue 12 §3, §4): whole-file download speed through the HTTP
app (the digest is checked as it streams), fixity seconds per GB, backup with verified links,
zip-bomb refusal time. Run: .venv/bin/python scripts/bench_integrity.py [MiB]"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from repo_server import build_env, create_app
from repo_server.catalog.migrate import upgrade
from repo_server.config import load_config
from repo_server.services.keys import create_key
from repo_server.services.retention import seed_default_schedule


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        cfg = load_config(instance, {"FSYNC": False, "MAX_UPLOAD_BYTES": (mib + 8) << 20})
        upgrade(cfg["DATABASE_URL"])
        env = build_env(cfg)
        seed_default_schedule(env)
        app = create_app(cfg, env=env)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {create_key(env, 'bench', ['admin'])[1]}"}
        r = client.post("/api/v1/fonds", json={"code": "000.00.00.H49", "name": "UBND"},
                        headers=headers)
        r = client.post("/api/v1/dossiers", headers=headers, json={
            "fonds_code": "000.00.00.H49", "title": "Hồ sơ", "retention": "05",
            "start_date": "2025-07-15"})
        dossier = r.json["id"]
        r = client.post(f"/api/v1/dossiers/{dossier}/documents", headers=headers,
                        json={"type_code": "02", "subject": "Bench"})
        doc = r.json["id"]
        block = bytes(range(256)) * 4096  # 1 MiB, not compressible to nothing
        body = block * mib
        r = client.post(f"/api/v1/documents/{doc}/files", query_string={"name": "big.pdf"},
                        data=body, content_type="application/pdf", headers=headers)
        assert r.status_code == 201, r.json
        del body
        best = 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            r = client.get(f"/api/v1/documents/{doc}/files/big.pdf", headers=headers)
            n = sum(len(c) for c in r.response)
            r.close()
            best = max(best, n / (1 << 20) / (time.perf_counter() - t0))
        out["download_MiB_per_s"] = round(best, 1)

        from repo_server.services import fixity
        try:
            t0 = time.perf_counter()
            counts = fixity.run_fixity(env, "manual", limit=10**6)
            seconds = time.perf_counter() - t0
            out["fixity_s_per_GiB"] = round(seconds / (counts["bytes_checked"] / (1 << 30)), 2)
        except Exception as exc:  # noqa: BLE001
            out["fixity"] = str(exc)

        from repo_server.services import backup as bk
        dest = Path(tmp) / "backups"
        t0 = time.perf_counter()
        bk.backup(env, dest, mode="full")
        out["backup_full_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        bk.backup(env, dest, mode="incremental")
        out["backup_incremental_s"] = round(time.perf_counter() - t0, 2)

        try:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.services.test_package_zip_safety import _bomb

            package = _bomb()
            t0 = time.perf_counter()
            r = client.post("/api/v1/packages/import", data=package,
                            content_type="application/zip", headers=headers)
            out["zip_bomb_refusal_s"] = round(time.perf_counter() - t0, 3)
            out["zip_bomb_status"] = r.status_code
            out["zip_bomb_package_bytes"] = len(package)
        except ImportError:
            pass
        env.db.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
