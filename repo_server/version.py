"""The version of repo-server (a module of its own: services and the app factory both name it,
and a service never imports the app factory)."""

__version__ = "0.1.0"
