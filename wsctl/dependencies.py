"""A service's ``requirements.txt``, installed for the Lambda platform and cached by its hash.

pip installs only wheels built for Lambda's Linux (``--only-binary=:all:`` with manylinux
platform tags for the runtime's glibc and the function's architecture), never builds from
source on this machine, so what is packaged is what Lambda can load. The result is cached
under ``$WSCTL_HOME/cache/deps/<key>``, the key being the SHA-256 of the requirements file's
content, the runtime and the architecture: an unchanged ``up`` runs no pip at all. Unpinned
requirements therefore stay at the versions of the first install until the file changes.

pip reads its usual ``PIP_*`` environment (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``,
``PIP_NO_INDEX``...) and configuration files, so a private index works as it does for pip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from wsctl import state
from wsctl.config import ServiceSpec
from wsctl.console import err
from wsctl.errors import WsctlError

# Lambda's Python runtimes and the glibc of the Amazon Linux they run on: python3.11 runs on
# Amazon Linux 2 (glibc 2.26), python3.12 and later on Amazon Linux 2023 (glibc 2.34).
RUNTIME_GLIBC_MINOR = {"python3.11": 26, "python3.12": 34, "python3.13": 34}
_MANYLINUX_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
# Bump when the install command changes, so old cache entries are not reused.
_CACHE_LAYOUT = "wsctl-deps-1"
PIP_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class PipResult:
    returncode: int
    stdout: str
    stderr: str


PipRunner = Callable[[Sequence[str]], PipResult]


def run_pip(args: Sequence[str]) -> PipResult:
    """Run this interpreter's pip (the one wsctl is installed with) with ``args``."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", *args],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return PipResult(1, "", f"ERROR: pip did not finish within {PIP_TIMEOUT_SECONDS} s")
    return PipResult(done.returncode, done.stdout, done.stderr)


def requirement_lines(text: str) -> list[str]:
    """The lines of a requirements file that ask for something (no blanks, no comments)."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _included_file(line: str) -> str | None:
    """The file a ``-r``/``-c`` line (or its long form) pulls in, if the line is one."""
    for flag in ("--requirement", "--constraint", "-r", "-c"):
        if line.startswith(flag):
            rest = line[len(flag) :]
            if flag.startswith("--") and rest[:1] not in (" ", "="):
                continue
            return rest.lstrip(" =").strip() or None
    return None


def requirements_content(path: Path, seen: set[Path] | None = None) -> str:
    """The requirements file and the files it includes (``-r``, ``-c``), as one text: the
    install depends on all of them, so the cache key must too."""
    seen = set() if seen is None else seen
    resolved = path.resolve()
    if resolved in seen:
        return ""
    seen.add(resolved)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WsctlError(f"{path}: cannot read it: {exc}") from None
    parts = [text]
    for line in requirement_lines(text):
        included = _included_file(line)
        if included and "://" not in included:  # pip fetches URLs itself
            parts.append(f"\0{included}\0{requirements_content(path.parent / included, seen)}")
    return "".join(parts)


def pip_platforms(runtime: str, architecture: str) -> list[str]:
    """Platform tags of wheels that load on the runtime's Lambda image, newest glibc last."""
    arch = _MANYLINUX_ARCH[architecture]
    glibc_minor = RUNTIME_GLIBC_MINOR[runtime]
    # manylinux2014 is manylinux_2_17; pip widens it to manylinux2010/1 by itself.
    return [f"manylinux2014_{arch}"] + [
        f"manylinux_2_{minor}_{arch}" for minor in range(18, glibc_minor + 1)
    ]


def python_version(runtime: str) -> str:
    return runtime.removeprefix("python")


def pip_install_args(
    requirements: Path, target: Path, runtime: str, architecture: str, extra: Sequence[str] = ()
) -> list[str]:
    """The ``pip`` arguments that install ``requirements`` for Lambda into ``target``."""
    platforms = [arg for tag in pip_platforms(runtime, architecture) for arg in ("--platform", tag)]
    return [
        "install",
        "--target",
        str(target),
        *platforms,
        "--implementation",
        "cp",
        "--python-version",
        python_version(runtime),
        "--only-binary=:all:",
        "--no-compile",  # .pyc for this machine's Python would be dead weight on Lambda
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        *extra,
        "-r",
        str(requirements),
    ]


def cache_key(requirements_text: str, runtime: str, architecture: str) -> str:
    digest = hashlib.sha256()
    for part in (_CACHE_LAYOUT, runtime, architecture, requirements_text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def last_error_line(result: PipResult) -> str:
    """pip's own explanation: its last ``ERROR:`` line, else the last line it wrote."""
    # stderr goes last: stdout only carries progress.
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return errors[-1].removeprefix("ERROR:").strip()
    return lines[-1] if lines else f"pip exited with status {result.returncode}"


@dataclass(frozen=True)
class InstalledDependencies:
    """Where a service's dependencies are installed, and whether the cache already had them."""

    directory: Path
    cached: bool


@dataclass
class DependencyInstaller:
    """Installs requirements for Lambda, once per content: pip runs only on a cache miss.

    ``runner`` and ``pip_args`` (e.g. ``--no-index --find-links DIR``) are injectable so that
    tests count pip runs and install from local wheels without a network.
    """

    runner: PipRunner | None = None  # default: run_pip, looked up when pip runs
    pip_args: Sequence[str] = ()
    cache_root: Path | None = None
    console: Console | None = None  # where pip's progress is told (default: stderr)
    pip_runs: int = field(default=0, init=False)

    def root(self) -> Path:
        return self.cache_root or state.home() / "cache" / "deps"

    def install(self, spec: ServiceSpec) -> InstalledDependencies | None:
        """The installed dependencies of ``spec``, or ``None`` if it declares none."""
        requirements = spec.requirements_file
        if not requirements.is_file():
            return None
        content = requirements_content(requirements)
        wanted = requirement_lines(requirements.read_text(encoding="utf-8"))
        if not wanted:
            return None
        final = self.root() / cache_key(content, spec.runtime, spec.architecture)
        if final.is_dir():
            return InstalledDependencies(final, cached=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Install beside the final place and rename, so an interrupted install is never
        # mistaken for a complete one.
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name[:12]}-", dir=final.parent))
        console = self.console or err
        console.print(
            f"Installing {len(wanted)} requirement(s) of {requirements.name} for Lambda "
            f"({spec.runtime}, {spec.architecture}); cached for the next builds",
            markup=False,
        )
        started = time.monotonic()
        try:
            self._pip(requirements, staging, spec)
            shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: our shebang
            try:
                os.replace(staging, final)
            except OSError:
                if not final.is_dir():  # not a concurrent install that finished first
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        console.print(f"Installed in {time.monotonic() - started:.1f} s", markup=False)
        return InstalledDependencies(final, cached=False)

    def _pip(self, requirements: Path, target: Path, spec: ServiceSpec) -> None:
        args = pip_install_args(
            requirements, target, spec.runtime, spec.architecture, extra=self.pip_args
        )
        self.pip_runs += 1
        result = (self.runner or run_pip)(args)
        if result.returncode != 0:
            raise WsctlError(
                f"Installing {requirements.name} for Lambda ({spec.runtime}, "
                f"{spec.architecture}) failed: {last_error_line(result)} "
                "(only manylinux wheels can be packaged; pin a version that publishes them)"
            )
