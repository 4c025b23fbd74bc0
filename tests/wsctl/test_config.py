"""wsctl.toml: parsing into a ServiceSpec, and one clear line for every mistake."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from wsctl.config import (
    MAX_ROUTES,
    PREDEFINED_ROUTES,
    bundled_service_dir,
    load_spec,
    parse_spec,
    parse_spec_file,
)
from wsctl.errors import ConfigError
from wsctl.options import resolve_spec

HANDLER = """\
def connect(event, context):
    return {"statusCode": 200}


def default(event, context):
    return {"statusCode": 200}
"""

CONFIG = """\
[stack]
name = "chat"
stage = "dev"
region = "eu-west-1"

[functions.connect]
handler = "handler.connect"
memory = 256
timeout = 10
permissions = ["dynamodb:PutItem"]

[functions.default]
handler = "handler.default"

[routes]
"$connect" = "connect"
"$default" = "default"
hello = "default"
"""


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A minimal valid service: wsctl.toml and lambda_code/handler.py."""
    (tmp_path / "lambda_code").mkdir()
    (tmp_path / "lambda_code" / "handler.py").write_text(HANDLER)
    (tmp_path / "wsctl.toml").write_text(CONFIG)
    return tmp_path


def parse_with(service: Path, old: str, new: str):
    """Parse the service's wsctl.toml after replacing ``old`` by ``new`` in it."""
    text = CONFIG.replace(old, new)
    assert text != CONFIG or old == new
    source = service / "wsctl.toml"
    source.write_text(text)
    return parse_spec(tomllib.loads(text), source)


def error_of(service: Path, old: str, new: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_with(service, old, new)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_valid_file_becomes_a_spec(service):
    """Every field of a valid wsctl.toml lands in the spec; code is beside the file."""
    spec = parse_spec_file(service / "wsctl.toml")
    assert spec.stack == "chat-dev"
    assert spec.region == "eu-west-1"
    assert spec.functions["connect"].memory == 256
    assert spec.functions["connect"].permissions == ("dynamodb:PutItem",)
    assert spec.functions["default"].memory == 128
    assert dict(spec.routes) == {"$connect": "connect", "$default": "default", "hello": "default"}
    assert spec.code_dir == (service / "lambda_code").resolve()
    assert spec.code_dir.is_absolute()
    assert spec.requirements_file == spec.code_dir / "requirements.txt"


def test_the_bundled_service_parses():
    """The bundled wsctl.toml is valid and routes every predefined route."""
    spec = parse_spec_file(bundled_service_dir() / "wsctl.toml")
    assert set(PREDEFINED_ROUTES) <= set(spec.routes)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('stage = "dev"', 'stage = "dev"\ncolour = "blue"', "unknown key 'colour'"),
        ("[routes]", "[extras]\nx = 1\n[routes]", "unknown key 'extras'"),
        ("memory = 256", "memory = 256\nmemroy = 1", "unknown key 'memroy'"),
        ('name = "chat"', "name = 7", "[stack] name: must be a string"),
        ('name = "chat"', 'name = "9lives"', "name '9lives': use letters, digits and '-'"),
        ('name = "chat"', 'name = "my_chat"', "name 'my_chat'"),
        ('stage = "dev"', 'stage = "d e v"', "stage 'd e v'"),
        ('region = "eu-west-1"', 'region = "Europe"', "region 'Europe': not an AWS region"),
        ('stage = "dev"', 'stage = "dev"\nruntime = "python2.7"', "runtime: 'python2.7'"),
        ('stage = "dev"', 'stage = "dev"\nauth = "password"', "auth: 'password'"),
        ('stage = "dev"', 'stage = "dev"\narchitecture = "x86"', "architecture: 'x86'"),
        ("memory = 256", "memory = 64", "memory: must be a whole number from 128 to 10240"),
        ("memory = 256", 'memory = "256"', "memory: must be a whole number"),
        ("memory = 256", "memory = true", "memory: must be a whole number"),
        ("timeout = 10", "timeout = 901", "timeout: must be a whole number from 1 to 900"),
        ('["dynamodb:PutItem"]', '"dynamodb:PutItem"', "permissions: must be a list of strings"),
        ('["dynamodb:PutItem"]', '["s3:GetObject"]', "'s3:GetObject' is not allowed"),
        ('["dynamodb:PutItem"]', '["dynamodb:*"]', "'dynamodb:*' is not allowed"),
        ('handler = "handler.connect"', 'handler = "connect"', "must be 'module.function'"),
        ("[functions.default]", "[functions.2default]", "[functions.2default]"),
    ],
)
def test_a_mistake_is_one_line_naming_the_key(service, old, new, expected):
    """Unknown keys, wrong types and bad names: one line with the key and what is allowed."""
    assert expected in error_of(service, old, new)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ('"$join"', "API Gateway reserves '$' for $connect, $disconnect, $default"),
        ('"$CONNECT"', "API Gateway reserves '$'"),
        ('""', "a route key is 1 to 128 printable ASCII characters without spaces"),
        ('"say hello"', "without spaces"),
        ('"' + "a" * 129 + '"', "1 to 128"),
    ],
)
def test_a_route_key_api_gateway_refuses_is_rejected(service, key, expected):
    """Route keys API Gateway would refuse ('$' outside its own routes) are caught early."""
    assert expected in error_of(service, "hello = ", f"{key} = ")


