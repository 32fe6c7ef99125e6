"""Background work: the worker loop, its lease, and the jobs it runs."""

from . import builtin  # noqa: F401 - registers the built-in jobs
