"""Logs are JSON lines carrying the id of the request being served."""

from __future__ import annotations

import json
import logging

from repo_server.logs import JSONFormatter
from repo_server.services.audit import request_context


def test_log_lines_are_json_with_the_request_id():
    token = request_context.set({"request_id": "req-42", "client_addr": "127.0.0.1"})
    try:
        record = logging.LogRecord("repo_server.api", logging.ERROR, __file__, 1,
                                   "lỗi khi lưu %s", ("hồ sơ",), None)
        line = JSONFormatter().format(record)
    finally:
        request_context.reset(token)
    entry = json.loads(line)
    assert entry["request_id"] == "req-42" and entry["message"] == "lỗi khi lưu hồ sơ"
    assert entry["level"] == "ERROR" and entry["logger"] == "repo_server.api"


def test_error_answer_names_the_request_id_that_the_log_carries(client):
    r = client.get("/api/v1/dossiers", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
