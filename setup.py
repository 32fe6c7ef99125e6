"""Packaging (metadata in setup.cfg). One build step: the wheel carries the Alembic migrations.

They live in the top-level `migrations/` folder (the project's layout), outside the package;
a wheel holds only the package, so the migrations are copied into it as
`repo_server/migrations/` (where `repo_server.catalog.migrate` looks first). An editable
install needs no copy: the code finds the checkout's folder.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "repo_server" / "migrations"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(HERE / "migrations", target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithMigrations})
