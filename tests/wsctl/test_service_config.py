"""wsctl.toml for a service of one's own: environment, env_file, two-way routes, authorizer."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from wsctl.config import AuthorizerSpec, parse_spec
from wsctl.errors import ConfigError

HANDLER = """\
def connect(event, context):
    return {"statusCode": 200}


def default(event, context):
    return {"statusCode": 200}


def authorize(event, context):
    return {}
"""

CONFIG = """\
[stack]
name = "chat"
stage = "dev"

[stack.environment]
LOG_LEVEL = "info"
SHARED = "stack"

[functions.connect]
handler = "handler.connect"

[functions.default]
handler = "handler.default"

[functions.default.environment]
SHARED = "mine"
ONLY_DEFAULT = "yes"

[functions.authorize]
handler = "handler.authorize"

[routes]
"$connect" = "connect"
"$default" = "default"
hello = { function = "default", respond = true }
"""

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def service(tmp_path: Path) -> Path:
    (tmp_path / "lambda_code").mkdir()
    (tmp_path / "lambda_code" / "handler.py").write_text(HANDLER)
    return tmp_path


def parse(service: Path, text: str):
    source = service / "wsctl.toml"
    source.write_text(text)
    return parse_spec(tomllib.loads(text), source)


def error(service: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(service, text)
    message = str(caught.value)
    assert "\n" not in message
    assert SECRET not in message
    return message


def test_each_function_gets_the_stacks_variables_and_its_own_winning(service):
    """[stack.environment] reaches every function; [functions.X.environment] overrides it."""
    spec = parse(service, CONFIG)
    assert spec.functions["connect"].environment == {"LOG_LEVEL": "info", "SHARED": "stack"}
    assert spec.functions["default"].environment == {
        "LOG_LEVEL": "info",
        "SHARED": "mine",
        "ONLY_DEFAULT": "yes",
    }


def test_environment_values_never_appear_in_a_repr(service):
    """A spec printed (a debug line, a traceback's locals) shows no variable's value."""
    spec = parse(service, CONFIG.replace('"info"', f'"{SECRET}"'))
    assert SECRET not in repr(spec)
    assert SECRET not in repr(spec.functions["connect"])


def test_env_file_variables_reach_every_function_under_the_tomls_own(service):
    """env_file (beside wsctl.toml) is read for every function; [stack.environment] wins."""
    (service / "config").mkdir()
    (service / "config" / "app.env").write_text(
        "# settings\nexport FROM_FILE='one two'\nSHARED=file\nLOG_LEVEL=debug # inline\n"
    )
    spec = parse(
        service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nenv_file = "config/app.env"')
    )
    assert spec.functions["connect"].environment == {
        "FROM_FILE": "one two",
        "SHARED": "stack",
        "LOG_LEVEL": "info",
    }


def test_a_missing_env_file_names_the_key_and_the_file(service):
    """env_file naming no file: one line with [stack] env_file and the path."""
    message = error(service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nenv_file = ".env"'))
    assert "[stack] env_file" in message
    assert ".env: no such file" in message


def test_an_unreadable_env_file_is_one_line(service):
    """env_file pointing at a directory (unreadable as a file) is a one-line error."""
    (service / "secrets").mkdir()
    message = error(service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nenv_file = "secrets"'))
    assert "[stack] env_file" in message and "cannot read it" in message


def test_a_bad_env_file_line_names_the_line_but_never_the_value(service):
    """A broken line in env_file: file, line number and key; the value stays hidden."""
    (service / ".env").write_text(f'GOOD=1\nTOKEN="{SECRET}\n')
    message = error(service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nenv_file = ".env"'))
    assert "line 2 TOKEN" in message and "never closed" in message


@pytest.mark.parametrize(
    "name",
    ["AWS_REGION", "_HANDLER", "AWS_LAMBDA_FUNCTION_NAME", "AWS_SECRET_ACCESS_KEY", "WSCTL_TABLE"],
)
def test_reserved_names_are_refused(service, name):
    """Names Lambda (or wsctl) sets itself are a one-line error naming the variable."""
    message = error(service, CONFIG.replace('LOG_LEVEL = "info"', f'{name} = "{SECRET}"'))
    assert f"[stack.environment] {name}: reserved" in message


def test_reserved_names_are_refused_in_env_file_and_function_tables(service):
    """The same check holds for env_file and for a function's own table."""
    (service / ".env").write_text(f"AWS_LAMBDA_RUNTIME_API={SECRET}\n")
    message = error(service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nenv_file = ".env"'))
    assert "env_file AWS_LAMBDA_RUNTIME_API: reserved" in message
    message = error(service, CONFIG.replace('ONLY_DEFAULT = "yes"', f'TZ = "{SECRET}"'))
    assert "[functions.default.environment] TZ: reserved" in message


def test_a_non_string_value_is_refused_without_echoing_it(service):
    """Lambda variables are strings: a number is refused with a hint to quote it."""
    message = error(service, CONFIG.replace('ONLY_DEFAULT = "yes"', "WORKERS = 64"))
    assert "[functions.default.environment] WORKERS: must be a string" in message


def test_a_name_lambda_would_refuse_is_refused(service):
    """Variable names are a letter then letters, digits and '_', as Lambda's API requires."""
    message = error(service, CONFIG.replace('ONLY_DEFAULT = "yes"', '"MY-VAR" = "x"'))
    assert "'MY-VAR': a variable name is a letter" in message


def test_too_many_bytes_of_environment_is_refused(service):
    """Over Lambda's 4 KB (less what wsctl keeps) is refused before any deploy."""
    message = error(service, CONFIG.replace('ONLY_DEFAULT = "yes"', f'BIG = "{"x" * 4000}"'))
    assert "[functions.default.environment]" in message and "4 KB" in message


def test_two_way_routes_are_noted_and_one_way_routes_are_not(service):
    """`{ function = ..., respond = true }` makes a two-way route; plain strings stay one-way."""
    spec = parse(service, CONFIG)
    assert spec.routes["hello"] == "default"
    assert spec.respond_routes == frozenset({"hello"})


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("hello = { respond = true }", "[routes] 'hello': a route table needs 'function'"),
        ('hello = { function = "default", respond = "yes" }', "respond: must be true or false"),
        ('hello = { function = "default", reply = true }', "unknown key 'reply'"),
        ('hello = { function = "nobody" }', "names function 'nobody', which is not defined"),
        (
            '"$disconnect" = { function = "default", respond = true }',
            "[routes] '$disconnect' respond: $disconnect cannot respond",
        ),
    ],
)
def test_bad_route_tables_are_one_line_naming_the_route(service, route, expected):
    """A route table without function, a bad respond, an unknown key: one line each."""
    assert expected in error(
        service, CONFIG.replace('hello = { function = "default", respond = true }', route)
    )


