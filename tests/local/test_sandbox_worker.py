"""The sandbox's side of its pipe (``_Channel``), against a stand-in emulator on a real pipe."""

from __future__ import annotations

import multiprocessing
import threading

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
