"""The deployment package: a deterministic zip of the service's code directory.

Deterministic (sorted entries, fixed timestamps and modes) so that its SHA-256 changes only
when the code does, and `up` can skip UpdateFunctionCode when nothing changed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wsctl.config import ServiceSpec

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class Package:
    data: bytes

    @property
    def sha256(self) -> str:
        """Base64 SHA-256 of the zip, the form Lambda reports as ``CodeSha256``."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    @property
    def size(self) -> int:
        return len(self.data)


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _SKIPPED_SUFFIXES:
            yield path


def zip_directory(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def build_package(spec: ServiceSpec) -> Package:
    """The zip every function of the stack is deployed from (they share one code directory)."""
    return Package(zip_directory(spec.code_dir))
