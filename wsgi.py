"""WSGI entry point for production: `gunicorn -w 4 wsgi:app` (plus one `repo-server worker`)."""

from repo_server import create_app

app = create_app()
