"""Which endpoint client commands use, and when the stack's token goes with it."""

import os
import socket

import pytest

from wsctl import state
from wsctl.client.endpoint import resolve_endpoint
from wsctl.errors import WsctlError


@pytest.fixture
def live_local_record():
    """A local record that is alive: this process's pid and a port that accepts connections."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        record = state.LocalRecord(
            stack="wsctl-dev",
            pid=os.getpid(),
            port=port,
            stage="dev",
            url=f"ws://127.0.0.1:{port}/dev",
            management_url=f"http://127.0.0.1:{port}/dev",
            started_at=0.0,
            process_start=state.process_start(os.getpid()),
        )
        state.save_local(record)
        yield record


def test_no_endpoint_is_one_clear_error():
    """Without a URL, a local service or a deployed stack, the message says what to do."""
    with pytest.raises(WsctlError) as caught:
        resolve_endpoint(None, "wsctl-dev")
    assert str(caught.value) == (
        "No running local service or deployed stack for wsctl-dev: run `wsctl up --local` "
        "or `wsctl up`, or give a URL"
    )


def test_the_running_local_service_comes_first(live_local_record):
    """A live local record wins over a deployed stack."""
    state.save_deployed("wsctl-dev", {"url": "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"})
    endpoint = resolve_endpoint(None, "wsctl-dev")
    assert (endpoint.url, endpoint.source) == (live_local_record.url, "local")


def test_the_deployed_stack_is_next():
    """Without a local service, the deployed stack's recorded URL, auth mode and region are
    used."""
    url = "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"
    state.save_deployed("wsctl-dev", {"url": url, "auth": "iam", "region": "eu-west-1"})
    endpoint = resolve_endpoint(None, "wsctl-dev")
    assert (endpoint.url, endpoint.source, endpoint.auth, endpoint.region) == (
        url,
        "deployed",
        "iam",
        "eu-west-1",
    )


def test_the_token_goes_to_the_stack_endpoint_only(live_local_record):
    """The stack's local token comes with its own endpoint, given or found, never with another
    URL, and the deployed stack's token never goes to the local emulator."""
    state.save_token("wsctl-dev", "deployed-tok")
    state.save_token(state.local_token_key("wsctl-dev"), "tok")
    assert resolve_endpoint(None, "wsctl-dev").token == "tok"
    assert resolve_endpoint(live_local_record.url + "/", "wsctl-dev").token == "tok"
    assert resolve_endpoint("wss://elsewhere.example/", "wsctl-dev").token is None


def test_a_given_url_needs_no_stack():
    """A URL given by hand works with no state at all."""
    endpoint = resolve_endpoint("ws://127.0.0.1:1/", "wsctl-dev")
    assert (endpoint.url, endpoint.source, endpoint.stack) == ("ws://127.0.0.1:1/", "given", None)
