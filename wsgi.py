"""WSGI entry point for production: `gunicorn -w 4 wsgi:app` (plus one `repo-server worker`)."""

from repo_server import create_app
from repo_server.logs import setup_logging

app = create_app()
setup_logging(app.config["REPO"]["LOG_LEVEL"], app.config["REPO"]["LOG_FORMAT"],
              production=True)