INVOKING = '["dynamodb:PutItem", "lambda:InvokeFunction"]'


def test_invokes_names_the_functions_a_function_may_invoke(service):
    """invokes with lambda:InvokeFunction parses into the function's spec."""
    spec = parse_with(
        service, '["dynamodb:PutItem"]', INVOKING + '\ninvokes = ["default", "connect"]'
    )
    assert spec.functions["connect"].invokes == ("connect", "default")
    assert spec.functions["default"].invokes == ()


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (INVOKING + '\ninvokes = ["nope"]', "invokes: 'nope' is not a function in [functions]"),
        (INVOKING + '\ninvokes = "default"', "invokes: must be a list of function names"),
        ('["dynamodb:PutItem"]\ninvokes = ["default"]', "add 'lambda:InvokeFunction'"),
        (INVOKING, "lambda:InvokeFunction needs invokes = [...]"),
    ],
)
def test_invokes_and_its_permission_go_together(service, new, expected):
    """invokes naming no function, or without the permission (or the reverse): one line."""
    message = error_of(service, '["dynamodb:PutItem"]', new)
    assert "[functions.connect]" in message
    assert expected in message


def test_a_route_key_with_punctuation_is_accepted(service):
    """API Gateway takes '/', '-', '_' and '.' in custom route keys; so does wsctl."""
    spec = parse_with(service, "hello = ", '"chat/room-1_v2.join" = ')
    assert spec.routes["chat/room-1_v2.join"] == "default"


def test_a_route_naming_a_missing_function_lists_the_defined_ones(service):
    """A route to an undefined function names it and the functions that exist."""
    message = error_of(service, 'hello = "default"', 'hello = "greeter"')
    assert "[routes] 'hello': names function 'greeter', which is not defined" in message
    assert "defined: connect, default" in message


def test_a_dotted_route_key_gets_a_hint_to_quote_it(service):
    """`a.b = "f"` is a nested TOML table; the error says to quote the key."""
    message = error_of(service, 'hello = "default"', 'chat.join = "default"')
    assert "[routes] 'chat': must be a function name; quote a key that contains dots" in message


def test_a_route_to_a_non_string_says_what_is_allowed(service):
    """A route mapped to a number asks for a function name and lists the choices."""
    message = error_of(service, 'hello = "default"', "hello = 3")
    assert "[routes] 'hello': must be a function name (a string), one of connect, default" in (
        message
    )


