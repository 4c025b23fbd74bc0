"""A service's ``requirements.txt``, installed for the Lambda platform and cached by its hash.

The resolver is uv (``uv pip install``), not pip: pip's ``--platform``/``--python-version``
choose wheels for the target but evaluate environment markers for the machine running pip, so
a deploy from Python 3.11 to a 3.12 runtime can package the wrong dependencies
(``typing-extensions; python_version < "3.13"`` and the like). uv's ``--python-platform`` and
``--python-version`` resolve, markers included, for the target itself. It is Astral's
pip-compatible installer, shipped as a wheel on PyPI with its binary.

Only wheels are installed (``--only-binary :all:``), for a manylinux platform of the runtime's
glibc and the function's architecture: nothing is built or run on this machine, and lines
that would (paths, URLs, VCS references, ``-e``, ``--no-binary``) are refused before the
resolver runs, naming the line. The result is cached under ``$WSCTL_HOME/cache/deps/<key>``,
the key being the SHA-256 of the requirements' content, the runtime and the architecture: an
unchanged ``up`` runs nothing. Unpinned requirements therefore stay at the versions of the
first install until the file changes.

pip's index settings in the environment (``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``,
``PIP_FIND_LINKS``, ``PIP_NO_INDEX``) are passed on, and uv reads its own ``UV_*`` ones, so a
private index works as it does for pip (pip's configuration files are not read).
"""

from __future__ import annotations

import hashlib
import os
import re
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
# The manylinux levels uv can target (its --python-platform values), newest first.
_UV_MANYLINUX_MINORS = (40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 28, 17)
# Bump when the install command changes, so old cache entries are not reused.
_CACHE_LAYOUT = "wsctl-deps-2-uv"
PIP_TIMEOUT_SECONDS = 900
# Requirement lines that make the installer fetch or build something that runs code here.
_CODE_RUNNING = (
    (re.compile(r"^(-e|--editable)\b"), "an editable install builds the project here"),
    (re.compile(r"--no-binary"), "--no-binary builds from source here"),
    (re.compile(r"^(git|hg|svn|bzr)\+|\b(git|hg|svn|bzr)\+\w+://"), "a VCS reference"),
    (re.compile(r"://"), "a URL"),
    (re.compile(r"^(\.|/|~|[A-Za-z]:\\)|\.(whl|tar\.gz|zip|tgz)$|^[^ =<>!~;@]+/"), "a path"),
    (re.compile(r"\s@\s|^[A-Za-z0-9._-]+@"), "a direct reference"),
)


@dataclass(frozen=True)
class PipResult:
    returncode: int
    stdout: str
    stderr: str


PipRunner = Callable[[Sequence[str]], PipResult]


def uv_binary() -> str:
    """The uv executable installed with wsctl (the ``uv`` wheel carries it)."""
    try:
        from uv import find_uv_bin
    except ImportError:  # pragma: no cover - uv is a dependency of wsctl
        found = shutil.which("uv")
        if found is None:
            raise WsctlError("uv is not installed; reinstall wsctl (it depends on uv)") from None
        return found
    return find_uv_bin()


def run_pip(args: Sequence[str]) -> PipResult:
    """Run ``uv pip`` (the pip-compatible installer wsctl uses) with ``args``."""
    try:
        done = subprocess.run(
            [uv_binary(), "pip", *args],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return PipResult(1, "", f"error: uv did not finish within {PIP_TIMEOUT_SECONDS} s")
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


def target_platform(runtime: str, architecture: str) -> str:
    """uv's name for the runtime's Lambda image: the newest manylinux its glibc loads (wheels
    for older manylinux levels are accepted too)."""
    glibc_minor = RUNTIME_GLIBC_MINOR[runtime]
    minor = next(m for m in _UV_MANYLINUX_MINORS if m <= glibc_minor)
    return f"{_MANYLINUX_ARCH[architecture]}-manylinux_2_{minor}"


def python_version(runtime: str) -> str:
    return runtime.removeprefix("python")


def index_args_from_environment(environ: dict[str, str] | None = None) -> list[str]:
    """pip's index settings from the environment, as uv's options."""
    environ = dict(os.environ if environ is None else environ)
    args: list[str] = []
    if environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    if environ.get("PIP_INDEX_URL"):
        args += ["--index-url", environ["PIP_INDEX_URL"]]
    for url in environ.get("PIP_EXTRA_INDEX_URL", "").split():
        args += ["--extra-index-url", url]
    for location in environ.get("PIP_FIND_LINKS", "").split():
        args += ["--find-links", location]
    return args


def pip_install_args(
    requirements: Path, target: Path, runtime: str, architecture: str, extra: Sequence[str] = ()
) -> list[str]:
    """The ``uv pip`` arguments that install ``requirements`` for Lambda into ``target``,
    resolving (markers included) for the runtime's platform and Python, not this machine's."""
    return [
        "install",
        "--target",
        str(target),
        "--python-platform",
        target_platform(runtime, architecture),
        "--python-version",
        python_version(runtime),
        "--only-binary",
        ":all:",
        "--python",
        sys.executable,
        "--cache-dir",
        str(state.home() / "cache" / "uv"),
        "--quiet",
        *index_args_from_environment(),
        *extra,
        "-r",
        str(requirements),
    ]


def refuse_code_running_lines(path: Path, seen: set[Path] | None = None) -> None:
    """Refuse, naming the line, a requirement that would run code on this machine (a path,
    URL, VCS reference, direct reference, ``-e``, ``--no-binary``); ``-r``/``-c`` files too."""
    seen = set() if seen is None else seen
    if path.resolve() in seen:
        return
    seen.add(path.resolve())
    text = path.read_text(encoding="utf-8")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        included = _included_file(line)
        if included is not None:
            if "://" in included:
                raise WsctlError(f"{path.name}:{number}: {line!r}: a URL; list the file's lines")
            refuse_code_running_lines(path.parent / included, seen)
            continue
        if line.startswith("-") and not line.startswith(("-e", "--editable", "--no-binary")):
            continue  # other options (--index-url, --only-binary...) run nothing
        for pattern, what in _CODE_RUNNING:
            if pattern.search(line):
                raise WsctlError(
                    f"{path.name}:{number}: {line!r} is {what}, which could run code on this "
                    "machine; wsctl installs released wheels only (name==version)"
                )


def cache_key(requirements_text: str, runtime: str, architecture: str) -> str:
    digest = hashlib.sha256()
    for part in (_CACHE_LAYOUT, runtime, architecture, requirements_text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def last_error_line(result: PipResult) -> str:
    """The installer's own explanation in one line: uv's ``error:`` and its ``cause:``, or
    pip's last ``ERROR:`` line, else the last line it wrote."""
    # stderr goes last: stdout only carries progress.
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
    lines = [line for line in lines if line]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("error:"):
            # uv wraps its causes over several lines; they follow the error line.
            cause = " ".join(line.removeprefix("cause:").strip() for line in lines[index + 1 :])
            error = lines[index].removeprefix("error:").strip()
            return f"{error}: {cause}" if cause else error
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return errors[-1].removeprefix("ERROR:").strip()
    return lines[-1] if lines else f"the installer exited with status {result.returncode}"


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
        refuse_code_running_lines(requirements)
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
                "(only manylinux wheels for the runtime's Python can be packaged; pin a version "
                "that publishes them)"
            )
