"""The deployment package: deterministic zip of code plus requirements installed for Lambda.

pip runs for real, with no network: it installs wheels written by hand into a local directory
(``--no-index --find-links``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import boto3
import botocore.handlers
import pytest
from moto import mock_aws
from rich.console import Console

from wsctl import state
from wsctl.config import parse_spec_file
from wsctl.dependencies import DependencyInstaller, PipResult, run_pip
from wsctl.errors import WsctlError
from wsctl.packaging import KEPT_PACKAGES, PackageLimits, build_package, merge_entries

CONFIG = """\
[stack]
name = "svc"
runtime = "python3.12"

[functions.default]
handler = "handler.default"

[routes]
"$default" = "default"
"""


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def write_wheel(
    directory: Path,
    name: str,
    version: str,
    files: dict[str, str],
    requires: tuple[str, ...] = (),
    tag: str = "py3-none-any",
) -> Path:
    """Write a ``{name}-{version}-{tag}.whl`` holding ``files``, depending on ``requires``
    (PEP 508 lines, markers allowed)."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {path: text.encode() for path, text in files.items()}
    requirements = "".join(f"Requires-Dist: {line}\n" for line in requires)
    contents[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requirements}".encode()
    )
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: wsctl-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    ).encode()
    record = "".join(
        f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items()
    )
    contents[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    wheel = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


class CountingPip:
    """The real installer (uv pip), counting its runs and pointed at local wheels only."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args):
        self.calls.append(list(args))
        return run_pip(args)


class FakePip:
    """Stands in for pip where its real work is not the point: records the arguments and
    "installs" each requirement as an empty package in --target."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args):
        self.calls.append(list(args))
        target = Path(args[args.index("--target") + 1])
        requirements = Path(args[args.index("-r") + 1]).read_text().split()
        for requirement in requirements:
            package = target / requirement.split("==")[0]
            package.mkdir(parents=True)
            (package / "__init__.py").write_text(f"# {requirement}\n")
        return PipResult(0, "", "")


@pytest.fixture
def fake_pip() -> FakePip:
    return FakePip()


@pytest.fixture
def wheelhouse(tmp_path_factory) -> Path:
    """A directory of wheels: tinypkg 1.0 and 2.0, and a package that clashes with the code."""
    directory = tmp_path_factory.mktemp("wheels")
    write_wheel(directory, "tinypkg", "1.0", {"tinypkg/__init__.py": "VERSION = '1.0'\n"})
    write_wheel(directory, "tinypkg", "2.0", {"tinypkg/__init__.py": "VERSION = '2.0'\n"})
    write_wheel(directory, "clashpkg", "1.0", {"handler.py": "# from a dependency\n"})
    return directory


@pytest.fixture
def service(tmp_path: Path) -> Path:
    (tmp_path / "lambda_code").mkdir()
    (tmp_path / "lambda_code" / "handler.py").write_text("def default(event, context): ...\n")
    (tmp_path / "wsctl.toml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def pip() -> CountingPip:
    return CountingPip()


def installer_for(pip: CountingPip, wheelhouse: Path) -> DependencyInstaller:
    return DependencyInstaller(runner=pip, pip_args=("--no-index", "--find-links", str(wheelhouse)))


def names_in(data: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def read_member(data: bytes, name: str) -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read(name).decode()


def require(service: Path, text: str) -> None:
    (service / "lambda_code" / "requirements.txt").write_text(text)


def test_code_only_package_holds_the_code_and_no_caches(service):
    """Without requirements the zip is the code directory, minus caches and bytecode."""
    (service / "lambda_code" / "__pycache__").mkdir()
    (service / "lambda_code" / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"x")
    (service / "lambda_code" / "util").mkdir()
    (service / "lambda_code" / "util" / "text.py").write_text("X = 1\n")
    package = build_package(parse_spec_file(service / "wsctl.toml"))
    assert names_in(package.data) == ["handler.py", "util/text.py"]
    assert package.dependencies_cached is None


def test_a_pure_python_requirement_ends_up_in_the_zip(service, wheelhouse, pip):
    """requirements.txt is installed for Lambda and merged at the root of the zip."""
    require(service, "# our dependencies\ntinypkg==1.0  # pinned\n")
    package = build_package(
        parse_spec_file(service / "wsctl.toml"), installer=installer_for(pip, wheelhouse)
    )
    names = names_in(package.data)
    assert "handler.py" in names
    assert read_member(package.data, "tinypkg/__init__.py") == "VERSION = '1.0'\n"
    assert "tinypkg-1.0.dist-info/METADATA" in names
    assert not [n for n in names if n.endswith(".pyc") or n.startswith("bin/")]
    assert package.dependencies_cached is False
    assert len(pip.calls) == 1


def test_pip_is_asked_for_lambda_wheels_only(service, fake_pip):
    """The installer gets the runtime's Python and manylinux platform, wheels only."""
    require(service, "tinypkg==1.0\n")
    build_package(
        parse_spec_file(service / "wsctl.toml"), installer=DependencyInstaller(runner=fake_pip)
    )
    args = fake_pip.calls[0]
    assert args[0] == "install"
    assert args[args.index("--python-version") + 1] == "3.12"
    assert args[args.index("--python-platform") + 1] == "x86_64-manylinux_2_34"
    assert args[args.index("--only-binary") + 1] == ":all:"
    assert args[-2:] == ["-r", str(service.resolve() / "lambda_code" / "requirements.txt")]


def test_a_second_build_does_not_run_pip_again(service, wheelhouse, pip):
    """Unchanged requirements come from the cache: no pip run, same bytes."""
    require(service, "tinypkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    installer = installer_for(pip, wheelhouse)
    first = build_package(spec, installer=installer)
    second = build_package(spec, installer=installer_for(pip, wheelhouse))
    assert len(pip.calls) == 1
    assert second.dependencies_cached is True
    assert second.data == first.data
    assert second.sha256 == first.sha256


def test_changed_requirements_run_pip_again(service, wheelhouse, pip):
    """A new requirements.txt is a new cache key: pip runs and the zip has the new version."""
    require(service, "tinypkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    first = build_package(spec, installer=installer_for(pip, wheelhouse))
    require(service, "tinypkg==2.0\n")
    second = build_package(spec, installer=installer_for(pip, wheelhouse))
    assert len(pip.calls) == 2
    assert read_member(second.data, "tinypkg/__init__.py") == "VERSION = '2.0'\n"
    assert second.sha256 != first.sha256


def test_another_architecture_is_another_cache_entry(service, fake_pip):
    """The same requirements for arm64 are installed again, for aarch64."""
    require(service, "tinypkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    build_package(spec, installer=DependencyInstaller(runner=fake_pip))
    arm = spec.with_overrides(architecture="arm64")
    build_package(arm, installer=DependencyInstaller(runner=fake_pip))
    assert len(fake_pip.calls) == 2
    arm_args = fake_pip.calls[1]
    assert arm_args[arm_args.index("--python-platform") + 1] == "aarch64-manylinux_2_34"


def test_the_cache_lives_under_wsctl_home(service, fake_pip, isolated_environment):
    """Installed dependencies are kept in $WSCTL_HOME/cache/deps/<sha256>."""
    require(service, "tinypkg==1.0\n")
    build_package(
        parse_spec_file(service / "wsctl.toml"), installer=DependencyInstaller(runner=fake_pip)
    )
    entries = list((isolated_environment / "cache" / "deps").iterdir())
    assert len(entries) == 1
    assert len(entries[0].name) == 64
    assert (entries[0] / "tinypkg" / "__init__.py").is_file()


def test_pip_index_options_come_from_the_environment(service, wheelhouse, pip, monkeypatch):
    """PIP_NO_INDEX/PIP_FIND_LINKS reach pip, so `up` can use a private index or a wheelhouse."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    require(service, "tinypkg==2.0\n")
    package = build_package(
        parse_spec_file(service / "wsctl.toml"), installer=DependencyInstaller(runner=pip)
    )
    assert read_member(package.data, "tinypkg/__init__.py") == "VERSION = '2.0'\n"


def test_a_comment_only_requirements_file_runs_no_pip(service, pip):
    """The requirements.txt `wsctl init` writes (comments only) costs nothing."""
    require(service, "# nothing yet\n\n")
    package = build_package(
        parse_spec_file(service / "wsctl.toml"), installer=installer_for(pip, service)
    )
    assert pip.calls == []
    assert names_in(package.data) == ["handler.py", "requirements.txt"]


def test_a_pip_failure_is_one_line_with_pips_reason(service, wheelhouse, pip, isolated_environment):
    """A requirement with no wheel fails with pip's last error line, and caches nothing."""
    require(service, "nosuchpkg==9.9\n")
    with pytest.raises(WsctlError) as caught:
        build_package(
            parse_spec_file(service / "wsctl.toml"), installer=installer_for(pip, wheelhouse)
        )
    message = str(caught.value)
    assert "\n" not in message
    assert "Installing requirements.txt for Lambda (python3.12, x86_64) failed:" in message
    assert "nosuchpkg was not found" in message and "nosuchpkg==9.9" in message
    assert not list((isolated_environment / "cache" / "deps").iterdir())


def test_pip_error_line_is_taken_from_an_injected_runner(service):
    """The last ERROR: line of pip's output is the one quoted."""
    require(service, "anything\n")
    output = "ERROR: first problem\nnoise\nERROR: Could not find a version that satisfies x\n"
    installer = DependencyInstaller(runner=lambda args: PipResult(1, "", output))
    with pytest.raises(WsctlError, match=r"failed: Could not find a version that satisfies x \("):
        build_package(parse_spec_file(service / "wsctl.toml"), installer=installer)


def test_the_zip_is_deterministic(service, wheelhouse, pip, isolated_environment):
    """Same input, same bytes: entries sorted, timestamps and modes fixed, whatever mtimes."""
    require(service, "tinypkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    first = build_package(spec, installer=installer_for(pip, wheelhouse))
    handler = service / "lambda_code" / "handler.py"
    handler.write_text(handler.read_text())  # new mtime, same content
    (service / "lambda_code" / "__pycache__").mkdir()
    (service / "lambda_code" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    shutil.rmtree(isolated_environment / "cache" / "packages")  # zip it again for real
    second = build_package(spec, installer=installer_for(pip, wheelhouse))
    assert not second.from_cache
    assert second.data == first.data
    infos = zipfile.ZipFile(io.BytesIO(first.data)).infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o644}


def test_a_code_change_changes_the_sha(service):
    """Editing a handler changes the package's SHA-256, so `up` uploads it."""
    spec = parse_spec_file(service / "wsctl.toml")
    before = build_package(spec).sha256
    (service / "lambda_code" / "handler.py").write_text("def default(event, context): 1\n")
    assert build_package(spec).sha256 != before


def test_code_wins_over_a_dependency_file_of_the_same_path(service, wheelhouse, pip):
    """A dependency shipping handler.py does not replace the user's; the clash is reported."""
    require(service, "clashpkg==1.0\n")
    package = build_package(
        parse_spec_file(service / "wsctl.toml"), installer=installer_for(pip, wheelhouse)
    )
    assert read_member(package.data, "handler.py") == "def default(event, context): ...\n"
    assert package.shadowed == ("handler.py",)


def test_merge_entries_prefers_code():
    """merge_entries keeps the code path on a clash and lists the clash."""
    code = {"a.py": Path("code/a.py")}
    deps = {"a.py": Path("deps/a.py"), "b.py": Path("deps/b.py")}
    merged, shadowed = merge_entries(code, deps)
    assert merged == {"a.py": Path("code/a.py"), "b.py": Path("deps/b.py")}
    assert shadowed == ("a.py",)


def test_over_the_zipped_limit_says_by_how_much(service):
    """A package over the zipped limit is refused, naming the size and the excess."""
    (service / "lambda_code" / "blob.bin").write_bytes(hashlib.sha512(b"x").digest() * 64)
    spec = parse_spec_file(service / "wsctl.toml")
    size = build_package(spec).size
    with pytest.raises(WsctlError) as caught:
        build_package(spec, limits=PackageLimits(zipped=size - 100, unzipped=10**9))
    message = str(caught.value)
    assert "zipped" in message
    assert "(100 bytes) over Lambda's" in message


def test_over_the_unzipped_limit_says_by_how_much(service):
    """A package whose files exceed the unzipped limit is refused with the excess."""
    (service / "lambda_code" / "zeros.bin").write_bytes(bytes(5000))
    spec = parse_spec_file(service / "wsctl.toml")
    total = sum(p.stat().st_size for p in (service / "lambda_code").iterdir())
    with pytest.raises(WsctlError) as caught:
        build_package(spec, limits=PackageLimits(zipped=10**9, unzipped=total - 10))
    assert "unzipped, 0.0 MB (10 bytes) over Lambda's" in str(caught.value)


def test_the_same_code_elsewhere_zips_to_the_same_bytes(service, tmp_path_factory):
    """A copy of the service in another directory, made later, packages identically."""
    copy = tmp_path_factory.mktemp("copy") / "svc"
    shutil.copytree(service, copy)
    first = build_package(parse_spec_file(service / "wsctl.toml"))
    (copy / "lambda_code" / "handler.py").touch()
    shutil.rmtree(state.home() / "cache" / "packages")
    second = build_package(parse_spec_file(copy / "wsctl.toml"))
    assert not second.from_cache
    assert second.data == first.data


def test_an_unchanged_build_is_read_back_not_zipped_again(service, fake_pip):
    """The second identical build comes from the package cache; a code change rebuilds."""
    require(service, "tinypkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    first = build_package(spec, installer=DependencyInstaller(runner=fake_pip))
    again = build_package(spec, installer=DependencyInstaller(runner=fake_pip))
    assert (first.from_cache, again.from_cache) == (False, True)
    assert again.data == first.data
    assert (again.unzipped_size, again.shadowed) == (first.unzipped_size, first.shadowed)
    (service / "lambda_code" / "handler.py").write_text("def default(event, context): 2\n")
    changed = build_package(spec, installer=DependencyInstaller(runner=fake_pip))
    assert not changed.from_cache
    assert changed.sha256 != first.sha256
    assert len(fake_pip.calls) == 1


def test_a_cached_package_is_still_held_to_the_limits(service):
    """Limits apply to a package read back from the cache too."""
    spec = parse_spec_file(service / "wsctl.toml")
    package = build_package(spec)
    with pytest.raises(WsctlError, match="over Lambda's"):
        build_package(spec, limits=PackageLimits(zipped=package.size - 1, unzipped=10**9))


def test_a_corrupt_cached_package_is_rebuilt(service):
    """A cached zip whose bytes do not match its recorded hash is ignored."""
    spec = parse_spec_file(service / "wsctl.toml")
    first = build_package(spec)
    [cached] = (state.home() / "cache" / "packages").glob("*.zip")
    cached.write_bytes(b"garbage")
    again = build_package(spec)
    assert not again.from_cache
    assert again.data == first.data


def test_the_package_cache_keeps_only_the_latest(service):
    """Old packages are pruned: at most KEPT_PACKAGES zips stay."""
    spec = parse_spec_file(service / "wsctl.toml")
    for n in range(KEPT_PACKAGES + 3):
        (service / "lambda_code" / "version.py").write_text(f"N = {n}\n")
        build_package(spec)
    assert len(list((state.home() / "cache" / "packages").glob("*.zip"))) == KEPT_PACKAGES


def test_up_deploys_the_requirements_and_a_second_up_installs_nothing(
    cli, service, wheelhouse, monkeypatch
):
    """`up` ships tinypkg in the function's code; the next `up` runs no pip and uploads nothing."""
    pip = CountingPip()
    monkeypatch.setattr("wsctl.dependencies.run_pip", pip)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    operations: list[str] = []
    # Every botocore session wsctl creates records its calls (moto hooks in the same way).
    record = ("before-call.lambda", lambda model, **kwargs: operations.append(model.name))
    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, record]
    )
    require(service, "tinypkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    config = str(service / "wsctl.toml")
    with mock_aws():
        first = cli("up", "--config", config)
        assert first.exit_code == 0, first.stderr
        assert len(pip.calls) == 1
        assert "CreateFunction" in operations
        lam = boto3.client("lambda", region_name="us-east-1")
        deployed = lam.get_function(FunctionName="svc-dev-default")["Configuration"]
        operations.clear()
        second = cli("up", "--config", config)
        assert second.exit_code == 0, second.stderr
    assert len(pip.calls) == 1
    assert operations and "UpdateFunctionCode" not in operations
    package = build_package(spec)
    assert package.from_cache
    assert deployed["CodeSha256"] == package.sha256
    assert read_member(package.data, "tinypkg/__init__.py") == "VERSION = '1.0'\n"


def test_installing_says_what_it_does_and_a_cache_hit_says_nothing(service, fake_pip):
    """A pip run is announced on the console (it can take a while); a cache hit is silent."""
    require(service, "tinypkg==1.0\nclashpkg==1.0\n")
    spec = parse_spec_file(service / "wsctl.toml")
    said = io.StringIO()
    installer = DependencyInstaller(runner=fake_pip)
    installer.console = Console(file=said, width=200)
    build_package(spec, installer=installer)
    assert "Installing 2 requirement(s) of requirements.txt for Lambda (python3.12, x86_64)" in (
        said.getvalue()
    )
    said.truncate(0)
    said.seek(0)
    build_package(spec, installer=installer)
    assert said.getvalue() == ""


def test_dotfiles_and_dot_directories_are_left_out(service):
    """.env (secrets), .venv, .git and .wsctl never reach the package."""
    code = service / "lambda_code"
    (code / ".env").write_text("SECRET=1\n")
    for directory in (".venv", ".git", ".wsctl"):
        (code / directory).mkdir()
        (code / directory / "inside.py").write_text("x = 1\n")
    (code / "pkg").mkdir()
    (code / "pkg" / ".hidden").write_text("x\n")
    (code / "pkg" / "mod.py").write_text("x = 1\n")
    package = build_package(parse_spec_file(service / "wsctl.toml"))
    assert names_in(package.data) == ["handler.py", "pkg/mod.py"]


def test_symlinks_leaving_the_code_directory_are_left_out(service, tmp_path_factory):
    """A symlink to a file outside lambda_code/ (it could be ~/.aws/credentials) is skipped;
    one to a file inside is packaged as that file; symlinked directories are not followed."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "credentials").write_text("aws_secret_access_key = x\n")
    code = service / "lambda_code"
    (code / "creds.txt").symlink_to(outside / "credentials")
    (code / "alias.py").symlink_to(code / "handler.py")
    (code / "linked_dir").symlink_to(outside, target_is_directory=True)
    package = build_package(parse_spec_file(service / "wsctl.toml"))
    assert names_in(package.data) == ["alias.py", "handler.py"]
    assert read_member(package.data, "alias.py") == (code / "handler.py").read_text()


def test_non_regular_files_are_left_out(service):
    """A FIFO in the code directory is skipped (reading it would block the build)."""
    import os

    os.mkfifo(service / "lambda_code" / "pipe")
    package = build_package(parse_spec_file(service / "wsctl.toml"))
    assert names_in(package.data) == ["handler.py"]


def test_the_ignore_file_is_honoured(service):
    """.wsctlignore: a glob on names, a path glob, and a directory pattern; comments allowed."""
    code = service / "lambda_code"
    (code / ".wsctlignore").write_text("# not for Lambda\n*.md\ntests/\ndata/*.csv\n")
    (code / "NOTES.md").write_text("notes\n")
    (code / "tests").mkdir()
    (code / "tests" / "test_handler.py").write_text("def test(): ...\n")
    (code / "data").mkdir()
    (code / "data" / "big.csv").write_text("a,b\n")
    (code / "data" / "keep.json").write_text("{}\n")
    package = build_package(parse_spec_file(service / "wsctl.toml"))
    assert names_in(package.data) == ["data/keep.json", "handler.py"]
