"""What changed between two versions of a service's wsctl.toml, in words, and which changes a
running emulator cannot take live. Pure: environment *names* only, never values."""

from __future__ import annotations

from wsctl.config import ServiceSpec

# Fields of a function whose change is worth a word (environment is told by names).
_FUNCTION_FIELDS = ("handler", "memory", "timeout", "permissions")


def describe_changes(old: ServiceSpec, new: ServiceSpec) -> list[str]:
    """One short phrase per change: routes, functions, environment names, authorizer."""
    changes: list[str] = []
    for key in sorted(new.routes.keys() - old.routes.keys()):
        changes.append(f"route {key} added (-> {new.routes[key]}{_two_way(new, key)})")
    for key in sorted(old.routes.keys() - new.routes.keys()):
        changes.append(f"route {key} removed")
    for key in sorted(old.routes.keys() & new.routes.keys()):
        if old.routes[key] != new.routes[key]:
            changes.append(f"route {key} now -> {new.routes[key]}")
        if (key in old.respond_routes) != (key in new.respond_routes):
            changes.append(f"route {key} now {'two' if key in new.respond_routes else 'one'}-way")
    for name in sorted(new.functions.keys() - old.functions.keys()):
        changes.append(f"function {name} added")
    for name in sorted(old.functions.keys() - new.functions.keys()):
        changes.append(f"function {name} removed")
    for name in sorted(old.functions.keys() & new.functions.keys()):
        before, after = old.functions[name], new.functions[name]
        fields = [f for f in _FUNCTION_FIELDS if getattr(before, f) != getattr(after, f)]
        if fields:
            changes.append(f"function {name}: {', '.join(fields)} changed")
        names = _changed_names(dict(before.environment), dict(after.environment))
        if names:
            changes.append(f"function {name}: environment {', '.join(names)} changed")
    if old.auth != new.auth:
        changes.append(f"auth {old.auth} -> {new.auth}")
    if old.authorizer != new.authorizer:
        changes.append("authorizer changed" if new.authorizer else "authorizer removed")
    return changes


def needs_restart(old: ServiceSpec, new: ServiceSpec) -> str | None:
    """Why ``new`` cannot replace ``old`` in a running emulator, or None if it can."""
    for field in ("name", "stage", "region", "runtime", "architecture"):
        if getattr(old, field) != getattr(new, field):
            return f"[stack] {field} changed: restart `wsctl up --local` to apply it"
    # token and iam need what only a start provides (the token, the caller's credentials).
    if old.auth != new.auth and {old.auth, new.auth} - {"none", "custom"}:
        return f"[stack] auth {new.auth!r}: restart `wsctl up --local` to apply it"
    return None


def _changed_names(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _two_way(spec: ServiceSpec, key: str) -> str:
    return ", two-way" if key in spec.respond_routes else ""
