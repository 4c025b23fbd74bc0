"""``wsctl init``: a new service directory started from the bundled one.

The files are planned first (pure: names and contents), then every target is checked, and only
then is anything written: a refusal leaves the directory exactly as it was.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from wsctl.config import (
    CODE_DIR,
    CONFIG_FILE,
    ServiceSpec,
    bundled_service_dir,
    parse_spec,
    parse_spec_file,
)
from wsctl.errors import ConfigError, WsctlError
from wsctl.packaging import source_files
from wsctl.project.render import render_config, stack_name_for

TEST_FILE = "tests/test_service.py"
AUTHORIZER_FILE = f"{CODE_DIR}/authorizer.py"
AUTHORIZER_TEST_FILE = "tests/test_authorizer.py"
README_FILE = "README.md"
GITIGNORE_FILE = ".gitignore"
REQUIREMENTS_FILE = f"{CODE_DIR}/requirements.txt"


@dataclass(frozen=True)
class NewFile:
    """A file ``init`` will create, relative to the service directory."""

    path: str
    content: bytes


@dataclass(frozen=True)
class NewService:
    directory: Path
    spec: ServiceSpec
    files: tuple[NewFile, ...]


def _template(name: str, values: dict[str, str]) -> bytes:
    text = resources.files("wsctl.project").joinpath("templates", f"{name}.tmpl").read_text("utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text.encode("utf-8")


def plan_service(
    directory: Path, *, name: str | None = None, region: str | None = None
) -> NewService:
    """What ``wsctl init DIRECTORY`` writes: the bundled service renamed, plus a test and docs."""
    bundled_dir = bundled_service_dir()
    bundled = parse_spec_file(bundled_dir / CONFIG_FILE)
    stack = name or stack_name_for(directory.resolve().name, bundled.stage, bundled.functions)
    # Validated against the bundled code, which is what lambda_code/ will hold.
    spec = replace(bundled, source=None).with_overrides(name=stack, region=region)
    config = render_config(spec)
    spec = parse_spec(tomllib.loads(config), bundled_dir / CONFIG_FILE)

    files = [NewFile(CONFIG_FILE, config.encode("utf-8"))]
    code_dir = bundled_dir / CODE_DIR
    files += [
        NewFile(f"{CODE_DIR}/{path.relative_to(code_dir).as_posix()}", path.read_bytes())
        for path in source_files(code_dir)
    ]
    values = {"name": spec.name}
    extras = {
        REQUIREMENTS_FILE: _template("requirements.txt", values),
        TEST_FILE: _template("test_service.py", values),
        AUTHORIZER_TEST_FILE: _template("test_authorizer.py", values),
        AUTHORIZER_FILE: _template("authorizer.py", values),
        README_FILE: _template("README.md", values),
        GITIGNORE_FILE: _template("gitignore", values),
    }
    planned = {f.path for f in files}
    files += [NewFile(path, content) for path, content in extras.items() if path not in planned]
    return NewService(directory, spec, tuple(files))


def conflicts(service: NewService) -> list[Path]:
    """Paths ``init`` would overwrite (or cannot create because a file is in the way)."""
    found = []
    for new in service.files:
        target = service.directory / new.path
        try:
            if target.exists() or target.is_symlink():
                found.append(target)
                continue
            parent = target.parent
            while parent != service.directory and not parent.exists():
                parent = parent.parent
            if parent.exists() and not parent.is_dir():
                found.append(parent)
        except OSError as exc:  # e.g. a name too long for the file system
            raise WsctlError(f"Cannot use {target}: {exc.strerror}") from None
    return found


def write_service(service: NewService) -> None:
    """Create the planned files; refuses (writing nothing) if any of them is in the way."""
    try:
        not_a_directory = service.directory.exists() and not service.directory.is_dir()
    except OSError as exc:  # e.g. a name too long for the file system
        raise WsctlError(f"Cannot use {service.directory}: {exc.strerror}") from None
    if not_a_directory:
        raise ConfigError(f"{service.directory} exists and is not a directory")
    existing = conflicts(service)
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ConfigError(
            f"{existing[0]} already exists{more}; wsctl init never overwrites files: "
            "choose an empty directory or move it away"
        )
    created: list[Path] = []  # files and directories made here, undone on failure
    try:
        for new in service.files:
            target = service.directory / new.path
            created += _make_directories(target.parent)
            # O_EXCL: a file that appeared since the check is still never overwritten.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            created.append(target)
            with os.fdopen(fd, "wb") as handle:
                handle.write(new.content)
    except OSError as exc:
        _undo(created)
        if isinstance(exc, FileExistsError):
            raise ConfigError(
                f"{exc.filename} already exists; wsctl init never overwrites files"
            ) from None
        raise WsctlError(
            f"Cannot create {exc.filename or service.directory}: {exc.strerror}; "
            "nothing was left behind"
        ) from None


def _make_directories(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones created, outermost first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def _undo(created: list[Path]) -> None:
    """Remove what ``write_service`` made, newest first; nothing else is touched."""
    for path in reversed(created):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()  # only if still empty
            else:
                path.unlink()
        except OSError:
            continue
