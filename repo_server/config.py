"""Configuration: built-in defaults, then instance/config.py, then REPO_* environment variables.

The one place settings are defined (`SETTINGS`: name, default, type, help) and read
(`load_config`; `environment_value` for code that has no configuration). A new setting: a
line in `SETTINGS`, a row in README's settings table, a line in instance/config.example.py.

Every setting has a safe default for the embedded mode (SQLite, local storage root, whoosh),
so a small agency can start the server with no configuration file at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default, type (for REPO_<NAME> environment values) and help."""

    name: str
    default: Any
    help: str
    type: type = str

    def __post_init__(self) -> None:
        if self.default is not None and self.type is str and not isinstance(self.default, str):
            object.__setattr__(self, "type", type(self.default))


MiB = 1024 * 1024

# The one table of settings. README's settings table and instance/config.example.py document
# each of them (tests/app/test_config.py and tests/app/test_config_example.py check both).
SETTINGS: tuple[Setting, ...] = (
    # Where runtime data lives; the other paths default to folders inside it.
    Setting("INSTANCE_PATH", None, "the instance folder (`--instance`, REPO_INSTANCE_PATH)"),
    Setting("DATABASE_URL", None, "the catalog; default sqlite:///<instance>/repo.db"),
    Setting("STORAGE_ROOT", None, "the OCFL storage root; default <instance>/storage"),
    Setting("STORAGE_TMP", None, "staging folder, on the storage root's file system; default "
            "<storage root>.tmp"),
    Setting("INDEX_DIR", None, "the search index; default <instance>/index"),
    Setting("DERIVED_DIR", None, "the derived-text cache (text extracted from files, keyed by "
            "their SHA-256); default <instance>/derived"),
    Setting("SEARCH_BACKEND", "whoosh", "the search engine (repo_server.search.BACKENDS): "
            "whoosh (a folder, one node) or postgresql (tables in the catalog database, which "
            "must be PostgreSQL; several web nodes)"),
    Setting("SEARCH_PG_EXACT_LIMIT", 2_000, "postgresql search: totals and facets are counted "
            "exactly up to this many matches, estimated above (total_is_estimate)"),
    Setting("SEARCH_PG_RANK_LIMIT", 100, "postgresql search: every match is ranked up to this "
            "many; above, the as many most recent and the as many most recent with every word "
            "in the subject"),
    Setting("CODES_DIR", None, "agency overrides of the code lists; default <instance>/codes"),
    Setting("FSYNC", True, "fsync every storage write; only tests may turn it off"),
    Setting("FSYNC_METHOD", "auto", 'how storage writes are made durable: "syncfs" (one call '
            'per commit, Linux), "fsync" (every file and folder), "auto" = syncfs where '
            "available"),
    # The worker
    Setting("INDEX_INTERVAL_SECONDS", 0.5, "the worker's pause after a turn that found less "
            "than a full batch, so that the index is committed in batches"),
    Setting("WORKER_NICE", 10, "nice(2) level of the worker's threads: requests get the CPU "
            "first"),
    Setting("OUTBOX_RETRY_SECONDS", 30.0, "an index item that fails is tried again after this "
            "long, doubling each time"),
    Setting("OUTBOX_MAX_ATTEMPTS", 5, "tries before an index item is parked with its reason "
            "(/api/v1/outbox/parked, /health)"),
    Setting("RECOVERY_FALLBACK_SECONDS", 120.0, "crash recovery's wait for writers it cannot "
            "check (another host); a gone process of this host is recovered at once"),
    Setting("SQLITE_SYNCHRONOUS", "FULL", "FULL: a committed transaction survives a power cut"),
    # HTTP
    Setting("MAX_UPLOAD_BYTES", 512 * MiB, "the largest upload accepted"),
    Setting("MAX_JSON_BYTES", 1 * MiB, "the largest JSON body accepted"),
    Setting("FONDS_CODE_PATTERN", r"^[0-9A-Z][0-9A-Z.]{0,12}$", "what a fonds code looks like"),
    Setting("TIMEZONE", "Asia/Ho_Chi_Minh", "year boundaries of numbering and retention"),
    Setting("HOST", "127.0.0.1", "address `repo-server serve` listens on"),
    Setting("PORT", 8080, "port `repo-server serve` listens on"),
    Setting("EMBEDDED_WORKER", True, "`repo-server serve` runs the worker in a background "
            "thread"),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting("LOG_FORMAT", "auto", "json (one object per line, with the request id), text (for "
            "a console), or auto: text for `serve` and commands, json for gunicorn and the "
            "worker"),
    # Records management
    Setting("ARCHIVE_CODE_FORMAT", "{fonds_code}.LT.{year}.{serial:06d}", "archive codes given "
            "when a dossier enters the archive"),
    Setting("ARCHIVE_MIN_RETENTION_YEARS", 5, "NĐ 30/2020 Art. 30: shorter-lived files stay "
            "with the unit"),
    Setting("HANDOVER_WARNING_DAYS", 30, "NĐ 30/2020 PL VI: warn this long before files are due"),
    Setting("TRANSFER_AFTER_YEARS", 5, "Law on Archives 2024: to the historical archive within "
            "this many years"),
    Setting("TRANSFER_WARNING_DAYS", 365, "TT 05/2025: register a transfer this long ahead"),
    Setting("HANDLING_WARNING_DAYS", 2, "warn this long before an incoming document's deadline"),
    Setting("KEEP_BACK_MAX_YEARS", 2, "NĐ 30/2020 Art. 30: a unit keeps a dossier back at most "
            "this long"),
    Setting("DISPOSAL_QUORUM", 3, "distinct council members who must agree on each item"),
    Setting("DISPOSAL_APPROVER_ROLES", "head", "roles that may sign off a disposal review"),
    Setting("PDF_FONT", "", "a TTF font with Vietnamese letters for PDF records (found when "
            "empty)"),
    Setting("OCR", True, "read scans with Tesseract when extracting text"),
    Setting("TESSERACT_CMD", "", "the tesseract program when it is not on PATH (read from "
            "REPO_TESSERACT_CMD where text is extracted: `environment_value`)"),
    Setting("IDEMPOTENCY_TTL_HOURS", 24, "how long a POST's Idempotency-Key is remembered"),
    Setting("IDEMPOTENCY_MAX_HASH_BYTES", 8 * MiB, "larger uploads are compared by length and "
            "Content-Digest"),
    Setting("AUTH_CACHE_SECONDS", 10, "how long a process remembers a checked key at most"),
    Setting("AUTH_REVOCATION_SECONDS", 0.25, "how often a process checks whether a key was "
            "revoked or a user's rights changed elsewhere"),
    Setting("AUTH_FAILURE_LIMIT", 20, "failed sign-ins per presented key and client address "
            "within AUTH_FAILURE_WINDOW, then 429"),
    Setting("AUTH_FAILURE_WINDOW", 60, "seconds over which failed sign-ins are counted"),
    Setting("TRUSTED_PROXIES", 0, "reverse proxies in front of the server whose "
            "X-Forwarded-For is believed (number of hops)"),
    # Operations (docs/operations.md)
    Setting("FIXITY_PERIOD_DAYS", 30, "every stored object is re-hashed within this many days "
            "(at most 1095)"),
    Setting("FIXITY_SHARE", "", 'share of the objects checked per nightly run; "" = '
            "1/FIXITY_PERIOD_DAYS"),
    Setting("AUDIT_KEY_FILE", "", "the key that seals the audit trail, kept outside the "
            "database (decision 0015), made on the first write; \"\" = <instance>/audit.key"),
    Setting("BACKUP_DIR", None, "where the nightly backup writes: a folder on another disk; "
            "default <instance>/backups (same disk: /health and doctor warn)"),
    Setting("BACKUP_KEEP", 14, "backup sets kept in BACKUP_DIR (the two newest full sets are "
            "always kept)"),
    Setting("BACKUP_FULL_EVERY_DAYS", 30, "a new independent full copy after this many days"),
    Setting("METRICS_PUBLIC", False, "/api/v1/metrics without an API key (for a local "
            "Prometheus)"),
    Setting("JOB_SCHEDULES", None, '{job name: crontab}; None keeps the defaults, "" disables '
            "one", dict),
    # Intake (README "Digitisation" and "Signatures")
    Setting("SIGNATURE_VALIDATION", True, "validate PDF signatures at ingest (pyHanko)"),
    Setting("SIGNATURE_TRUST_ROOTS", "", 'folder of PEM/DER root CAs; "" = '
            "<instance>/trust-roots"),
    Setting("DIGITISATION_DIR", "", 'batch work folders; "" = <instance>/digitisation'),
    Setting("DIGITISATION_WORKERS", 0, "conversion processes per batch; 0 = every core"),
    Setting("DIGITISATION_KEEP_ORIGINALS", True, "store the original scans beside the PDF/A"),
    Setting("DIGITISATION_PDFA", "2", "PDF/A part made by OCRmyPDF: 1, 2 or 3 (TCVN 14159-1 = "
            "1)"),
    Setting("DIGITISATION_OCR_LANGUAGES", "vie", 'Tesseract languages, e.g. "vie+eng"'),
    Setting("SCAN_MIN_DPI", 200, "TT 05/2025 Art. 8: administrative documents"),
    Setting("SCAN_MIN_DPI_BY_TYPE", "30=300,31=300", "maps (30) and technical drawings (31)"),
    Setting("SCAN_MIN_COLOUR_BITS", 24, "TT 05/2025: at least 24-bit colour"),
    Setting("SCAN_MAX_SKEW_DEGREES", 3.0, 'text lines tilted more than this are "strongly '
            'skewed"'),
    Setting("SCAN_BLANK_INK_RATIO", 0.001, "a page with less ink than this share is blank"),
    Setting("SCAN_MIN_OCR_CONFIDENCE", 60, "mean Tesseract word confidence (0-100) of a text "
            "page"),
)
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, raw: str, kind: type) -> Any:  # noqa: ANN401
    """Turn an environment string into the setting's type."""
    if kind is bool:
        low = raw.strip().lower()
        if low in _BOOL_TRUE:
            return True
        if low in _BOOL_FALSE:
            return False
        raise ValueError(f"REPO_{name} must be true or false, not {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"REPO_{name} must be a whole number, not {raw!r}") from exc
    if kind is float:
        try:
            return float(raw)
        except ValueError as exc:
            raise ValueError(f"REPO_{name} must be a number, not {raw!r}") from exc
    if kind is dict:
        import json

        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"REPO_{name} must be a JSON object, not {raw!r}") from exc
        if not isinstance(value, dict):
            raise ValueError(f"REPO_{name} must be a JSON object, not {raw!r}")
        return value
    return raw


