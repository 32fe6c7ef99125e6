"""Tests of repo_server.services."""
