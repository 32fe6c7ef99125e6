"""Tests of repo_server.jobs."""
