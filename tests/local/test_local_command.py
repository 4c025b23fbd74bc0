"""``wsctl demo`` through the CLI."""


def test_demo_narrates_and_exits_0(cli):
    """The demo connects three clients, broadcasts, lists, sends, and leaves no records."""
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    assert '"delivered": 3' in result.stdout
    assert "3 connections" in result.stdout
    assert "hi alice" in result.stdout
    assert "0 record(s) left" in result.stdout