def environment_value(name: str) -> Any:  # noqa: ANN401
    """A setting from its REPO_<NAME> environment variable alone, or its default: for code
    that runs without the instance configuration (text extraction, in child processes too)."""
    raw = os.environ.get(f"REPO_{name}")
    setting = _BY_NAME[name]
    return setting.default if raw is None else _coerce(name, raw, setting.type)


def load_config(instance_path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve the configuration for one instance folder."""
    cfg = dict(DEFAULTS)
    instance = Path(os.environ.get("REPO_INSTANCE_PATH") or instance_path).resolve()
    local = instance / "config.py"
    if local.is_file():
        namespace: dict[str, Any] = {}
        exec(compile(local.read_text(encoding="utf-8"), str(local), "exec"), namespace)
        cfg.update({k: v for k, v in namespace.items() if k.isupper()})
    for setting in SETTINGS:
        raw = os.environ.get(f"REPO_{setting.name}")
        if raw is not None:
            cfg[setting.name] = _coerce(setting.name, raw, setting.type)
    if os.environ.get("DATABASE_URL") and not os.environ.get("REPO_DATABASE_URL"):
        cfg["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if overrides:
        cfg.update(overrides)

    instance = Path(cfg.get("INSTANCE_PATH") or instance).resolve()
    cfg["INSTANCE_PATH"] = str(instance)
    cfg["STORAGE_ROOT"] = str(Path(cfg["STORAGE_ROOT"] or instance / "storage").resolve())
    cfg["STORAGE_TMP"] = str(Path(cfg["STORAGE_TMP"] or cfg["STORAGE_ROOT"] + ".tmp").resolve())
    cfg["INDEX_DIR"] = str(Path(cfg["INDEX_DIR"] or instance / "index").resolve())
    cfg["DERIVED_DIR"] = str(Path(cfg["DERIVED_DIR"] or instance / "derived").resolve())
    cfg["CODES_DIR"] = str(Path(cfg["CODES_DIR"] or instance / "codes").resolve())
    cfg["BACKUP_DIR"] = str(Path(cfg["BACKUP_DIR"] or instance / "backups").resolve())
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = f"sqlite:///{instance / 'repo.db'}"
    if cfg["SEARCH_BACKEND"] == "postgresql" and not cfg["DATABASE_URL"].startswith("postgresql"):
        raise ValueError("SEARCH_BACKEND=postgresql keeps the search index in the catalog "
                         "database, which must then be PostgreSQL (DATABASE_URL=postgresql+"
                         "psycopg://…); with SQLite use SEARCH_BACKEND=whoosh")
    return cfg
