"""wsctl.dependencies: the installer's arguments, the cache key, its error line, requirement
lines refused before anything runs, and markers resolved for the Lambda runtime (uv for real,
offline, from wheels written in the test)."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
from test_packaging import write_wheel

from wsctl.config import ARCHITECTURES, RUNTIMES, parse_spec_file
from wsctl.dependencies import (
    RUNTIME_GLIBC_MINOR,
    DependencyInstaller,
    PipResult,
    cache_key,
    index_args_from_environment,
    last_error_line,
    pip_install_args,
    refuse_code_running_lines,
    requirement_lines,
    requirements_content,
    target_platform,
)
from wsctl.errors import WsctlError
from wsctl.packaging import build_package


def test_every_runtime_wsctl_accepts_has_a_platform():
    """Each runtime and architecture of wsctl.toml maps to one of uv's target platforms."""
    assert set(RUNTIME_GLIBC_MINOR) == set(RUNTIMES)
    for runtime in RUNTIMES:
        for architecture in ARCHITECTURES:
            assert "-manylinux_2_" in target_platform(runtime, architecture)


def test_platform_follows_the_runtimes_glibc_and_architecture():
    """python3.12 (Amazon Linux 2023, glibc 2.34) takes manylinux_2_34; python3.11 (glibc
    2.26) the newest level below it uv knows (2_17); arm64 is aarch64."""
    assert target_platform("python3.12", "x86_64") == "x86_64-manylinux_2_34"
    assert target_platform("python3.11", "x86_64") == "x86_64-manylinux_2_17"
    assert target_platform("python3.13", "arm64") == "aarch64-manylinux_2_34"


def test_install_args_target_lambda_not_this_machine(tmp_path: Path, monkeypatch):
    """--target, the runtime's platform and Python (markers are evaluated for those), wheels
    only, pip's index settings from the environment, extra args just before -r."""
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", "/wheels")
    args = pip_install_args(
        tmp_path / "requirements.txt",
        tmp_path / "out",
        "python3.13",
        "arm64",
        extra=["--no-index"],
    )
    assert args[:3] == ["install", "--target", str(tmp_path / "out")]
    assert args[args.index("--python-platform") + 1] == "aarch64-manylinux_2_34"
    assert args[args.index("--python-version") + 1] == "3.13"
    assert args[args.index("--only-binary") + 1] == ":all:"
    assert args[args.index("--find-links") + 1] == "/wheels"
    assert args[-3:] == ["--no-index", "-r", str(tmp_path / "requirements.txt")]


def test_pip_index_settings_become_uv_options():
    """PIP_NO_INDEX, PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and PIP_FIND_LINKS are passed on."""
    args = index_args_from_environment(
        {
            "PIP_NO_INDEX": "true",
            "PIP_INDEX_URL": "https://i/simple",
            "PIP_EXTRA_INDEX_URL": "https://a https://b",
            "PIP_FIND_LINKS": "/w",
        }
    )
    assert args == [
        "--no-index",
        "--index-url",
        "https://i/simple",
        "--extra-index-url",
        "https://a",
        "--extra-index-url",
        "https://b",
        "--find-links",
        "/w",
    ]
    assert index_args_from_environment({}) == []


def test_requirement_lines_skip_comments_and_blanks():
    """Comments, blank lines and trailing comments are not requirements."""
    text = "# header\n\nrequests==2.32.3  # http\n  \n-r more.txt\n#x==1\n"
    assert requirement_lines(text) == ["requests==2.32.3", "-r more.txt"]


def test_cache_key_depends_on_content_runtime_and_architecture():
    """Any of content, runtime or architecture changes the key; nothing else does."""
    base = cache_key("a==1\n", "python3.12", "x86_64")
    assert base == cache_key("a==1\n", "python3.12", "x86_64")
    assert len(base) == 64
    assert base != cache_key("a==2\n", "python3.12", "x86_64")
    assert base != cache_key("a==1\n", "python3.13", "x86_64")
    assert base != cache_key("a==1\n", "python3.12", "arm64")


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [
        ("", "Looking in links\nERROR: one\nERROR: two\n", "two"),
        ("Collecting x\n", "WARNING: odd\nsomething broke\n", "something broke"),
        ("", "", "the installer exited with status 1"),
        (
            "",
            "error: No solution found\n  cause: Because x was not found and\n  you require x\n",
            "No solution found: Because x was not found and you require x",
        ),
    ],
)
def test_last_error_line(stdout, stderr, expected):
    """pip's last ERROR: line, else its last line, else its exit status."""
    assert last_error_line(PipResult(1, stdout, stderr)) == expected


def test_requirements_content_includes_r_and_c_files(tmp_path: Path):
    """Files pulled in by -r/-c (any spelling) are part of the content; cycles end."""
    (tmp_path / "base.txt").write_text("a==1\n-r requirements.txt\n")
    (tmp_path / "pins.txt").write_text("b==2\n")
    main = tmp_path / "requirements.txt"
    main.write_text("-r base.txt\n--constraint=pins.txt\nc==3\n")
    content = requirements_content(main)
    assert "a==1" in content and "b==2" in content and "c==3" in content
    before = cache_key(content, "python3.12", "x86_64")
    (tmp_path / "pins.txt").write_text("b==3\n")
    assert cache_key(requirements_content(main), "python3.12", "x86_64") != before


def test_a_missing_included_file_is_one_line(tmp_path: Path):
    """-r naming a file that is not there is reported with its path."""
    main = tmp_path / "requirements.txt"
    main.write_text("-rmissing.txt\n")
    with pytest.raises(WsctlError, match=r"missing\.txt: cannot read it"):
        requirements_content(main)


