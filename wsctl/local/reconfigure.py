"""``up --local`` following edits of wsctl.toml (and its env_file): when they changed, and the
new configuration as the running emulator can take it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wsctl.config import ServiceSpec, parse_spec_file
from wsctl.errors import ConfigError
from wsctl.spec_changes import describe_changes, needs_restart

# What the command line may override (--name, --stage, --region, --auth): kept across edits.
_OVERRIDABLE = ("name", "stage", "region", "auth")


def config_snapshot(spec: ServiceSpec) -> Mapping[Path, int | None]:
    """Modification times of the files the configuration was read from (None: missing)."""
    paths = [p for p in (spec.source, spec.env_file) if p is not None]
    snapshot: dict[Path, int | None] = {}
    for path in paths:
        try:
            snapshot[path] = path.stat().st_mtime_ns
        except OSError:
            snapshot[path] = None
    return snapshot


@dataclass(frozen=True)
class Edit:
    """A re-read configuration: the spec to run and what changed, or why it is not applied."""

    spec: ServiceSpec | None
    changes: tuple[str, ...] = ()
    error: str | None = None


def reread(running: ServiceSpec, as_started: ServiceSpec) -> Edit:
    """The file read again; ``as_started`` is the file's spec before command-line overrides,
    so what the command line set stays set."""
    assert running.source is not None
    try:
        edited = parse_spec_file(running.source)
        overrides = {
            field: getattr(running, field)
            for field in _OVERRIDABLE
            if getattr(running, field) != getattr(as_started, field)
        }
        new = edited.with_overrides(**overrides)
    except ConfigError as error:
        return Edit(None, error=str(error))
    reason = needs_restart(running, new)
    if reason is not None:
        return Edit(None, error=reason)
    return Edit(new, tuple(describe_changes(running, new)))


def conflicting_variables(spec: ServiceSpec) -> list[str]:
    """Variable names two functions set to different values. The emulator runs every function
    in one process with one environment, so locally they see one value for such a name."""
    values: dict[str, set[str]] = {}
    for function in spec.functions.values():
        for name, value in function.environment.items():
            values.setdefault(name, set()).add(value)
    return sorted(name for name, seen in values.items() if len(seen) > 1)
