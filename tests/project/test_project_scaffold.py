"""`wsctl init` through the CLI, and a broken wsctl.toml seen by the commands that read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.dependencies import requirement_lines
from wsctl.errors import WsctlError
from wsctl.packaging import source_files
from wsctl.project.scaffold import NewFile, NewService, write_service

EXPECTED_FILES = {
    "wsctl.toml",
    "README.md",
    ".gitignore",
    "tests/test_service.py",
    "tests/test_authorizer.py",
    "lambda_code/authorizer.py",
    "lambda_code/requirements.txt",
} | {
    f"lambda_code/{p.relative_to(bundled_service_dir() / 'lambda_code').as_posix()}"
    for p in source_files(bundled_service_dir() / "lambda_code")
}


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_init_creates_a_service_from_the_bundled_one(cli, tmp_path):
    """init DIR writes wsctl.toml, the bundled handlers, a test, a README, requirements."""
    target = tmp_path / "chat"
    result = cli("init", str(target))
    assert result.exit_code == 0, result.stderr
    files = tree(target)
    assert set(files) == EXPECTED_FILES
    bundled_code = bundled_service_dir() / "lambda_code"
    for path in source_files(bundled_code):
        assert files[f"lambda_code/{path.relative_to(bundled_code).as_posix()}"] == (
            path.read_bytes()
        )
    assert requirement_lines(files["lambda_code/requirements.txt"].decode()) == []
    assert b"# chat" in files["README.md"]
    assert b"LocalService(spec, port=0)" in files["tests/test_service.py"]


def test_the_new_wsctl_toml_keeps_the_bundled_service_but_the_name(cli, tmp_path):
    """Stage, runtime, functions (memory, timeout, permissions), routes and auth carry over."""
    target = tmp_path / "Team Chat"
    assert cli("init", str(target)).exit_code == 0
    spec = parse_spec_file(target / CONFIG_FILE)
    bundled = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    assert spec.name == "team-chat"
    assert (spec.stage, spec.runtime, spec.auth) == (bundled.stage, bundled.runtime, bundled.auth)
    assert spec.functions == bundled.functions
    assert dict(spec.routes) == dict(bundled.routes)
    assert spec.code_dir == (target / "lambda_code").resolve()


def test_init_defaults_to_the_current_directory(cli, tmp_path, monkeypatch):
    """With no DIR, init fills the current directory, named after it."""
    here = tmp_path / "Cool App!"
    here.mkdir()
    monkeypatch.chdir(here)
    result = cli("init")
    assert result.exit_code == 0, result.stderr
    assert parse_spec_file(here / CONFIG_FILE).name == "cool-app"
    assert "cd " not in result.stdout


def test_init_prints_next_steps(cli, tmp_path, monkeypatch):
    """The output lists what was created and what to run next, from where the user is."""
    monkeypatch.chdir(tmp_path)
    result = cli("init", "my chat")
    assert "Created the service my-chat in my chat/" in result.stdout
    assert "cd 'my chat'" in result.stdout
    assert "wsctl up --local" in result.stdout
    assert "python -m pytest tests" in result.stdout


def test_init_takes_name_and_region(cli, tmp_path):
    """--name and --region are written into wsctl.toml."""
    target = tmp_path / "x"
    assert cli("init", str(target), "--name", "lobby", "--region", "eu-west-1").exit_code == 0
    spec = parse_spec_file(target / CONFIG_FILE)
    assert (spec.name, spec.region) == ("lobby", "eu-west-1")


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--name", "2fast", "name '2fast'"), ("--region", "moon-1", "region 'moon-1'")],
)
def test_init_refuses_a_bad_name_or_region(cli, tmp_path, flag, value, expected):
    """An invalid --name or --region exits 2 with one line, and writes nothing."""
    target = tmp_path / "svc"
    result = cli("init", str(target), flag, value)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


@pytest.mark.parametrize(
    "existing", ["README.md", "lambda_code/handler.py", "tests/test_service.py"]
)
def test_init_never_overwrites_and_writes_nothing(cli, tmp_path, existing):
    """One existing target file: exit 2, one line naming it, the directory untouched."""
    target = tmp_path / "svc"
    (target / existing).parent.mkdir(parents=True)
    (target / existing).write_text("mine\n")
    before = tree(target)
    result = cli("init", str(target))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(target / existing) in result.stderr
    assert "never overwrites" in result.stderr
    assert tree(target) == before


def test_init_refuses_when_a_file_is_in_the_way_of_a_directory(cli, tmp_path):
    """A file named `tests` where tests/ should go is reported, nothing is written."""
    target = tmp_path / "svc"
    target.mkdir()
    (target / "tests").write_text("not a directory\n")
    result = cli("init", str(target))
    assert result.exit_code == 2
    assert str(target / "tests") in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["tests"]


def test_init_into_a_file_is_refused(cli, tmp_path):
    """DIR that is a file: exit 2, one line."""
    target = tmp_path / "file"
    target.write_text("x")
    result = cli("init", str(target))
    assert result.exit_code == 2
    assert "is not a directory" in result.stderr


def test_init_beside_unrelated_files_keeps_them(cli, tmp_path):
    """A non-empty directory without clashing files is fine; its files stay as they were."""
    target = tmp_path / "svc"
    target.mkdir()
    (target / "notes.txt").write_text("keep me\n")
    assert cli("init", str(target)).exit_code == 0
    assert (target / "notes.txt").read_text() == "keep me\n"


# Every command that loads wsctl.toml reports a broken file the same way.
SPEC_COMMANDS = [
    ["validate"],
    ["token"],
    ["up"],
    ["up", "--local", "--port", "0"],
    ["down", "--yes"],
    ["status"],
    ["logs"],
    ["connections"],
    ["send", "hello"],
    ["broadcast", "hello"],
]

BREAKAGES = [
    ('stage = "dev"', 'stage = "dev"\nflavour = "x"', "[stack]: unknown key 'flavour'"),
    ("whoami = ", '"$whoami" = ', "[routes] '$whoami': API Gateway reserves '$'"),
    ("whoami = ", '"who am i" = ', "[routes] 'who am i': a route key is 1 to 128"),
    ('whoami = "default"', 'whoami = "whoever"', "[routes] 'whoami': names function 'whoever'"),
    ('handler = "handler.broadcast"', 'handler = "handler.shout"', "defines no shout()"),
    ('handler = "handler.broadcast"', 'handler = "chat.broadcast"', "no lambda_code/chat.py"),
    ("memory = 512", 'memory = "lots"', "[functions.broadcast] memory: must be a whole number"),
    ('name = "svc"', 'name = "svc_1"', "[stack] name 'svc_1': use letters, digits and '-'"),
    ('name = "svc"', 'name = "svc', "not valid TOML"),
    (
        '"$disconnect" = "disconnect"',
        '"$disconnect" = { function = "disconnect", respond = true }',
        "[routes] '$disconnect' respond: $disconnect cannot respond",
    ),
    ('whoami = "default"', "whoami = { respond = true }", "a route table needs 'function'"),
    (
        "# The svc service.",
        'authorizer = { function = "gatekeeper" }\n# The svc service.',
        "[authorizer] function: 'gatekeeper' is not defined",
    ),
    ('stage = "dev"', 'stage = "dev"\nenv_file = "gone.env"', "env_file: "),
    (
        'stage = "dev"',
        'stage = "dev"\nenvironment = { AWS_REGION = "x" }',
        "[stack.environment] AWS_REGION: reserved",
    ),
]


@pytest.fixture
def service(cli, tmp_path, monkeypatch) -> Path:
    """A service made by `wsctl init`, and the current directory set to it."""
    target = tmp_path / "svc"
    assert cli("init", str(target)).exit_code == 0
    monkeypatch.chdir(target)
    return target


@pytest.mark.parametrize("command", SPEC_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("old", "new", "expected"), BREAKAGES)
def test_a_broken_wsctl_toml_is_one_line_and_exit_2(cli, service, command, old, new, expected):
    """Commands reading a broken wsctl.toml exit 2 with one line naming the key, no traceback."""
    config = service / CONFIG_FILE
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    result = cli(*command)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert str(config.name) in result.stderr


def test_commands_read_wsctl_toml_from_the_current_directory(cli, service):
    """Run in the service directory, a command works on that service."""
    result = cli("validate", "--json")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["stack"] == "svc-dev"
    assert facts["config"] == str(service / CONFIG_FILE)


def test_flags_override_wsctl_toml(cli, service):
    """--stage, --name and --region win over the file."""
    result = cli(
        "validate", "--json", "--stage", "prod", "--name", "other", "--region", "us-west-2"
    )
    facts = json.loads(result.stdout)
    assert (facts["stack"], facts["region"]) == ("other-prod", "us-west-2")


def test_config_points_at_a_service_elsewhere(cli, service, tmp_path_factory, monkeypatch):
    """--config (or WSCTL_CONFIG) names the file when run from another directory."""
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    facts = json.loads(cli("validate", "--json", "--config", str(service / CONFIG_FILE)).stdout)
    assert facts["stack"] == "svc-dev"
    monkeypatch.setenv("WSCTL_CONFIG", str(service / CONFIG_FILE))
    assert json.loads(cli("validate", "--json").stdout)["stack"] == "svc-dev"


def test_without_wsctl_toml_the_bundled_service_is_used(cli, tmp_path, monkeypatch):
    """In a directory with no wsctl.toml, commands fall back to the bundled service."""
    monkeypatch.chdir(tmp_path)
    facts = json.loads(cli("validate", "--json").stdout)
    assert facts["config"] == str(bundled_service_dir() / CONFIG_FILE)


def test_a_route_added_to_wsctl_toml_shows_in_the_service(cli, service):
    """Routes are data: a new route and function in the file are part of the service."""
    (service / "lambda_code" / "greet.py").write_text("def hello(event, context): ...\n")
    with (service / CONFIG_FILE).open("a") as handle:
        handle.write('hello = "greeter"\n\n[functions.greeter]\nhandler = "greet.hello"\n')
    result = cli("validate")
    assert result.exit_code == 0, result.stderr
    assert "hello" in result.stdout
    assert "greeter (greet.hello)" in result.stdout


def test_validate_names_functions_no_route_calls(cli, service):
    """A function without a route is pointed out (it would be deployed for nothing)."""
    (service / "lambda_code" / "greet.py").write_text("def hello(event, context): ...\n")
    with (service / CONFIG_FILE).open("a") as handle:
        handle.write('\n[functions.greeter]\nhandler = "greet.hello"\n')
    result = cli("validate")
    assert "not called by any route: greeter" in result.stdout


def test_a_failure_midway_leaves_nothing_behind(tmp_path):
    """If a write fails after others succeeded, what init created is removed again."""
    target = tmp_path / "svc"
    target.mkdir()
    (target / "mine.txt").write_text("keep\n")
    spec = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    # "deep/x" is written as a file, so "deep/x/y" cannot be created under it.
    plan = NewService(
        target,
        spec,
        (NewFile("deep/a.txt", b"1"), NewFile("deep/x", b"2"), NewFile("deep/x/y", b"3")),
    )
    with pytest.raises(WsctlError, match="nothing was left behind"):
        write_service(plan)
    assert tree(target) == {"mine.txt": b"keep\n"}
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]


def test_a_directory_name_the_file_system_refuses_is_one_line(cli, tmp_path):
    """A DIR name too long for the file system fails with one line, not a traceback."""
    result = cli("init", str(tmp_path / ("n" * 300)))
    assert result.exit_code == 1
    assert "Cannot use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_directory_name_with_brackets_is_printed_as_is(cli, tmp_path, monkeypatch):
    """Output shows the directory the user named, even with characters rich treats as markup."""
    monkeypatch.chdir(tmp_path)
    result = cli("init", "[b]chat")
    assert result.exit_code == 0, result.stderr
    assert "in [b]chat/" in result.stdout
    assert parse_spec_file(tmp_path / "[b]chat" / CONFIG_FILE).name == "b-chat"


def test_validate_shows_variable_names_never_values(cli, service):
    """validate (and --json) list each function's variable names, two-way routes and the
    authorizer; no value ever appears."""
    secret = "value-that-must-stay-hidden"
    (service / ".env").write_text(f"API_KEY={secret}\n")
    config = service / CONFIG_FILE
    text = config.read_text().replace('stage = "dev"', 'stage = "dev"\nenv_file = ".env"', 1)
    text = text.replace('whoami = "default"', 'whoami = { function = "default", respond = true }')
    config.write_text(text + f'\n[functions.default.environment]\nMODE = "{secret}"\n')
    human = cli("validate")
    assert human.exit_code == 0, human.stderr
    assert "environment of default: API_KEY, MODE" in human.stdout
    assert "two-way" in human.stdout
    facts = json.loads(cli("validate", "--json").stdout)
    assert facts["functions"]["default"]["environment"] == ["API_KEY", "MODE"]
    assert facts["functions"]["connect"]["environment"] == ["API_KEY"]
    assert facts["respondRoutes"] == ["whoami"]
    assert secret not in human.stdout + human.stderr + json.dumps(facts)
