"""wsctl.project.render: a stack name from a directory name, and wsctl.toml from a spec."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsctl.config import MAX_RESOURCE_NAME, bundled_service_dir, parse_spec, parse_spec_file
from wsctl.project.render import render_config, stack_name_for

FUNCTIONS = ("connect", "disconnect", "default", "broadcast")


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("chat", "chat"),
        ("My Chat_App", "my-chat-app"),
        ("  --weird--name--  ", "weird-name"),
        ("café", "cafe"),
        ("2048", "ws-2048"),
        ("_private", "private"),
        ("日本", "service"),
        ("", "service"),
    ],
)
def test_stack_name_is_sanitised(directory, expected):
    """Directory names become letters, digits and '-', starting with a letter."""
    assert stack_name_for(directory, "dev", FUNCTIONS) == expected


def test_a_long_directory_name_is_cut_to_fit_aws_names():
    """The longest resource name {name}-{stage}-{function} fits in 64 characters."""
    name = stack_name_for("a-" * 60, "dev", FUNCTIONS)
    assert len(f"{name}-dev-disconnect") <= MAX_RESOURCE_NAME
    assert not name.endswith("-")
    assert name.startswith("a-a")


def _bundled():
    return parse_spec_file(bundled_service_dir() / "wsctl.toml")


def _round_trip(spec):
    return parse_spec(tomllib.loads(render_config(spec)), bundled_service_dir() / "wsctl.toml")


def test_rendered_config_round_trips_the_bundled_service():
    """Parsing the rendered wsctl.toml gives back the same service, field for field."""
    spec = replace(_bundled(), name="chat")
    again = _round_trip(spec)
    assert again == spec
    assert list(again.routes) == list(spec.routes)
    assert again.functions == spec.functions


def test_rendered_config_keeps_region_and_quotes_odd_route_keys():
    """A region is written; route keys needing quotes ('$connect', 'a.b', '"') are quoted."""
    bundled = _bundled()
    routes = {**bundled.routes, "chat.join": "default", 'say"hi': "default", "room/1": "default"}
    spec = replace(bundled, region="eu-west-1", routes=routes, auth="token", runtime="python3.13")
    again = _round_trip(spec)
    assert again.region == "eu-west-1"
    assert dict(again.routes) == routes
    assert (again.auth, again.runtime) == ("token", "python3.13")


def test_without_a_region_the_line_is_a_comment():
    """No region in the spec: the file shows how to set one, and parses with none."""
    text = render_config(_bundled())
    assert '# region = "eu-west-1"' in text
    assert tomllib.loads(text)["stack"].get("region") is None


def test_rendered_config_is_commented_for_its_reader():
    """The file explains the allowed values of the keys people edit."""
    text = render_config(_bundled())
    assert "none | token | iam" in text
    assert "python3.11 | python3.12 | python3.13" in text
    assert "execute-api:ManageConnections" in text


@given(st.text(max_size=200), st.sampled_from(["dev", "prod", "a" * 20]))
def test_any_directory_name_gives_a_name_wsctl_toml_accepts(directory, stage):
    """Whatever the directory is called, the derived name passes wsctl.toml's own checks."""
    name = stack_name_for(directory, stage, FUNCTIONS)
    spec = replace(_bundled(), source=None).with_overrides(name=name, stage=stage)
    assert spec.name == name


def test_rendered_config_declares_its_tables_and_shows_one_more_commented():
    """wsctl init's wsctl.toml declares the connections table, and its commented example of
    one more table parses (keys, TTL, an index, retain) once uncommented."""
    text = render_config(parse_spec_file(bundled_service_dir() / "wsctl.toml"))
    assert "[tables.connections]" in text and "# [tables.messages]" in text
    example = text.split("# [tables.messages]")[1].split("\n\n")[0]
    uncommented = "[tables.messages]" + "\n".join(
        line.removeprefix("# ") for line in example.splitlines()
    )
    tables = tomllib.loads(uncommented)["tables"]
    spec = parse_spec(
        {**tomllib.loads(text), "tables": {**tomllib.loads(text)["tables"], **tables}},
        bundled_service_dir() / "wsctl.toml",
    )
    messages = spec.tables["messages"]
    assert (messages.sort_key.type, messages.ttl, messages.retain) == ("N", "expires", True)
    assert [index.name for index in messages.indexes] == ["by_user"]
