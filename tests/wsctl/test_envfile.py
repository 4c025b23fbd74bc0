"""env_file's KEY=VALUE format: comments, export, quotes, escapes; errors without values."""

from __future__ import annotations

import pytest

from wsctl.envfile import parse_env
from wsctl.errors import ConfigError


def test_the_common_forms_parse():
    """Blank lines, comments, export, single and double quotes, inline comments."""
    text = "\n".join(
        [
            "# a comment",
            "",
            "PLAIN=value",
            "export EXPORTED=1",
            "SPACED = around  ",
            "SINGLE='no $escapes \\n here'",
            'DOUBLE="line\\nbreak \\"quoted\\""',
            "INLINE=kept # dropped",
            "HASH=a#b",
            "EMPTY=",
            "QUOTED_HASH='a # b' # comment",
        ]
    )
    assert parse_env(text, "f") == {
        "PLAIN": "value",
        "EXPORTED": "1",
        "SPACED": "around",
        "SINGLE": "no $escapes \\n here",
        "DOUBLE": 'line\nbreak "quoted"',
        "INLINE": "kept",
        "HASH": "a#b",
        "EMPTY": "",
        "QUOTED_HASH": "a # b",
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("no equals sign", "f line 1: expected KEY=VALUE"),
        ("1ABC=x", "f line 1: expected KEY=VALUE"),
        ("KEY='secret", "f line 1 KEY: the quote ' is never closed"),
        ('KEY="secret', 'f line 1 KEY: the quote " is never closed'),
        ("KEY='secret' trailing", "f line 1 KEY: text after the closing quote"),
    ],
)
def test_bad_lines_name_the_line_and_key_never_the_value(line, expected):
    """Each malformed line is one error naming where; the value is never echoed."""
    with pytest.raises(ConfigError) as caught:
        parse_env(line, "f")
    assert str(caught.value) == expected