def test_more_routes_than_api_gateway_allows_is_an_error(service):
    """API Gateway's default quota is 300 routes per API."""
    extra = "".join(f'r{i} = "default"\n' for i in range(MAX_ROUTES))
    message = error_of(service, 'hello = "default"\n', extra)
    assert f"has {MAX_ROUTES + 2} routes; API Gateway allows {MAX_ROUTES}" in message


def test_empty_routes_and_functions_are_errors(service):
    """A service with no function, or no route, is refused with what to add."""
    text = CONFIG.split("[routes]")[0] + "[routes]\n"
    with pytest.raises(ConfigError, match=r"\[routes\] is empty"):
        parse_spec(tomllib.loads(text), service / "wsctl.toml")
    with pytest.raises(ConfigError, match=r"\[functions\] is empty"):
        parse_spec({"stack": {}, "routes": {"$default": "x"}}, service / "wsctl.toml")


def test_a_handler_module_that_does_not_exist(service):
    """A handler in a missing module names the file it looked for."""
    message = error_of(service, 'handler = "handler.default"', 'handler = "chat.default"')
    assert "handler: 'chat.default' cannot be imported: no lambda_code/chat.py" in message


def test_a_handler_function_that_does_not_exist(service):
    """A handler naming a function the module lacks says so."""
    message = error_of(service, 'handler = "handler.default"', 'handler = "handler.nothing"')
    assert "'handler.nothing' cannot be imported: handler.py defines no nothing()" in message


def test_a_handler_module_with_a_syntax_error(service):
    """A module that would not compile is reported with its line."""
    (service / "lambda_code" / "handler.py").write_text(HANDLER + "\ndef broken(:\n")
    message = error_of(service, "hello", "hello")
    assert "cannot be imported: syntax error in handler.py line 8" in message


def test_handlers_bound_by_import_assignment_or_package_are_found(service):
    """Handlers re-exported by import, assigned, or in a package's __init__ are importable."""
    code = service / "lambda_code"
    (code / "handler.py").write_text(
        "from impl import connect\n"
        "import json as default_json\n"
        "try:\n    from fast import default\nexcept ImportError:\n    default = None\n"
    )
    (code / "api").mkdir()
    (code / "api" / "__init__.py").write_text("class greet:\n    pass\n")
    spec = parse_with(service, '"$default" = "default"', '"$default" = "default"')
    assert spec.functions["default"].handler == "handler.default"
    spec = parse_with(service, 'handler = "handler.default"', 'handler = "api.greet"')
    assert spec.functions["default"].module == "api"


def test_a_handler_module_is_never_imported(service):
    """Checking handlers reads their source: module-level code does not run."""
    marker = service / "ran"
    (service / "lambda_code" / "handler.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n" + HANDLER
    )
    parse_spec_file(service / "wsctl.toml")
    assert not marker.exists()


def test_resource_names_over_64_characters_are_refused(service):
    """{name}-{stage}-{function} must fit Lambda's and IAM's 64 characters."""
    message = error_of(service, 'name = "chat"', f'name = "{"c" * 60}"')
    assert "characters; AWS allows 64" in message


