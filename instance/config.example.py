# repo-server settings for this instance. Copy this file to instance/config.py and change what
# you need: every line below is commented out and shows the built-in default.
#
#     cp instance/config.example.py instance/config.py
#
# The file is Python: NAME = value, one per line. An environment variable REPO_<NAME> overrides
# it (REPO_PORT=8081). Restart the server after a change. `repo-server doctor` checks the
# result. Paths may be absolute, or relative to the folder you start the server from.

# --- Where it listens -----------------------------------------------------------------------
# HOST = "127.0.0.1"            # "0.0.0.0": every address of this machine (other computers too)
# PORT = 8080                   # also `scripts/serve --port 8081` or REPO_PORT=8081

# --- Backups (read this one) ----------------------------------------------------------------
# Every night at 00:30 the server backs up the database and the records into BACKUP_DIR.
# The default, <instance>/backups, is on the same disk as the records: if that disk dies, both
# are lost. Point it at another disk (a USB disk, a network share) and keep a second copy in
# another building from time to time. /api/v1/health and `repo-server doctor` remind you.
# BACKUP_DIR = "/media/usb/repo-backups"
# BACKUP_KEEP = 14              # backup sets kept (the two newest full sets are always kept)
# BACKUP_FULL_EVERY_DAYS = 30   # a new independent full copy after this many days
# JOB_SCHEDULES = {"backup": "0 23 * * *"}   # crontabs, local time; "" turns a job off

# --- Where the data lives -------------------------------------------------------------------
# INSTANCE_PATH = "/srv/repo"   # also --instance or REPO_INSTANCE_PATH
# DATABASE_URL = "postgresql+psycopg://repo@/repo?host=/var/run/postgresql"
#                               # default: SQLite in <instance>/repo.db (no server needed)
# STORAGE_ROOT = "/srv/repo/storage"   # the records themselves (OCFL); default <instance>/storage
# STORAGE_TMP = "/srv/repo/storage.tmp"  # staging; must be on the same disk as STORAGE_ROOT
# INDEX_DIR = "/srv/repo/index"         # search index (rebuilt when lost)
# DERIVED_DIR = "/srv/repo/derived"     # text read from files, by SHA-256 (re-extracted when lost)
# SEARCH_BACKEND = "whoosh"             # search engine: "whoosh" (one node) or "postgresql"
#                                       # (in the catalog database, PostgreSQL only; several nodes)
# SEARCH_PG_EXACT_LIMIT = 2000          # postgresql: exact totals/facets up to this many matches
# SEARCH_PG_RANK_LIMIT = 100            # postgresql: matches ranked by relevance at most
# CODES_DIR = "/srv/repo/codes"         # corrected code lists (<name>.json), if any

# --- Records management (NĐ 30/2020, Luật Lưu trữ 2024) -----------------------------------------
# TIMEZONE = "Asia/Ho_Chi_Minh"        # year boundaries for numbering and retention
# FONDS_CODE_PATTERN = r"^[0-9A-Z][0-9A-Z.]{0,12}$"   # what a fonds code (OrganId) looks like
# ARCHIVE_CODE_FORMAT = "{fonds_code}.LT.{year}.{serial:06d}"   # code given at hand-over
# ARCHIVE_MIN_RETENTION_YEARS = 5     # shorter-lived dossiers stay with their unit
# HANDOVER_WARNING_DAYS = 30          # warn this long before a dossier is due for hand-over
# HANDLING_WARNING_DAYS = 2           # warn this long before an incoming document's deadline
# KEEP_BACK_MAX_YEARS = 2             # how far ahead the head may let a unit keep a dossier back
# TRANSFER_AFTER_YEARS = 5            # permanent dossiers go to the historical archive within
# TRANSFER_WARNING_DAYS = 365         # warn this long before a transfer is due
# DISPOSAL_QUORUM = 3                 # council members who must agree on each item
# DISPOSAL_APPROVER_ROLES = "head"    # roles that may approve a disposal review
# PDF_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"   # found by itself when empty
# OCR = True                          # read scans with Tesseract (tesseract-ocr-vie)
# TESSERACT_CMD = ""                  # set REPO_TESSERACT_CMD instead: read from the environment

