"""Operations: readiness (/api/v1/health/ready), Prometheus metrics (/api/v1/metrics), the
results of the rolling fixity check (/api/v1/fixity/...) and the parked index items
(/api/v1/outbox/parked)."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields

from ..observability import init_metrics, render
from ..services import fixity as service
from ..services import outbox
from ..services.errors import Forbidden
from ..services.health import readiness_report
from ..services.keys import authenticate
from ..services.policy import allowed
from ..version import __version__
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema
from .search import reader
from .security import PUBLIC_ENDPOINTS, ROUTE_ACTIONS

blp = Blueprint("ops", __name__, url_prefix="/api/v1",
                description="Readiness, metrics and the fixity check of the stored records.")

# Readiness is probed by load balancers and service managers without a key; the metrics
# endpoint checks the key itself (it may be opened with METRICS_PUBLIC).
PUBLIC_ENDPOINTS.update({"ops.Ready", "ops.Metrics"})
ROUTE_ACTIONS.update({
    ("ops.FixitySummary", "GET"): "jobs.read",
    ("ops.FixityRuns", "GET"): "jobs.read",
    ("ops.FixityRunItem", "GET"): "jobs.read",
    ("ops.FixityAlerts", "GET"): "jobs.read",
    ("ops.FixityObject", "GET"): "jobs.read",
    ("ops.FixityVerify", "POST"): "jobs.run",
    ("ops.ParkedItems", "GET"): "jobs.read",
    ("ops.ParkedRetryAll", "POST"): "jobs.run",
    ("ops.ParkedRetry", "POST"): "jobs.run",
})


class ReadySchema(Schema):
    status = fields.String(metadata={"description": "ok, degraded (serving, but look at "
                                                    "`checks`) or unavailable"})
    ready = fields.Boolean(metadata={"description": "true when this process can serve requests"})
    version = fields.String()
    checks = fields.Dict(metadata={"description": "database, migrations, storage, index, "
                                                  "worker, fixity, backup: `ok` or why not"})
    worker = fields.Dict(allow_none=True, metadata={"description": "lease holder and expiry"})
    outbox = fields.Dict(metadata={"description": "changes waiting for the indexer: depth "
                                                  "and age of the oldest in seconds"})
    warnings = fields.List(fields.String(), metadata={
        "description": "checks that say `warning: ...`: advice (backups on the same disk as "
                       "the records, backups turned off) that does not make the status degraded"})


class FixityFailureSchema(Schema):
    object_id = fields.String()
    record_id = fields.String()
    kind = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "failed (damaged) or missing"})
    problems = fields.List(fields.String())


class FixityRunSchema(Schema):
    id = fields.Integer()
    trigger = fields.String(metadata={"description": "schedule, manual or api"})
    status = fields.String(metadata={"description": "running, ok, problems or failed"})
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    seconds = fields.Float(allow_none=True, metadata={"description": "how long the run took"})
    objects_total = fields.Integer()
    objects_checked = fields.Integer(metadata={"description": "objects re-hashed by this run"})
    files_checked = fields.Integer()
    bytes_checked = fields.Integer(metadata={"description": "bytes re-hashed by this run"})
    period_days = fields.Integer(allow_none=True, metadata={
        "description": "every object is to be re-hashed within this many days"})
    overdue = fields.Integer(allow_none=True, metadata={
        "description": "after the run: objects not checked within the period"})
    oldest_check_at = fields.DateTime(allow_none=True, metadata={
        "description": "after the run: the oldest last check of any object"})
    oldest_check_age_days = fields.Float(allow_none=True, metadata={
        "description": "after the run: how old that oldest check was, in days (at most "
                       "period_days when the cycle keeps up)",
        "example": 29.5})
    failures = fields.List(fields.Nested(FixityFailureSchema))
    error = fields.String(allow_none=True)


class FixityRunPageSchema(PageSchema):
    items = fields.List(fields.Nested(FixityRunSchema))


class FixityObjectSchema(Schema):
    object_id = fields.String()
    record_id = fields.String()
    kind = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "unchecked, ok, failed or missing"})
    last_checked_at = fields.DateTime(allow_none=True)
    failing_since = fields.DateTime(allow_none=True)
    problems = fields.List(fields.String())
    checks = fields.Integer()


class FixitySummarySchema(Schema):
    period_days = fields.Integer(metadata={"description": "every object is re-hashed within "
                                                          "this many days"})
    share_per_run = fields.Float()
    objects = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    overdue = fields.Integer(metadata={"description": "objects not checked within the period"})
    oldest_check = fields.DateTime(allow_none=True)
    failing_total = fields.Integer()
    failing = fields.List(fields.Nested(FixityObjectSchema))
    last_run = fields.Nested(FixityRunSchema, allow_none=True)


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "fixity or backup"})
    subject = fields.String(allow_none=True, metadata={"description": "the object or folder"})
    message = fields.String()
    details = fields.Dict()
    raised_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)


class AlertPageSchema(PageSchema):
    items = fields.List(fields.Nested(AlertSchema))


class AlertQuerySchema(PageQuerySchema):
    open = fields.Boolean(load_default=False, metadata={"description": "only unresolved ones"})


class ParkedItemSchema(Schema):
    id = fields.Integer(metadata={"description": "the item's number (for a retry)"})
    object_id = fields.String(metadata={"description": "the record that could not be indexed"})
    kind = fields.String(metadata={"description": "document, dossier or fonds"})
    action = fields.String(metadata={"description": "index or delete"})
    fonds_code = fields.String(allow_none=True)
    attempts = fields.Integer(metadata={"description": "tries made (OUTBOX_MAX_ATTEMPTS)"})
    error = fields.String(allow_none=True, metadata={"description": "why the last try failed"})
    created_at = fields.DateTime(metadata={"description": "when the change was made"})
    parked_at = fields.DateTime(metadata={"description": "when the worker gave up"})


class ParkedPageSchema(PageSchema):
    items = fields.List(fields.Nested(ParkedItemSchema))


class RetriedSchema(Schema):
    retried = fields.Integer(metadata={"description": "items sent back to the worker"})
    ids = fields.List(fields.Integer())


PARKED_EXAMPLE = {
    "items": [{"id": 4711, "object_id": "0b6f3c52-8f55-4d55-9a55-3f0e1d2c9b1a",
               "kind": "document", "action": "index", "fonds_code": "000.00.00.H49",
               "attempts": 5,
               "error": "OSError: [Errno 36] File name too long: 'text/Báo cáo ….txt'",
               "created_at": "2026-12-02T08:15:00+00:00",
               "parked_at": "2026-12-02T08:22:30+00:00"}],
    "total": 1, "page": 1, "page_size": 20}


class EmptySchema(StrictSchema):
    pass


@blp.route("/health/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="The database, its migrations or "
                      "the storage root are not usable: send no traffic here.")
    def get(self):
        """Readiness: database, migrations, storage root, index, worker lease, outbox (no key)"""
        try:
            problem = reader().check()
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            problem = f"{type(exc).__name__}: {exc}"
        report = readiness_report(env(), problem)
        report["version"] = __version__
        return report, (200 if report["ready"] else 503)


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, description="Prometheus text exposition format",
                  content_type="text/plain; version=0.0.4")
    def get(self):
        """Prometheus metrics: requests, latencies, outbox, jobs, fixity, worker lease

        Needs an API key allowed to read jobs, unless METRICS_PUBLIC is set."""
        if not current_app.config["REPO"].get("METRICS_PUBLIC"):
            header = request.headers.get("Authorization", "")
            scheme, _, secret = header.partition(" ")
            actor = authenticate(env(), secret.strip() if scheme.lower() == "bearer" else None)
            if not allowed(actor, "jobs.read"):
                raise Forbidden("Your role does not allow reading the metrics.")
        return Response(render(env()), mimetype="text/plain",
                        headers={"Cache-Control": "no-store"})


@blp.route("/fixity")
class FixitySummary(MethodView):
    @blp.response(200, FixitySummarySchema)
    def get(self):
        """Fixity: coverage of the rolling check, damaged or missing objects, the last run"""
        return service.summary(env(), actor())


@blp.route("/fixity/runs")
class FixityRuns(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, FixityRunPageSchema)
    def get(self, args):
        """Fixity runs, newest first, each with the objects that failed"""
        items, total = service.list_runs(env(), page=args["page"], page_size=args["page_size"],
                                         viewer=actor())
        return page(items, total, args)


@blp.route("/fixity/runs/<int:run_id>")
class FixityRunItem(MethodView):
    @blp.response(200, FixityRunSchema)
    def get(self, run_id):
        """One fixity run"""
        return service.get_run(env(), run_id, actor())


@blp.route("/fixity/alerts")
class FixityAlerts(MethodView):
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.response(200, AlertPageSchema)
    def get(self, args):
        """Alerts raised by the fixity check and the backup job, newest first"""
        items, total = service.list_alerts(env(), open_only=args["open"], page=args["page"],
                                           page_size=args["page_size"], viewer=actor())
        return page(items, total, args)


@blp.route("/fixity/objects/<uuid:record_id>")
class FixityObject(MethodView):
    @blp.response(200, FixityObjectSchema)
    def get(self, record_id):
        """The fixity state of one record's stored object"""
        return service.object_state(env(), str(record_id), actor())