@pytest.mark.parametrize(
    "line, what",
    [
        ("./vendor/mypkg", "a path"),
        ("/opt/wheels/x-1.0-py3-none-any.whl", "a path"),
        ("lib/sub", "a path"),
        ("mypkg.tar.gz", "a path"),
        ("https://example.com/x-1.0.tar.gz", "a URL"),
        ("file:///tmp/x.whl", "a URL"),
        ("git+https://github.com/o/r.git", "a VCS reference"),
        ("mypkg @ https://example.com/x.whl", "a URL"),
        ("-e .", "an editable install"),
        ("--editable ./x", "an editable install"),
        ("--no-binary :all:", "--no-binary"),
        ("requests==2.0 --no-binary requests", "--no-binary"),
    ],
)
def test_lines_that_would_run_code_here_are_refused(tmp_path: Path, line, what):
    """Each kind of line that makes the installer build or fetch code is refused before it
    runs, with the file, the line number and the line itself."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# pinned\nrequests==2.32.3\n{line}\n")
    with pytest.raises(WsctlError) as caught:
        refuse_code_running_lines(requirements)
    message = str(caught.value)
    assert message.startswith(f"requirements.txt:3: {line!r} is {what}")
    assert "\n" not in message


def test_plain_requirements_and_index_options_pass(tmp_path: Path):
    """Pins, ranges, extras, markers and index options are fine, in included files too."""
    (tmp_path / "more.txt").write_text("tinypkg>=1,<3\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "--index-url https://pypi.org/simple\n"
        "requests[socks]==2.32.3 ; python_version < '3.14'\n"
        "-r more.txt\n"
    )
    refuse_code_running_lines(requirements)


def test_an_included_file_is_checked_too(tmp_path: Path):
    """A refused line in a -r file names that file."""
    (tmp_path / "more.txt").write_text("git+https://github.com/o/r.git\n")
    (tmp_path / "requirements.txt").write_text("-r more.txt\n")
    with pytest.raises(WsctlError, match=r"^more.txt:1: "):
        refuse_code_running_lines(tmp_path / "requirements.txt")


SERVICE = """\
[stack]
name = "svc"
runtime = "{runtime}"

[functions.default]
handler = "handler.default"

[routes]
"$default" = "default"
"""


@pytest.fixture
def marker_wheels(tmp_path_factory) -> Path:
    """Wheels whose dependencies differ between this machine (3.11) and Lambda (3.12):
    ``app`` needs ``oldshim`` before 3.12 and ``newlib`` from 3.12 on."""
    directory = tmp_path_factory.mktemp("wheels")
    write_wheel(
        directory,
        "app",
        "1.0",
        {"app/__init__.py": ""},
        requires=('oldshim; python_version < "3.12"', 'newlib; python_version >= "3.12"'),
    )
    write_wheel(directory, "oldshim", "1.0", {"oldshim/__init__.py": ""})
    write_wheel(directory, "newlib", "1.0", {"newlib/__init__.py": ""})
    write_wheel(directory, "only311", "1.0", {"only311/__init__.py": ""}, tag="cp311-cp311-any")
    return directory


def _service(tmp_path: Path, runtime: str, requirements: str):
    (tmp_path / "lambda_code").mkdir(parents=True, exist_ok=True)
    (tmp_path / "lambda_code" / "handler.py").write_text("def default(e, c): ...\n")
    (tmp_path / "lambda_code" / "requirements.txt").write_text(requirements)
    (tmp_path / "wsctl.toml").write_text(SERVICE.format(runtime=runtime))
    return parse_spec_file(tmp_path / "wsctl.toml")


def _installer(wheels: Path) -> DependencyInstaller:
    return DependencyInstaller(pip_args=("--no-index", "--find-links", str(wheels)))


def _top_levels(data: bytes) -> set[str]:
    return {name.split("/")[0] for name in zipfile.ZipFile(io.BytesIO(data)).namelist()}


def test_markers_are_resolved_for_the_lambda_runtime(tmp_path, marker_wheels):
    """On Python 3.11 deploying to python3.12: the package holds newlib (the runtime's
    dependency), not oldshim (this machine's); for a python3.11 runtime, the other way."""
    assert sys.version_info[:2] != (3, 12)  # the point: this machine is not the runtime
    spec = _service(tmp_path / "a", "python3.12", "app==1.0\n")
    names = _top_levels(build_package(spec, installer=_installer(marker_wheels)).data)
    assert {"app", "newlib"} <= names and "oldshim" not in names
    spec = _service(tmp_path / "b", "python3.11", "app==1.0\n")
    names = _top_levels(build_package(spec, installer=_installer(marker_wheels)).data)
    assert {"app", "oldshim"} <= names and "newlib" not in names


def test_a_dependency_with_no_wheel_for_the_runtime_is_one_line_before_deploying(
    tmp_path, marker_wheels
):
    """A wheel only for CPython 3.11 cannot serve python3.12: a one-line error naming it,
    raised while packaging (before any AWS call)."""
    spec = _service(tmp_path, "python3.12", "only311==1.0\n")
    with pytest.raises(WsctlError) as caught:
        build_package(spec, installer=_installer(marker_wheels))
    message = str(caught.value)
    assert "\n" not in message and "only311" in message
    assert message.startswith("Installing requirements.txt for Lambda (python3.12, x86_64)")


def test_a_refused_line_stops_the_build_before_the_installer_runs(tmp_path):
    """`-e .` in requirements.txt: one-line error, and the installer never ran."""
    runs: list = []
    spec = _service(tmp_path, "python3.12", "-e .\n")
    with pytest.raises(WsctlError, match=re.escape("requirements.txt:1: '-e .' is an editable")):
        build_package(spec, installer=DependencyInstaller(runner=runs.append))
    assert runs == []
