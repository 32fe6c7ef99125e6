"""Configuration: built-in defaults, then instance/config.py, then REPO_* environment variables.

Every setting has a safe default for the embedded mode (SQLite, local storage root, whoosh),
so a small agency can start the server with no configuration file at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Where runtime data lives; the other paths default to folders inside it.
    "INSTANCE_PATH": None,
    "DATABASE_URL": None,  # default: sqlite:///<instance>/repo.db
    "STORAGE_ROOT": None,  # default: <instance>/storage
    "STORAGE_TMP": None,  # default: <storage root>.tmp (must be on the same file system)
    "INDEX_DIR": None,  # default: <instance>/index
    "CODES_DIR": None,  # default: <instance>/codes (agency overrides of the code lists)
    "FSYNC": True,  # fsync every storage write; only tests may turn it off
    # How storage writes are made durable: "syncfs" (one call per commit, Linux), "fsync"
    # (every file and folder), "auto" = syncfs where available.
    "FSYNC_METHOD": "auto",
    # The worker: wait this long after a turn that found less than a full batch, so that the
    # index is committed in batches under steady ingest (new records stay searchable within
    # about a second); and run at this nice(2) level so that requests get the CPU first.
    "INDEX_INTERVAL_SECONDS": 0.5,
    "WORKER_NICE": 10,
    "SQLITE_SYNCHRONOUS": "FULL",  # FULL: a committed transaction survives a power cut
    "MAX_UPLOAD_BYTES": 512 * 1024 * 1024,
    "MAX_JSON_BYTES": 1024 * 1024,
    "MAX_PAGE_SIZE": 200,
    "DEFAULT_PAGE_SIZE": 20,
    "FONDS_CODE_PATTERN": r"^[0-9A-Z][0-9A-Z.]{0,12}$",
    "TIMEZONE": "Asia/Ho_Chi_Minh",
    "HOST": "127.0.0.1",
    "PORT": 8080,
    "EMBEDDED_WORKER": True,  # `repo-server serve` runs the worker in a background thread
    "LOG_LEVEL": "INFO",
    # json (one object per line, with the request id), text (for a console), or auto: text for
    # `repo-server serve` and the commands a person types, json for gunicorn and the worker
    "LOG_FORMAT": "auto",
    # Records management
    "ARCHIVE_CODE_FORMAT": "{fonds_code}.LT.{year}.{serial:06d}",
    "ARCHIVE_MIN_RETENTION_YEARS": 5,  # NĐ 30/2020 Art. 30: shorter-lived files stay with the unit
    "HANDOVER_WARNING_DAYS": 30,  # NĐ 30/2020 PL VI: warn 30 days before files are due
    "TRANSFER_AFTER_YEARS": 5,  # Law on Archives 2024: to the historical archive within 5 years
    "TRANSFER_WARNING_DAYS": 365,  # TT 05/2025: register a transfer 12 months ahead
    "HANDLING_WARNING_DAYS": 2,  # warn this long before an incoming document's deadline
    "KEEP_BACK_MAX_YEARS": 2,  # NĐ 30/2020 Art. 30: a unit keeps a dossier back ≤ 2 years
    "DISPOSAL_QUORUM": 3,  # distinct council members who must agree on each item
    "DISPOSAL_APPROVER_ROLES": "head",  # roles that may sign off a disposal review
    "PDF_FONT": "",  # a TTF font with Vietnamese letters for PDF records (found when empty)
    "OCR": True,
    "IDEMPOTENCY_TTL_HOURS": 24,  # how long a POST's Idempotency-Key is remembered
    "IDEMPOTENCY_MAX_HASH_BYTES": 8 * 1024 * 1024,  # larger uploads: length + Content-Digest
    "AUTH_CACHE_SECONDS": 10,  # how long a process remembers a checked key at most (a
    # revocation reaches every process within AUTH_REVOCATION_SECONDS anyway)
    "AUTH_REVOCATION_SECONDS": 0.25,  # how often a process checks whether a key was revoked
    # or a user's rights changed elsewhere (one small read; a revocation takes at most this)
    "AUTH_FAILURE_LIMIT": 20,  # failed sign-ins per presented key and client address ...
    "AUTH_FAILURE_WINDOW": 60,  # ... within this many seconds, then 429 until it clears
    "TRUSTED_PROXIES": 0,  # reverse proxies in front of the server whose X-Forwarded-For
    # is believed (number of hops); 0: the client address is the TCP peer
    # Operations (docs/operations.md)
    "FIXITY_PERIOD_DAYS": 30,  # every stored object is re-hashed within this many days (≤ 1095)
    "FIXITY_SHARE": "",  # share of the objects checked per nightly run; "" = 1/FIXITY_PERIOD_DAYS
    # The key that seals the audit trail, kept outside the database (decision 0015); made on
    # the first write. "" = <instance>/audit.key. Backup sets carry a copy beside the snapshot.
    "AUDIT_KEY_FILE": "",
    # Where the nightly backup job writes: a folder on another disk (a mounted USB disk, a
    # network share). Default <instance>/backups: on by default, but on the same disk as the
    # records, which /health, the greeting and `repo-server doctor` warn about until it is set.
    # Turn the job off with JOB_SCHEDULES = {"backup": ""}.
    "BACKUP_DIR": None,
    "BACKUP_KEEP": 14,  # backup sets kept in BACKUP_DIR (the two newest full sets are always kept)
    "BACKUP_FULL_EVERY_DAYS": 30,  # a new independent full copy after this many days
    "METRICS_PUBLIC": False,  # /api/v1/metrics without an API key (for a local Prometheus)
    "JOB_SCHEDULES": None,  # {job name: crontab}; None keeps the defaults, "" disables one
    # Intake (README "Digitisation" and "Signatures")
    "SIGNATURE_VALIDATION": True,  # validate PDF signatures at ingest (pyHanko)
    "SIGNATURE_TRUST_ROOTS": "",  # folder of PEM/DER root CAs; "" = <instance>/trust-roots
    "DIGITISATION_DIR": "",  # batch work folders; "" = <instance>/digitisation
    "DIGITISATION_WORKERS": 0,  # conversion processes per batch; 0 = every core
    "DIGITISATION_KEEP_ORIGINALS": True,  # store the original scans beside the PDF/A
    "DIGITISATION_PDFA": "2",  # PDF/A part made by OCRmyPDF: 1, 2 or 3 (TCVN 14159-1 = 1)
    "DIGITISATION_OCR_LANGUAGES": "vie",  # Tesseract languages, e.g. "vie+eng"
    "SCAN_MIN_DPI": 200,  # TT 05/2025 Art. 8: administrative documents
    "SCAN_MIN_DPI_BY_TYPE": "30=300,31=300",  # maps (30) and technical drawings (31)
    "SCAN_MIN_COLOUR_BITS": 24,  # TT 05/2025: ≥ 24-bit colour
    "SCAN_MAX_SKEW_DEGREES": 3.0,  # text lines tilted more than this are "strongly skewed"
    "SCAN_BLANK_INK_RATIO": 0.001,  # a page with less ink than this share is blank
    "SCAN_MIN_OCR_CONFIDENCE": 60,  # mean Tesseract word confidence (0-100) of a text page
}

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Turn an environment string into the type of the default."""
    if isinstance(default, bool):
        low = raw.strip().lower()
        if low in _BOOL_TRUE:
            return True
        if low in _BOOL_FALSE:
            return False
        raise ValueError(f"REPO_{name} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"REPO_{name} must be a whole number, not {raw!r}") from exc
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise ValueError(f"REPO_{name} must be a number, not {raw!r}") from exc
    return raw


def load_config(instance_path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve the configuration for one instance folder."""
    cfg = dict(DEFAULTS)
    instance = Path(os.environ.get("REPO_INSTANCE_PATH") or instance_path).resolve()
    local = instance / "config.py"
    if local.is_file():
        namespace: dict[str, Any] = {}
        exec(compile(local.read_text(encoding="utf-8"), str(local), "exec"), namespace)
        cfg.update({k: v for k, v in namespace.items() if k.isupper()})
    for name, default in DEFAULTS.items():
        raw = os.environ.get(f"REPO_{name}")
        if raw is not None:
            cfg[name] = _coerce(name, raw, default if default is not None else "")
    if os.environ.get("DATABASE_URL") and not os.environ.get("REPO_DATABASE_URL"):
        cfg["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if overrides:
        cfg.update(overrides)

    instance = Path(cfg.get("INSTANCE_PATH") or instance).resolve()
    cfg["INSTANCE_PATH"] = str(instance)
    cfg["STORAGE_ROOT"] = str(Path(cfg["STORAGE_ROOT"] or instance / "storage").resolve())
    cfg["STORAGE_TMP"] = str(Path(cfg["STORAGE_TMP"] or cfg["STORAGE_ROOT"] + ".tmp").resolve())
    cfg["INDEX_DIR"] = str(Path(cfg["INDEX_DIR"] or instance / "index").resolve())
    cfg["CODES_DIR"] = str(Path(cfg["CODES_DIR"] or instance / "codes").resolve())
    cfg["BACKUP_DIR"] = str(Path(cfg["BACKUP_DIR"] or instance / "backups").resolve())
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = f"sqlite:///{instance / 'repo.db'}"
    return cfg