# --- Limits ---------------------------------------------------------------------------------
# MAX_UPLOAD_BYTES = 536870912        # 512 MiB: the largest file accepted
# MAX_JSON_BYTES = 1048576            # the largest JSON body accepted
# IDEMPOTENCY_TTL_HOURS = 24          # how long a POST's Idempotency-Key is remembered
# IDEMPOTENCY_MAX_HASH_BYTES = 8388608  # larger uploads are compared by length and digest

# --- Sign-in ----------------------------------------------------------------------------------
# AUTH_CACHE_SECONDS = 10             # how long a process remembers a key it checked, at most
# AUTH_REVOCATION_SECONDS = 0.25      # a revoked key or changed rights reach every process
#                                     # within this many seconds
# AUTH_FAILURE_LIMIT = 20             # failed sign-ins from one address ...
# AUTH_FAILURE_WINDOW = 60            # ... within this many seconds, then 429 for a while
# TRUSTED_PROXIES = 0                 # reverse proxies (nginx, Caddy) in front of the server:
#                                     # 1 when one sets X-Forwarded-For for the client address

# --- Logs and monitoring --------------------------------------------------------------------
# LOG_LEVEL = "INFO"                  # DEBUG shows what the libraries say, too
# LOG_FORMAT = "auto"                 # "json" lines, "text", or auto: text for `serve`,
#                                     # json for gunicorn and `repo-server worker`
# METRICS_PUBLIC = False              # /api/v1/metrics without a key (a local Prometheus)

# --- Digitisation and signatures (README "Digitisation", "Signed documents") ----------------
# SIGNATURE_VALIDATION = True         # validate PDF signatures when files arrive (pyHanko)
# SIGNATURE_TRUST_ROOTS = ""          # folder of the agency's root CAs (PEM/DER);
#                                     # "" = instance/trust-roots
# DIGITISATION_DIR = ""               # batch folders; "" = instance/digitisation
# DIGITISATION_WORKERS = 0            # conversion processes per batch; 0 = every core
# DIGITISATION_KEEP_ORIGINALS = True  # keep the original scans beside the PDF/A
# DIGITISATION_PDFA = "2"             # PDF/A part: "1" (TCVN 14159-1), "2" or "3"
# DIGITISATION_OCR_LANGUAGES = "vie"  # Tesseract languages, e.g. "vie+eng"
# SCAN_MIN_DPI = 200                  # TT 05/2025: administrative documents
# SCAN_MIN_DPI_BY_TYPE = "30=300,31=300"  # maps (30) and technical drawings (31)
# SCAN_MIN_COLOUR_BITS = 24           # TT 05/2025: 24-bit colour
# SCAN_MAX_SKEW_DEGREES = 3.0         # text tilted more than this is flagged
# SCAN_BLANK_INK_RATIO = 0.001        # less ink than this share (and no word read): blank
# SCAN_MIN_OCR_CONFIDENCE = 60        # mean OCR word confidence below this is flagged

# --- Durability and speed (leave these unless you know why) ---------------------------------
# FSYNC = True                        # make every write durable before answering
# FSYNC_METHOD = "auto"               # "syncfs", "fsync" or auto
# SQLITE_SYNCHRONOUS = "FULL"         # FULL: a committed change survives a power cut
# EMBEDDED_WORKER = True              # `serve` runs the worker (indexing, jobs) in-process
# INDEX_INTERVAL_SECONDS = 0.5        # the indexer's pause between small batches
# WORKER_NICE = 10                    # the worker yields the CPU to requests
# OUTBOX_RETRY_SECONDS = 30.0         # a failing index item waits this long, doubling ...
# OUTBOX_MAX_ATTEMPTS = 5             # ... and is parked after this many tries (/outbox/parked)
# RECOVERY_FALLBACK_SECONDS = 120.0   # crash recovery's wait for writers it cannot check
# FIXITY_PERIOD_DAYS = 30             # every stored file is re-hashed within this many days
# FIXITY_SHARE = ""                   # or a share per night, e.g. 0.05
# AUDIT_KEY_FILE = ""                 # seals the audit trail; "" = <instance>/audit.key (made
#                                     # on the first write; keep a copy apart from the database)
