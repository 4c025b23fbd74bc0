"""The deployment package: a deterministic zip of the service's code and its dependencies.

Deterministic (sorted entries, fixed timestamps, modes reduced to 0644/0755) so that its
SHA-256 changes only when the code or the dependencies do, and `up` can skip
UpdateFunctionCode when nothing changed.

Dependencies from ``requirements.txt`` (see ``wsctl.dependencies``) sit at the root of the zip
beside the code, as Lambda expects. When a code file and a dependency file have the same path,
the code file wins: the user's own module is what they wrote and tested locally, and the
shadowed paths are reported in ``Package.shadowed`` so the caller can say so.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wsctl.config import ServiceSpec
from wsctl.dependencies import DependencyInstaller
from wsctl.errors import WsctlError

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}
_MB = 1024 * 1024


@dataclass(frozen=True)
class PackageLimits:
    """Lambda's deployment package quotas (GetAccountSettings: CodeSizeZipped/Unzipped)."""

    zipped: int = 50 * _MB  # a direct upload (ZipFile); larger needs S3
    unzipped: int = 250 * _MB  # extracted, layers included


LAMBDA_LIMITS = PackageLimits()


@dataclass(frozen=True)
class Package:
    data: bytes
    unzipped_size: int = 0
    shadowed: tuple[str, ...] = ()
    dependencies_cached: bool | None = None  # None: the service declares no dependencies

    @property
    def sha256(self) -> str:
        """Base64 SHA-256 of the zip, the form Lambda reports as ``CodeSha256``."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    @property
    def size(self) -> int:
        return len(self.data)


def source_files(root: Path) -> Iterator[Path]:
    """The files of ``root`` that belong in a package or a copy: no caches, no bytecode."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _SKIPPED_SUFFIXES:
            yield path


def _entries(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in source_files(root)}


def _zip(entries: dict[str, Path]) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            path = entries[name]
            data = path.read_bytes()
            unzipped += len(data)
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            executable = path.stat().st_mode & 0o111
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue(), unzipped


def zip_directory(root: Path) -> bytes:
    return _zip(_entries(root))[0]


def merge_entries(
    code: dict[str, Path], dependencies: dict[str, Path]
) -> tuple[dict[str, Path], tuple[str, ...]]:
    """Code and dependency files in one tree; code wins a clash, and clashes are listed."""
    shadowed = tuple(sorted(set(code) & set(dependencies)))
    return {**dependencies, **code}, shadowed


def _megabytes(size: int) -> str:
    return f"{size / _MB:.1f} MB"


def check_limits(zipped: int, unzipped: int, limits: PackageLimits) -> None:
    """Raise if Lambda would refuse the package, saying by how much it is over."""
    for what, size, limit, hint in (
        ("unzipped", unzipped, limits.unzipped, "the largest dependencies"),
        ("zipped", zipped, limits.zipped, "dependencies (or upload through S3)"),
    ):
        if size > limit:
            raise WsctlError(
                f"The deployment package is {_megabytes(size)} {what}, "
                f"{_megabytes(size - limit)} ({size - limit} bytes) over Lambda's "
                f"{_megabytes(limit)} limit: trim requirements.txt of {hint}"
            )


def _unzipped_total(paths: Iterable[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def build_package(
    spec: ServiceSpec,
    *,
    installer: DependencyInstaller | None = None,
    limits: PackageLimits = LAMBDA_LIMITS,
) -> Package:
    """The zip every function of the stack is deployed from (they share one code directory).

    Installs ``requirements.txt`` for Lambda first (from the cache when unchanged).
    """
    installed = (installer or DependencyInstaller()).install(spec)
    code = _entries(spec.code_dir)
    dependencies = _entries(installed.directory) if installed else {}
    entries, shadowed = merge_entries(code, dependencies)
    # Checked before zipping too: a tree far over the limit is not worth compressing.
    check_limits(0, _unzipped_total(entries.values()), limits)
    data, unzipped = _zip(entries)
    check_limits(len(data), unzipped, limits)
    return Package(
        data=data,
        unzipped_size=unzipped,
        shadowed=shadowed,
        dependencies_cached=installed.cached if installed else None,
    )
