"""Bytes arriving over HTTP, staged in the store before a service takes them: the HTTP layer
asks here and never touches the storage itself."""

from __future__ import annotations

from typing import BinaryIO

from ..storage import ContentTooLarge, StagedFile
from .context import Env
from .errors import PayloadTooLarge


def stage_upload(env: Env, stream: BinaryIO, max_bytes: int,
                 too_large: str | None = None) -> StagedFile:
    """Stream an upload into the staging area (hashed as it goes); 413 past ``max_bytes``."""
    try:
        return env.store.stage(stream, max_bytes=max_bytes)
    except ContentTooLarge as exc:
        raise PayloadTooLarge(too_large or f"The file is larger than the limit of "
                              f"{max_bytes // (1024 * 1024)} MiB.") from exc


def discard(env: Env, staged: StagedFile) -> None:
    """Drop a staged upload that no service will take."""
    env.store.discard(staged)
