"""The sandbox's side of its pipe (``_Channel``), against a stand-in emulator on a real pipe."""

from __future__ import annotations

import multiprocessing
import threading

import boto3
import pytest
from botocore.stub import Stubber

from wsctl.local import sandbox_worker


def _emulator(pipe, seen: list) -> None:
    """Acknowledges each batch; records the posts it carried and the final message."""
    while True:
        message = pipe.recv()
        if message[0] != "calls":
            seen.append(message)
            return
        seen.extend(entry[4] for entry in message[1])
        pipe.send(("replies", [], True, None))


def test_posts_beyond_the_queue_bound_are_sent_by_the_poster_itself(monkeypatch):
    """With nobody else reading the pipe, a poster that finds the queue full reads the
    answer to the batch in flight itself, so the next batch leaves: no deadlock, and every
    post arrives once, in order, before the invocation's last message."""
    monkeypatch.setattr(sandbox_worker, "MAX_QUEUED", 4)
    ours, theirs = multiprocessing.Pipe()
    channel = sandbox_worker._Channel(ours)
    seen: list = []
    emulator = threading.Thread(target=_emulator, args=(theirs, seen), daemon=True)
    emulator.start()
    for n in range(50):
        channel.post_unanswered("https://example.invalid/dev", "id", str(n).encode())
    channel.finish(("done",))
    emulator.join(timeout=10)
    assert not emulator.is_alive()
    assert seen == [str(n).encode() for n in range(50)] + [("done",)]
    ours.close()
    theirs.close()


def test_a_call_is_answered_while_another_thread_reads_the_pipe():
    """Two threads wait on one pipe: whichever reads it hands the other its answer."""
    ours, theirs = multiprocessing.Pipe()
    channel = sandbox_worker._Channel(ours)

    def emulator() -> None:
        calls = []
        while len(calls) < 2:
            calls += theirs.recv()[1]
            theirs.send(("replies", [], True, None))
        # Answered in reverse: the first caller reads the second one's answer first.
        for call in reversed(calls):
            theirs.send(("replies", [(call[0], call[2].upper())], False, None))

    threading.Thread(target=emulator, daemon=True).start()
    answers: dict[str, str] = {}

    def caller(word: str) -> None:
        answers[word] = channel.call(("echo", word))

    threads = [threading.Thread(target=caller, args=(w,), daemon=True) for w in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == {"one": "ONE", "two": "TWO"}
    ours.close()
    theirs.close()


@pytest.mark.parametrize(
    ("attributes", "plain"),
    [
        ({"id": {"S": "a"}, "n": {"N": "1"}}, True),
        ({}, False),
        ({"id": "a"}, False),  # a Python value: a resource's to serialize
        ({"id": {"S": "a", "N": "1"}}, False),  # two members: botocore refuses it
        ({"id": {"B": b"a"}}, False),
        ({"id": {"N": 1}}, False),
        ({"id": {"M": {"S": {"S": "a"}}}}, False),
        ({1: {"S": "a"}}, False),
    ],
)
def test_only_string_and_number_values_are_plain(attributes, plain):
    assert sandbox_worker._plain_attributes(attributes) is plain


def test_plain_writes_only_where_no_hook_but_botocores_would_run():
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    client = session.client("dynamodb")
    assert sandbox_worker._only_botocore_hooks(client, "PutItem")
    table_client = session.resource("dynamodb").Table("connections").meta.client
    assert not sandbox_worker._only_botocore_hooks(table_client, "PutItem")
    with Stubber(client):
        assert not sandbox_worker._only_botocore_hooks(client, "PutItem")
    assert sandbox_worker._only_botocore_hooks(client, "PutItem")  # judged again after
    client.meta.events.register("after-call.dynamodb.DeleteItem", lambda **_: None)
    assert sandbox_worker._only_botocore_hooks(client, "PutItem")
    assert not sandbox_worker._only_botocore_hooks(client, "DeleteItem")
