"""Prometheus metrics: HTTP request rates and latencies (counted in each web process), and the
state kept in the database (outbox backlog, job runs, fixity, worker lease, alerts), read at
scrape time so that every web process answers the same.

Several gunicorn workers: set PROMETHEUS_MULTIPROC_DIR to an empty folder before gunicorn
starts (the systemd unit in docs/operations.md does) and the request metrics of all workers
are summed; without it each worker reports only its own requests.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, g, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .catalog import Alert, Document, Dossier, FixityObject, FixityRun, Fonds, JobRun
from .services.health import outbox_state
from .services.processes import current_lease

REQUESTS = Counter("repo_http_requests_total", "HTTP requests answered",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("repo_http_request_duration_seconds", "Time to answer an HTTP request "
                    "(until the body starts streaming)", ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def init_metrics(app: Flask) -> None:
    """Time every request; the first before_request hook so refused requests count too."""

    def _start() -> None:
        g.metrics_started = time.perf_counter()

    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _observe(response):  # noqa: ANN001, ANN202
        started = getattr(g, "metrics_started", None)
        if started is not None and request.path.startswith("/api/"):
            endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
            REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response


class StateCollector:
    """Gauges and counters read from the catalog when Prometheus scrapes."""

    def __init__(self, env: Any) -> None:  # noqa: ANN401
        self.env = env

    def collect(self):  # noqa: ANN201
        from sqlalchemy import func, select

        env = self.env
        outbox = outbox_state(env)
        yield GaugeMetricFamily("repo_outbox_depth", "Changes waiting for the indexer",
                                value=outbox["depth"])
        yield GaugeMetricFamily("repo_outbox_oldest_age_seconds",
                                "Age of the oldest change waiting for the indexer",
                                value=outbox["oldest_seconds"])
        with env.db.read() as session:
            runs = session.execute(select(JobRun.job, JobRun.status, func.count())
                                   .group_by(JobRun.job, JobRun.status)).all()
            last_ok = session.execute(select(JobRun.job, func.max(JobRun.finished_at))
                                      .where(JobRun.status == "ok")
                                      .group_by(JobRun.job)).all()
            fixity = dict(session.execute(select(FixityObject.status, func.count())
                                          .group_by(FixityObject.status)).all())
            last_fixity = session.scalar(select(func.max(FixityRun.finished_at)))
            alerts = session.execute(select(Alert.kind, func.count())
                                     .where(Alert.resolved_at.is_(None))
                                     .group_by(Alert.kind)).all()
            records = {name: session.scalar(select(func.count()).select_from(model)) or 0
                       for name, model in (("fonds", Fonds), ("dossier", Dossier),
                                           ("document", Document))}
        c = CounterMetricFamily("repo_job_runs", "Job runs recorded, by job and status",
                                labels=["job", "status"])
        for job, status, n in runs:
            c.add_metric([job, status], n)
        yield c
        gm = GaugeMetricFamily("repo_job_last_success_timestamp_seconds",
                               "When each job last finished successfully", labels=["job"])
        for job, when in last_ok:
            if when is not None:
                gm.add_metric([job], _ts(when))
        yield gm
        gm = GaugeMetricFamily("repo_fixity_objects", "Stored objects by their last fixity "
                               "result", labels=["status"])
        for status in ("unchecked", "ok", "failed", "missing"):
            gm.add_metric([status], fixity.get(status, 0))
        yield gm
        if last_fixity is not None:
            yield GaugeMetricFamily("repo_fixity_last_run_timestamp_seconds",
                                    "When the last fixity run finished", value=_ts(last_fixity))
        gm = GaugeMetricFamily("repo_alerts_open", "Alerts not yet resolved", labels=["kind"])
        counts = dict(alerts)
        for kind in sorted({"fixity", "backup", *counts}):
            gm.add_metric([kind], counts.get(kind, 0))
        yield gm
        gm = GaugeMetricFamily("repo_records", "Records in the catalog", labels=["kind"])
        for kind, n in records.items():
            gm.add_metric([kind], n)
        yield gm
        holder = current_lease(env, "worker")
        yield GaugeMetricFamily("repo_worker_lease_held",
                                "1 while a worker holds the lease (indexing, jobs)",
                                value=1 if holder else 0)


def _ts(when: Any) -> float:  # noqa: ANN401
    if isinstance(when, str):
        from datetime import UTC, datetime

        when = datetime.fromisoformat(when).replace(tzinfo=UTC)
    if when.tzinfo is None:
        from datetime import UTC

        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def render(env: Any) -> bytes:  # noqa: ANN401
    """The text exposition: this process's (or all workers') request metrics + the state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(env))
    return generate_latest(base) + generate_latest(state)
