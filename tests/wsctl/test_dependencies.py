"""wsctl.dependencies, the pure parts: pip's arguments, the cache key, pip's error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsctl.config import ARCHITECTURES, RUNTIMES
from wsctl.dependencies import (
    RUNTIME_GLIBC_MINOR,
    PipResult,
    cache_key,
    last_error_line,
    pip_install_args,
    pip_platforms,
    requirement_lines,
    requirements_content,
)
from wsctl.errors import WsctlError


def test_every_runtime_wsctl_accepts_has_a_platform():
    """Each runtime and architecture of wsctl.toml maps to pip platform tags."""
    assert set(RUNTIME_GLIBC_MINOR) == set(RUNTIMES)
    for runtime in RUNTIMES:
        for architecture in ARCHITECTURES:
            assert pip_platforms(runtime, architecture)


def test_amazon_linux_2023_runtimes_accept_newer_manylinux():
    """python3.12 (glibc 2.34) takes manylinux_2_28 and _2_34 wheels; python3.11 (2.26) not."""
    modern = pip_platforms("python3.12", "x86_64")
    assert modern[0] == "manylinux2014_x86_64"
    assert "manylinux_2_28_x86_64" in modern
    assert modern[-1] == "manylinux_2_34_x86_64"
    older = pip_platforms("python3.11", "x86_64")
    assert older[-1] == "manylinux_2_26_x86_64"
    assert "manylinux_2_28_x86_64" not in older


def test_arm64_means_aarch64_wheels():
    """Lambda's arm64 is manylinux's aarch64; no x86_64 tag slips in."""
    tags = pip_platforms("python3.12", "arm64")
    assert tags[0] == "manylinux2014_aarch64"
    assert all(tag.endswith("_aarch64") for tag in tags)


def test_install_args_target_lambda_not_this_machine(tmp_path: Path):
    """--target, every platform, cp, the runtime's version, wheels only, extra args before -r."""
    args = pip_install_args(
        tmp_path / "requirements.txt",
        tmp_path / "out",
        "python3.13",
        "arm64",
        extra=["--no-index"],
    )
    assert args[:3] == ["install", "--target", str(tmp_path / "out")]
    platforms = [args[i + 1] for i, arg in enumerate(args) if arg == "--platform"]
    assert platforms == pip_platforms("python3.13", "arm64")
    assert args[args.index("--python-version") + 1] == "3.13"
    assert args[args.index("--implementation") + 1] == "cp"
    assert "--only-binary=:all:" in args
    assert "--no-compile" in args
    assert args[-3:] == ["--no-index", "-r", str(tmp_path / "requirements.txt")]


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
        ("", "", "pip exited with status 1"),
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
