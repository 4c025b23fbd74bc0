"""The deployment package: a deterministic zip of the service's code and its dependencies.

Deterministic (sorted entries, fixed timestamps, modes reduced to 0644/0755) so that its
SHA-256 changes only when the code or the dependencies do, and `up` can skip
UpdateFunctionCode when nothing changed.

Dependencies from ``requirements.txt`` (see ``wsctl.dependencies``) sit at the root of the zip
beside the code, as Lambda expects. When a code file and a dependency file have the same path,
the code file wins: the user's own module is what they wrote and tested locally, and the
shadowed paths are reported in ``Package.shadowed`` so the caller can say so.

What goes in: the regular files of the code directory, except caches and bytecode, dotfiles
and dot-directories (``.env``, ``.venv``, ``.git``, ``.wsctl``: secrets and tooling, never
code), symlinks that point outside the directory (they could pull in anything on this
machine), anything that is not a regular file (sockets, FIFOs, devices), and what the
directory's ``.wsctlignore`` names (one glob a line, ``#`` comments; a pattern matches a path
relative to the code directory or any of its parts; ``dir/`` matches a directory).

Built zips are kept under ``$WSCTL_HOME/cache/packages`` by a digest of the code's content and
the dependencies' cache key, so an unchanged ``up`` reads its package back instead of
compressing the dependencies again (the last few packages are kept).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from wsctl import state
from wsctl.config import ServiceSpec
from wsctl.dependencies import DependencyInstaller, InstalledDependencies
from wsctl.errors import WsctlError

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}
IGNORE_FILE = ".wsctlignore"
_MB = 1024 * 1024
# Bump when the zip layout changes, so old cached packages are not reused.
_PACKAGE_LAYOUT = "wsctl-package-1"
KEPT_PACKAGES = 8


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
    from_cache: bool = False  # read back from the package cache, not zipped again

    @property
    def sha256(self) -> str:
        """Base64 SHA-256 of the zip, the form Lambda reports as ``CodeSha256``."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    @property
    def size(self) -> int:
        return len(self.data)


def ignore_patterns(root: Path) -> list[str]:
    """The globs of ``root/.wsctlignore`` (none without one)."""
    try:
        text = (root / IGNORE_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _ignored(relative: str, is_dir: bool, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            if is_dir and (
                fnmatch.fnmatchcase(relative, pattern[:-1]) or parts[-1] == pattern[:-1]
            ):
                return True
            continue
        if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(parts[-1], pattern):
            return True
    return False


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def source_files(root: Path) -> Iterator[Path]:
    """The files of ``root`` that belong in a package or a copy (see the module's docstring
    for what is left out). Symlinked directories are not followed."""
    patterns = ignore_patterns(root)
    found: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        for name in list(dirnames):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if (
                name.startswith(".")
                or name in _SKIPPED_DIRS
                or path.is_symlink()
                or _ignored(relative, True, patterns)
            ):
                dirnames.remove(name)
        for name in filenames:
            path = here / name
            relative = path.relative_to(root).as_posix()
            if name.startswith(".") or path.suffix in _SKIPPED_SUFFIXES:
                continue
            if _ignored(relative, False, patterns):
                continue
            if path.is_symlink() and not _inside(path, root):
                continue
            try:
                mode = path.stat().st_mode
            except OSError:  # a dangling symlink
                continue
            if stat.S_ISREG(mode):
                found.append(path)
    yield from sorted(found)


BUILTIN_AUTHORIZER_FILE = "wsctl_authorizer.py"


def builtin_authorizer_source() -> Path:
    from wsctl.builtin import wsctl_authorizer

    return Path(wsctl_authorizer.__file__)


def _entries(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in source_files(root)}


def _mode(path: Path) -> int:
    return 0o755 if path.stat().st_mode & 0o111 else 0o644


def _zip(entries: dict[str, Path]) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            path = entries[name]
            data = path.read_bytes()
            unzipped += len(data)
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = _mode(path) << 16
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
    for what, size, limit in (
        ("unzipped", unzipped, limits.unzipped),
        ("zipped", zipped, limits.zipped),
    ):
        if size > limit:
            raise WsctlError(
                f"The deployment package is {_megabytes(size)} {what}, "
                f"{_megabytes(size - limit)} ({size - limit} bytes) over Lambda's "
                f"{_megabytes(limit)} {what} limit: remove large packages from "
                "requirements.txt (boto3 is already on Lambda) or large files from the code"
            )


def _unzipped_total(paths: Iterable[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def package_key(code: dict[str, Path], installed: InstalledDependencies | None) -> str:
    """What the zip is a function of: the code's names, modes and bytes, and the dependencies
    (their directory is named by its own content key and never changes once installed)."""
    digest = hashlib.sha256(
        f"{_PACKAGE_LAYOUT}\0{installed.directory.name if installed else ''}".encode()
    )
    for name in sorted(code):
        path = code[name]
        digest.update(f"\0{name}\0{_mode(path):o}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _cache_dir() -> Path:
    return state.home() / "cache" / "packages"


def _load_cached(key: str) -> Package | None:
    zip_path, facts_path = _cache_dir() / f"{key}.zip", _cache_dir() / f"{key}.json"
    try:
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        data = zip_path.read_bytes()
        os.utime(zip_path)  # recently used: kept by pruning
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict) or facts.get("sha256") != hashlib.sha256(data).hexdigest():
        return None
    return Package(
        data=data,
        unzipped_size=int(facts.get("unzipped", 0)),
        shadowed=tuple(facts.get("shadowed", ())),
        from_cache=True,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _store(key: str, package: Package) -> None:
    """Keep ``package`` for the next build; a cache that cannot be written is only slower."""
    directory = _cache_dir()
    facts = {
        "sha256": hashlib.sha256(package.data).hexdigest(),
        "unzipped": package.unzipped_size,
        "shadowed": list(package.shadowed),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / f"{key}.zip", package.data)
        _atomic_write(directory / f"{key}.json", json.dumps(facts).encode())
        zips = sorted(directory.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in zips[KEPT_PACKAGES:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
    except OSError:
        pass


def build_package(
    spec: ServiceSpec,
    *,
    installer: DependencyInstaller | None = None,
    limits: PackageLimits = LAMBDA_LIMITS,
) -> Package:
    """The zip every function of the stack is deployed from (they share one code directory).

    Installs ``requirements.txt`` for Lambda first (from the cache when unchanged), and reuses
    the zip of an earlier identical build.
    """
    installed = (installer or DependencyInstaller()).install(spec)
    dependencies_cached = installed.cached if installed else None
    code = _entries(spec.code_dir)
    if spec.auth == "token":
        # wsctl's built-in authorizer (DESIGN.md section 5) runs from the same zip.
        code.setdefault(BUILTIN_AUTHORIZER_FILE, builtin_authorizer_source())
    key = package_key(code, installed)
    cached = _load_cached(key)
    if cached is not None:
        check_limits(cached.size, cached.unzipped_size, limits)
        return replace(cached, dependencies_cached=dependencies_cached)
    dependencies = _entries(installed.directory) if installed else {}
    entries, shadowed = merge_entries(code, dependencies)
    # Checked before zipping too: a tree far over the limit is not worth compressing.
    check_limits(0, _unzipped_total(entries.values()), limits)
    data, unzipped = _zip(entries)
    check_limits(len(data), unzipped, limits)
    package = Package(
        data=data,
        unzipped_size=unzipped,
        shadowed=shadowed,
        dependencies_cached=dependencies_cached,
    )
    _store(key, package)
    return package
