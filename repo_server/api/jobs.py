"""/api/v1/jobs: scheduled jobs, their next run and past runs; ask for a run now."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from ..services import jobs as service
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs",
                description="Scheduled jobs run by the worker process.")


class JobRunSchema(Schema):
    id = fields.Integer()
    job = fields.String()
    trigger = fields.String(metadata={"description": "schedule, manual or automatic"})
    status = fields.String(metadata={"description": "requested, running, ok or failed"})
    requested_by = fields.String(allow_none=True)
    requested_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    counts = fields.Dict()
    error = fields.String(allow_none=True)


class JobSchema(Schema):
    name = fields.String()
    description = fields.String()
    schedule = fields.String(allow_none=True, metadata={"description": "crontab, local time"})
    next_run = fields.DateTime(allow_none=True)
    last_run = fields.Nested(JobRunSchema, allow_none=True)


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSchema))


class JobRunPageSchema(PageSchema):
    items = fields.List(fields.Nested(JobRunSchema))


@blp.route("")
class Jobs(MethodView):
    @blp.response(200, JobListSchema)
    def get(self):
        """List jobs with their schedule, next run and last run"""
        return {"items": service.list_jobs(env(), actor())}


@blp.route("/<string:name>/runs")
class JobRuns(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, JobRunPageSchema)
    def get(self, args, name):
        """Past runs of a job, newest first"""
        items, total = service.list_runs(env(), name, page=args["page"],
                                         page_size=args["page_size"], viewer=actor())
        return page(items, total, args)

    @blp.response(202, JobRunSchema)
    @blp.alt_response(409, description="A run of this job is already waiting or running.")
    def post(self, name):
        """Ask the worker to run a job now"""
        return service.request_run(env(), actor(), name), 202


@blp.route("/runs/<int:run_id>")
class JobRunItem(MethodView):
    @blp.response(200, JobRunSchema)
    def get(self, run_id):
        """One job run"""
        return service.get_run(env(), run_id, actor())