@blp.route("/fixity/objects/<uuid:record_id>/verify")
class FixityVerify(MethodView):
    @blp.response(200, FixityObjectSchema)
    def post(self, record_id):
        """Re-hash one record's stored object now (e.g. after restoring a damaged file)"""
        return service.verify_now(env(), str(record_id), actor())


@blp.route("/outbox/parked")
class ParkedItems(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, ParkedPageSchema, example=PARKED_EXAMPLE)
    def get(self, args):
        """Parked index items: changes the worker gave up indexing, with the reason

        The worker tries a failing item again after OUTBOX_RETRY_SECONDS, doubling the wait
        each time, and parks it after OUTBOX_MAX_ATTEMPTS tries; the other items go through
        meanwhile. While any item is parked, `/health` is `degraded` and names the count.
        Lists the items of the fonds in your scope (administrator or archivist)."""
        items, total = outbox.list_parked(env(), actor(), page=args["page"],
                                          page_size=args["page_size"])
        return page(items, total, args)


@blp.route("/outbox/parked/retry")
class ParkedRetryAll(MethodView):
    @blp.response(200, RetriedSchema, example={"retried": 2, "ids": [4711, 4712]})
    def post(self):
        """Send every parked item of your fonds back to the worker (after fixing the cause)"""
        return outbox.retry_parked(env(), actor())


@blp.route("/outbox/parked/<int:item_id>/retry")
class ParkedRetry(MethodView):
    @blp.response(200, RetriedSchema, example={"retried": 1, "ids": [4711]})
    @blp.alt_response(404, description="No index item with this number in your fonds.")
    @blp.alt_response(409, description="The item is not parked (done, or waiting for the "
                      "worker).")
    def post(self, item_id):
        """Send one parked item back to the worker: its tries start again from zero"""
        return outbox.retry_parked(env(), actor(), item_id)


def init_ops(app: Flask, api: Api) -> None:
    """Register the blueprint and the request metrics (called from init_api)."""
    api.register_blueprint(blp)
    init_metrics(app)
    for operation in api.spec._paths.get("/api/v1/health/ready", {}).values():
        operation["security"] = []
    metrics = api.spec._paths.get("/api/v1/metrics", {}).get("get")
    if metrics is not None:
        metrics["security"] = [{"bearer": []}, {}]