AUTHORIZER = """
[authorizer]
function = "authorize"
identity_sources = ["route.request.header.Authorization", "route.request.querystring.token"]
"""


def test_a_custom_authorizer_is_parsed(service):
    """auth = "custom" with [authorizer]: its function and identity sources are in the spec."""
    spec = parse(
        service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nauth = "custom"') + AUTHORIZER
    )
    assert spec.auth == "custom"
    assert spec.authorizer == AuthorizerSpec(
        "authorize", ("route.request.header.Authorization", "route.request.querystring.token")
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'function = "authorize"',
            'function = "gatekeeper"',
            "[authorizer] function: 'gatekeeper' is not defined",
        ),
        ('function = "authorize"', "function = 3", "[authorizer] function: must name a function"),
        (
            "route.request.querystring.token",
            "stageVariables.token",
            "'stageVariables.token' is not supported",
        ),
        (
            "route.request.querystring.token",
            "route.request.header.",
            "'route.request.header.' is not supported",
        ),
        (
            'function = "authorize"',
            'function = "authorize"\nttl = 300',
            "[authorizer]: unknown key 'ttl'",
        ),
    ],
)
def test_bad_authorizers_are_one_line_naming_the_key(service, old, new, expected):
    """A missing function, an unsupported identity source, an unknown key: one line each."""
    text = CONFIG.replace('stage = "dev"', 'stage = "dev"\nauth = "custom"') + AUTHORIZER
    assert expected in error(service, text.replace(old, new))


def test_custom_auth_needs_an_authorizer_and_an_authorizer_needs_custom_auth(service):
    """auth = "custom" without [authorizer], or [authorizer] under another auth: refused."""
    custom = CONFIG.replace('stage = "dev"', 'stage = "dev"\nauth = "custom"')
    assert "needs an [authorizer] table" in error(service, custom)
    assert "[authorizer] is used only with auth = 'custom'" in error(service, CONFIG + AUTHORIZER)


def test_auth_flag_other_than_custom_drops_the_authorizer(service):
    """--auth token on a custom service uses the built-in authorizer, not [authorizer]."""
    spec = parse(
        service, CONFIG.replace('stage = "dev"', 'stage = "dev"\nauth = "custom"') + AUTHORIZER
    )
    assert spec.with_overrides(auth="token").authorizer is None
    with pytest.raises(ConfigError, match="needs an \\[authorizer\\]"):
        parse(service, CONFIG).with_overrides(auth="custom")


def test_token_auth_counts_the_builtin_authorizer_in_name_lengths(service):
    """auth = "token" deploys wsctl-auth too: a stack name too long for it is refused early."""
    name = "n" * 50
    text = CONFIG.replace('name = "chat"', f'name = "{name}"')
    assert parse(service, text).name == name  # fits without the built-in authorizer
    message = error(service, text.replace('stage = "dev"', 'stage = "dev"\nauth = "token"'))
    assert f"{name}-dev-wsctl-auth" in message and "AWS allows 64" in message
