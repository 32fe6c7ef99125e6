"""Tests of repo_server.catalog."""
