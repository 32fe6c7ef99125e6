"""Every request passes here: request id, authentication (with a rate limit on failures),
the role check (one table: route -> action), security headers, and the audit event."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import defaultdict, deque
from http import HTTPStatus

from flask import Flask, g, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ..services import audit
from ..services.errors import Unauthorized
from ..services.keys import authenticate
from ..services.policy import allowed

PUBLIC_ENDPOINTS = {"meta.Health", "api-docs.openapi_json", "api-docs.openapi_swagger_ui",
                    "swagger_ui_static", "static"}

# (endpoint, method) -> action of services/policy.py. A route missing here is refused (403):
# the table fails closed, and a test checks that every route is in it.
ROUTE_ACTIONS: dict[tuple[str, str], str] = {
    ("meta.CodeListCollection", "GET"): "codes.read",
    ("meta.CodeListItem", "GET"): "codes.read",
    ("fonds.FondsCollection", "GET"): "fonds.read",
    ("fonds.FondsCollection", "POST"): "fonds.write",
    ("fonds.FondsItem", "GET"): "fonds.read",
    ("fonds.FondsItem", "PATCH"): "fonds.write",
    ("fonds.FondsClose", "POST"): "fonds.write",
    ("dossiers.DossierCollection", "GET"): "dossier.read",
    ("dossiers.DossierCollection", "POST"): "dossier.create",
    ("push.DossierPush", "POST"): "dossier.create",
    ("dossiers.DossierItem", "GET"): "dossier.read",
    ("dossiers.DossierItem", "PATCH"): "dossier.update",
    ("dossiers.DossierVersions", "GET"): "dossier.read",
    ("dossiers.DossierVersion", "GET"): "dossier.read",
    ("documents.DossierDocuments", "GET"): "document.read",
    ("documents.DossierDocuments", "POST"): "document.create",
    ("documents.DocumentItem", "GET"): "document.read",
    ("documents.DocumentItem", "PATCH"): "document.update",
    ("documents.DocumentVersions", "GET"): "document.read",
    ("documents.DocumentVersion", "GET"): "document.read",
    ("documents.DocumentFiles", "GET"): "document.read",
    ("documents.DocumentFiles", "POST"): "file.write",
    ("documents.DocumentFile", "GET"): "file.read",
    ("documents.DocumentFile", "PUT"): "file.write",
    ("documents.DocumentFile", "DELETE"): "file.write",
    ("lifecycle.Close", "POST"): "dossier.close",
    ("lifecycle.Archive", "POST"): "dossier.archive",
    ("lifecycle.TransferDue", "POST"): "dossier.transfer",
    ("lifecycle.Transfer", "POST"): "dossier.transfer",
    ("lifecycle.Warnings", "GET"): "warnings.read",
    ("retention.Rules", "GET"): "retention.read",
    ("retention.Rules", "POST"): "retention.write",
    ("retention.Rule", "GET"): "retention.read",
    ("retention.Rule", "PATCH"): "retention.write",
    ("retention.Rule", "DELETE"): "retention.write",
    ("retention.Export", "GET"): "retention.read",
    ("retention.Import", "POST"): "retention.write",
    ("holds.Holds", "GET"): "hold.read",
    ("holds.Holds", "POST"): "hold.write",
    ("holds.HoldItem", "GET"): "hold.read",
    ("holds.HoldDossiers", "POST"): "hold.write",
    ("holds.HoldDossier", "DELETE"): "hold.write",
    ("holds.Release", "POST"): "hold.write",
    ("disposal.Reviews", "GET"): "disposal.read",
    ("disposal.Reviews", "POST"): "disposal.propose",
    ("disposal.Review", "GET"): "disposal.read",
    ("disposal.Opinions", "POST"): "disposal.opinion",
    ("disposal.Approve", "POST"): "disposal.approve",
    ("disposal.Record", "GET"): "disposal.read",
    ("disposal.RecordPdf", "GET"): "disposal.read",
    ("search.Search", "GET"): "search",
    ("jobs.Jobs", "GET"): "jobs.read",
    ("jobs.JobRuns", "GET"): "jobs.read",
    ("jobs.JobRuns", "POST"): "jobs.run",
    ("jobs.JobRunItem", "GET"): "jobs.read",
    ("users.Users", "GET"): "users.manage",
    ("users.Users", "POST"): "users.manage",
    ("users.UserItem", "GET"): "users.manage",
    ("users.UserItem", "PATCH"): "users.manage",
    ("users.UserKeys", "POST"): "users.manage",
    ("users.UserKey", "DELETE"): "users.manage",
    ("users.UserGrants", "POST"): "users.manage",
    ("users.UserGrant", "DELETE"): "users.manage",
    ("users.Me", "GET"): "codes.read",
    ("audit.AuditEvents", "GET"): "audit.read",
    ("audit.AuditExport", "GET"): "audit.read",
    ("audit.AuditVerify", "GET"): "audit.read",
    ("packages.Export", "GET"): "package.export",
    ("packages.Import", "POST"): "package.import",
    ("signatures.Signatures", "GET"): "document.read",
    ("signatures.SignatureCheck", "POST"): "signature.check",
    ("signatures.SignatureEvidence", "GET"): "file.read",
    ("digitisation.Batches", "GET"): "digitisation.read",
    ("digitisation.Batches", "POST"): "digitisation.run",
    ("digitisation.Checks", "POST"): "digitisation.run",
    ("digitisation.Batch", "GET"): "digitisation.read",
    ("digitisation.Cancel", "POST"): "digitisation.run",
    ("digitisation.Resume", "POST"): "digitisation.run",
    ("digitisation.Report", "GET"): "digitisation.read",
    # records office (issue 15)
    ("registers.OutgoingRegistration", "POST"): "register.write",
    ("registers.IncomingRegistration", "POST"): "register.write",
    ("registers.Registration", "PATCH"): "register.write",
    ("registers.Handling", "POST"): "register.write",
    ("registers.Registrations", "GET"): "register.read",
    ("registers.CancelNumber", "POST"): "register.cancel",
    ("registers.Register", "GET"): "register.read",
    ("handover.Due", "GET"): "handover.read",
    ("handover.KeepBack", "POST"): "dossier.keep_back",
    ("handover.Batches", "GET"): "handover.read",
    ("handover.Batches", "POST"): "handover.prepare",
    ("handover.Batch", "GET"): "handover.read",
    ("handover.BatchDossiers", "POST"): "handover.prepare",
    ("handover.BatchDossier", "DELETE"): "handover.prepare",
    ("handover.BatchCancel", "POST"): "handover.prepare",
    ("handover.ConfirmGiving", "POST"): "handover.give",
    ("handover.ConfirmReceiving", "POST"): "handover.receive",
    ("handover.Inventory", "GET"): "handover.read",
    ("handover.HandoverRecord", "GET"): "handover.read",
    ("fileplans.Plans", "GET"): "fileplan.read",
    ("fileplans.Plans", "POST"): "fileplan.write",
    ("fileplans.Plan", "GET"): "fileplan.read",
    ("fileplans.PlanItems", "POST"): "fileplan.write",
    ("fileplans.PlanItem", "DELETE"): "fileplan.write",
    ("fileplans.PlanImport", "POST"): "fileplan.write",
    ("fileplans.PlanExport", "GET"): "fileplan.read",
    ("fileplans.PlanApprove", "POST"): "fileplan.approve",
    ("fileplans.PlanOpen", "POST"): "fileplan.open",
    ("filing.Links", "GET"): "dossier.read",
    ("filing.Links", "POST"): "dossier.link",
    ("filing.Link", "DELETE"): "dossier.link",
    ("filing.ExportPdf", "GET"): "dossier.export",
    ("filing.ExportXml", "GET"): "dossier.export",
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")


class FailureLimiter:
    """Counts failed sign-ins (in this process) per presented key and client address.

    A key that failed `limit` times from an address gets 429 there without being looked up.
    Failures of one address, whatever keys they presented, count too, but they only turn
    the next failures into 429: a valid key is always checked and let in, so nobody behind
    the same address (a reverse proxy, an office NAT) can lock out someone else's key.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window = limit, window_s
        self._fails: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, who: tuple[str, str], now: float) -> deque[float]:
        q = self._fails[who]
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._fails[who]  # nothing to remember: the table never grows without bound
            return deque()
        return q

    def _wait(self, who: tuple[str, str]) -> float:
        now = time.monotonic()
        with self._lock:
            q = self._recent(who, now)
            return (q[0] + self.window - now) if len(q) >= self.limit else 0.0

    def blocked(self, addr: str, key: str = "") -> float:
        """Seconds this key must wait at this address (0: it may try)."""
        return self._wait((addr, key))

    def address_blocked(self, addr: str) -> float:
        """Seconds before failing sign-ins from this address answer 401 again (not 429)."""
        return self._wait((addr, "*"))

    def fail(self, addr: str, key: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            for who in ((addr, key), (addr, "*")):
                self._fails[who] = self._recent(who, now)
                self._fails[who].append(now)


def _presented(secret: str | None) -> str:
    """What identifies a presented key in the failure counts (never the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32] if secret else "-"


def _too_many(wait: float, what: str = "with this key from this address"):  # noqa: ANN202
    response = error(429, f"Too many failed sign-ins {what}; wait {int(wait) + 1} seconds "
                          "and check the API key.")
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


def error(status: int, message: str, errors: dict | None = None, **extra):  # noqa: ANN201
    """The one JSON error shape of the API."""
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    return response


def _target() -> str | None:
    args = request.view_args or {}
    for key in ("document_id", "dossier_id", "review_id", "hold_id", "user_id", "code", "name",
                "run_id", "batch_id", "plan_id"):
        if key in args:
            return str(args[key])
    return None


def init_security(app: Flask) -> None:
    config = app.config["REPO"]
    hops = int(config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        # X-Forwarded-For is believed only from this many proxies in front of us: the client
        # address of the failure counts and of the audit trail is the one they saw.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    limiter = FailureLimiter(config["AUTH_FAILURE_LIMIT"], config["AUTH_FAILURE_WINDOW"])
    app.extensions["repo_limiter"] = limiter

    @app.before_request
    def _begin():  # noqa: ANN202
        g.request_id = (request.headers.get("X-Request-ID") or "")[:64] or uuid.uuid4().hex
        g.client_addr = request.remote_addr or "unknown"
        g.audit_token = audit.request_context.set({"request_id": g.request_id,
                                                   "client_addr": g.client_addr})
        endpoint = request.endpoint
        if endpoint in PUBLIC_ENDPOINTS or not request.path.startswith("/api/"):
            g.public = True
            return None
        g.public = False
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        secret = secret.strip() if scheme.lower() == "bearer" else None
        presented = _presented(secret)
        wait = limiter.blocked(g.client_addr, presented)
        if wait:
            return _too_many(wait)
        env = app.extensions["repo_server"]
        try:
            g.actor = authenticate(env, secret)
        except Unauthorized as exc:
            wait = limiter.address_blocked(g.client_addr)
            limiter.fail(g.client_addr, presented)
            if wait:
                return _too_many(wait, "from this address")
            response = error(401, exc.message)
            response.headers["WWW-Authenticate"] = 'Bearer realm="repo-server"'
            return response
        if endpoint is None:
            return None  # 404/405 follow
        g.action = ROUTE_ACTIONS.get((endpoint, request.method))
        if g.action is None or not allowed(g.actor, g.action):
            return error(403, f"Your role ({', '.join(g.actor.roles) or 'none'}) does not "
                              "allow this. Ask an administrator if you need it.",
                         action=g.action)
        return None

    @app.after_request
    def _finish(response):  # noqa: ANN001, ANN202
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        docs = request.path.startswith("/api/v1/docs")
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else API_CSP)
        if response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers["X-Request-ID"] = request_id
        if not getattr(g, "public", True) or (response.status_code == 404
                                              and request.path.startswith("/api/")):
            _audit_request(app, response)
        return response

    @app.teardown_request
    def _end(_exc):  # noqa: ANN001, ANN202
        token = g.pop("audit_token", None)
        if token is not None:
            try:
                audit.request_context.reset(token)
            except (ValueError, RuntimeError):  # torn down in another context (streaming)
                audit.request_context.set(None)


def _audit_request(app: Flask, response) -> None:  # noqa: ANN001
    env = app.extensions["repo_server"]
    actor = getattr(g, "actor", None)
    action = getattr(g, "action", None) or f"http.{request.method.lower()}"
    details = {"method": request.method, "path": request.path, "status": response.status_code}
    if request.endpoint == "search.Search":
        details["query"] = request.args.to_dict(flat=False)
    outcome = "ok" if response.status_code < 400 else (
        "denied" if response.status_code in (401, 403, 429) else "error")
    audit.buffer(env).add(audit.make_event(env, actor or "anonymous", action, _target(),
                                           outcome, details))
