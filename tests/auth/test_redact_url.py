"""URLs fit to print: secrets in the query or the userinfo are replaced, the rest kept."""

from wsctl.auth import redact_url


def test_token_in_the_query_is_redacted_and_other_parameters_kept():
    """?token= loses its value; other parameters and their order stay as given."""
    assert redact_url("ws://h:1/dev?room=a&token=s3cret&x=1") == (
        "ws://h:1/dev?room=a&token=REDACTED&x=1"
    )


def test_presigned_url_secrets_are_redacted():
    """SigV4's session token and signature are redacted; the credential scope is kept."""
    url = (
        "wss://h/dev?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fexecute-api%2Faws4_request"
        "&X-Amz-Security-Token=sess&X-Amz-Signature=abc"
    )
    shown = redact_url(url)
    assert "sess" not in shown and "abc" not in shown
    assert "X-Amz-Credential=AKID%2F20260101" in shown


def test_encoded_parameter_names_are_recognised():
    """A percent-encoded 'token' name is still a token."""
    assert redact_url("ws://h/dev?%74oken=s3cret") == "ws://h/dev?%74oken=REDACTED"


def test_password_in_the_url_is_redacted():
    """ws://user:pass@host keeps the user and hides the password."""
    assert redact_url("ws://me:pw@h:8765/dev") == "ws://me:REDACTED@h:8765/dev"


def test_url_without_secrets_is_unchanged():
    """Nothing to hide: the URL comes back as it was."""
    for url in ("wss://abc.execute-api.eu-west-1.amazonaws.com/dev", "ws://h/dev?tokens=1&a"):
        assert redact_url(url) == url