def test_invalid_toml_is_one_line(service):
    """A TOML syntax error is reported as one line with the file."""
    (service / "wsctl.toml").write_text("[stack\nname = 1\n")
    with pytest.raises(ConfigError) as caught:
        parse_spec_file(service / "wsctl.toml")
    assert "not valid TOML" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_spec_prefers_config_then_cwd_then_bundled(service, tmp_path_factory):
    """--config wins; else ./wsctl.toml; else the bundled service."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert load_spec(cwd=service).name == "chat"
    assert load_spec(cwd=elsewhere).source == bundled_service_dir() / "wsctl.toml"
    assert load_spec(service / "wsctl.toml", cwd=elsewhere).name == "chat"
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(elsewhere / "missing.toml")


def test_resolve_spec_reads_cwd_and_flags_override(service, monkeypatch):
    """Commands read ./wsctl.toml; --stage/--name/--region/--auth override it."""
    monkeypatch.chdir(service)
    spec = resolve_spec(None)
    assert (spec.name, spec.stage, spec.region) == ("chat", "dev", "eu-west-1")
    spec = resolve_spec(None, name="talk", stage="prod", region="us-west-2", auth="token")
    assert (spec.stack, spec.region, spec.auth) == ("talk-prod", "us-west-2", "token")
    assert spec.routes == parse_spec_file(service / "wsctl.toml").routes


def test_resolve_spec_with_config_from_another_directory(service, tmp_path_factory, monkeypatch):
    """--config points at a service elsewhere; its code is found beside that file."""
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    spec = resolve_spec(service / "wsctl.toml")
    assert spec.name == "chat"
    assert (spec.code_dir / "handler.py").is_file()


def test_bad_override_flags_are_config_errors(service, monkeypatch):
    """An invalid --name, --region or --auth is refused like a bad file."""
    monkeypatch.chdir(service)
    with pytest.raises(ConfigError, match="name 'no spaces'"):
        resolve_spec(None, name="no spaces")
    with pytest.raises(ConfigError, match="region 'mars'"):
        resolve_spec(None, region="mars")
    with pytest.raises(ConfigError, match="auth must be one of"):
        resolve_spec(None, auth="basic")


@pytest.mark.parametrize("auth", ["token", "iam"])
def test_auth_without_a_connect_route_is_refused(service, auth):
    """Token and IAM auth are checked on $connect; without that route anyone could connect."""
    text = CONFIG.replace('"$connect" = "connect"\n', "").replace(
        'stage = "dev"', f'stage = "dev"\nauth = "{auth}"'
    )
    with pytest.raises(ConfigError, match=rf"auth '{auth}': needs a '\$connect' route"):
        parse_spec(tomllib.loads(text), service / "wsctl.toml")


def test_an_auth_flag_without_a_connect_route_is_refused(service):
    """--auth iam on a service with no $connect route is refused like the file would be."""
    text = CONFIG.replace('"$connect" = "connect"\n', "")
    spec = parse_spec(tomllib.loads(text), service / "wsctl.toml")
    with pytest.raises(ConfigError, match=r"--auth 'iam': needs a '\$connect' route"):
        spec.with_overrides(auth="iam")


def test_local_table_sets_port_timers_quotas_and_origins(service):
    """[local]: port, timers (seconds), quotas (bytes) and allowed origins are read."""
    data = tomllib.loads(
        CONFIG
        + "\n[local]\nport = 9001\nidle_timeout = 2.5\nmax_lifetime = 60\n"
        + "integration_timeout = 5\nmessage_bytes = 65536\n"
        + 'allow_origins = ["http://localhost:3000"]\n'
    )
    local = parse_spec(data, service / "wsctl.toml").local
    assert (local.port, local.idle_timeout, local.max_lifetime) == (9001, 2.5, 60)
    assert (local.integration_timeout, local.message_bytes) == (5, 65536)
    assert local.frame_bytes is None
    assert local.allow_origins == ("http://localhost:3000",)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("idle_timeout = 601", "[local] idle_timeout: must be a number of seconds above 0"),
        ("integration_timeout = 0", "at most 29"),
        ("message_bytes = 131073", "[local] message_bytes: must be a number of bytes"),
        ("frame_bytes = 1.5", "[local] frame_bytes"),
        ("port = 70000", "[local] port: must be a whole number from 0 to 65535"),
        ("allow_origins = 'x'", "[local] allow_origins: must be a list"),
        ("idle = 3", "[local]: unknown key 'idle'"),
    ],
)
def test_local_table_refuses_more_than_aws_and_unknown_keys(service, line, expected):
    """[local] values above API Gateway's, of the wrong type, or unknown: one line."""
    with pytest.raises(ConfigError) as caught:
        parse_spec(tomllib.loads(CONFIG + f"\n[local]\n{line}\n"), service / "wsctl.toml")
    assert expected in str(caught.value) and "\n" not in str(caught.value)
