"""Functions in sandboxes (real worker processes): isolation, timeouts, crashes, reload,
Lambda's variables, calls answered by the emulator, and declared permissions enforced."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from websockets.asyncio.client import connect

from tests.local.conftest import eventually, next_json, write_service
from wsctl.local import LocalService

TOML = """
[stack]
name = "sbx"
stage = "test"

[functions.a]
handler = "handler.a"
timeout = 2
permissions = ["execute-api:ManageConnections", "dynamodb:GetItem", "lambda:InvokeFunction"]
invokes = ["b"]
[functions.a.environment]
GREETING = "from-a"

[functions.b]
handler = "handler.b"
permissions = ["execute-api:ManageConnections"]
[functions.b.environment]
GREETING = "from-b"

[functions.bare]
handler = "handler.bare"

[functions.c]
handler = "handler.c"
permissions = ["execute-api:ManageConnections", "dynamodb:PutItem", "dynamodb:GetItem"]

[functions.d]
handler = "handler.d"
permissions = ["execute-api:ManageConnections"]

[functions.e]
handler = "handler.e"
permissions = ["dynamodb:PutItem", "dynamodb:GetItem"]

[routes]
"$default" = "a"
b = "b"
bare = { function = "bare", respond = true }
c = { function = "c", respond = true }
d = { function = "d", respond = true }
e = { function = "e", respond = true }
"""

HANDLER = """
import json
import os
from pathlib import Path
import time

import boto3

STATE = {"value": None}


def _post(domain, stage, connection_id, document):
    client = boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{domain}/{stage}")
    client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(document).encode())


def _reply(event, document):
    ctx = event["requestContext"]
    _post(ctx["domainName"], ctx["stage"], ctx["connectionId"], document)


def _facts(name):
    return {"fn": name, "state": STATE["value"], "env": os.environ.get("SHARED"),
            "pid": os.getpid(), "lambdaName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "handlerVar": os.environ.get("_HANDLER"), "memory": os.environ.get(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "table": os.environ.get("WSCTL_TABLE"),
            "greeting": os.environ.get("GREETING")}


def a(event, context):
    do = event.get("body", "")
    if do == "set":
        STATE["value"] = "a"
        os.environ["SHARED"] = "a"
    elif do == "sleep":
        _reply(event, {"sandbox": os.getpid()})
        time.sleep(10)
    elif do == "exit":
        _reply(event, {"sandbox": os.getpid()})
        os._exit(1)
    elif do == "invoke":
        ctx = event["requestContext"]
        boto3.client("lambda").invoke(
            FunctionName=os.environ["AWS_LAMBDA_FUNCTION_NAME"][: -len("-a")] + "-b",
            InvocationType="Event",
            Payload=json.dumps({"domain": ctx["domainName"], "stage": ctx["stage"],
                                "connectionId": ctx["connectionId"]}).encode(),
        )
    elif do == "version":
        _reply(event, {"version": "v1"})
        return
    _reply(event, _facts("a"))


def _hold(event, context):
    # Wait (at most 15 s) until another invocation holds too; say how many did.
    open(f"hold-{os.getpid()}-{context.aws_request_id}", "w").close()
    deadline = time.monotonic() + 15
    while len([f for f in os.listdir(".") if f.startswith("hold-")]) < 2:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    held = len([f for f in os.listdir(".") if f.startswith("hold-")])
    _reply(event, {**_facts("b"), "held": held})


def b(event, context):
    if "hold" in event.get("body", ""):
        _hold(event, context)
    elif "requestContext" in event:
        _reply(event, _facts("b"))
    else:  # invoked asynchronously by a
        _post(event["domain"], event["stage"], event["connectionId"], {"fn": "b", "async": True})


def bare(event, context):
    from botocore.exceptions import ClientError

    outcomes = {}
    calls = {
        "dynamodb": lambda: boto3.client("dynamodb").get_item(
            TableName=os.environ["WSCTL_TABLE"], Key={"connectionId": {"S": "x"}}),
        "management": lambda: _reply(event, {"never": True}),
        "lambda": lambda: boto3.client("lambda").invoke(
            FunctionName=os.environ["AWS_LAMBDA_FUNCTION_NAME"][: -len("-bare")] + "-b"),
    }
    for name, call in calls.items():
        try:
            call()
            outcomes[name] = "allowed"
        except ClientError as exc:
            outcomes[name] = [exc.response["Error"]["Code"],
                              exc.response["ResponseMetadata"]["HTTPStatusCode"]]
    return {"statusCode": 200, "body": json.dumps(outcomes)}


GONE_ID = "AAAAAAAAAAAAAAA="


def c(event, context):
    # 32 threads post 200 frames at once (every fourth to a connection that is gone), then
    # a Table resource writes Python values, meets a failed condition and reads back.
    from concurrent.futures import ThreadPoolExecutor
    from decimal import Decimal

    from botocore.exceptions import ClientError

    ctx = event["requestContext"]
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")

    def post(n):
        target = GONE_ID if n % 4 == 0 else ctx["connectionId"]
        try:
            client.post_to_connection(ConnectionId=target, Data=json.dumps({"n": n}).encode())
        except client.exceptions.GoneException as exc:
            return exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return "ok"

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(post, range(200)))
    table = boto3.resource("dynamodb").Table(os.environ["WSCTL_TABLE"])
    table.put_item(Item={"connectionId": "record", "n": Decimal("1.5"), "blob": b"\\x00\\x01"})
    try:
        table.put_item(Item={"connectionId": "record"},
                       ConditionExpression="attribute_not_exists(connectionId)")
        conditional = "allowed"
    except ClientError as exc:
        conditional = [exc.response["Error"]["Code"],
                       exc.response["ResponseMetadata"]["HTTPStatusCode"]]
    item = table.get_item(Key={"connectionId": "record"})["Item"]
    return {"statusCode": 200, "body": json.dumps({
        "ok": outcomes.count("ok"), "gone": outcomes.count(410), "conditional": conditional,
        "n": str(item["n"]), "blob": item["blob"].value.hex()})}


def d(event, context):
    # Posts "count" frames (or one of "size" bytes) to "to" ("self": the caller), one after
    # another, and answers with each post's outcome.
    from botocore.exceptions import ClientError

    ctx = event["requestContext"]
    body = json.loads(event["body"])
    target = ctx["connectionId"] if body["to"] == "self" else body["to"]
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
    def post(to, seq):
        data = b"x" * body["size"] if "size" in body else json.dumps({"seq": seq}).encode()
        try:
            client.post_to_connection(ConnectionId=to, Data=data)
            return 200
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    if body.get("delete"):
        client.delete_connection(ConnectionId=target)
    outcomes = [post(target, seq) for seq in range(body.get("count", 1))]
    released = None
    if "hold" in body:  # until the test saw the frames: they must not wait for the return
        deadline = time.monotonic() + 20
        while not Path(body["hold"]).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        released = Path(body["hold"]).exists()
    if "then" in body:  # one more post, after the wait
        outcomes.append(post(body["then"], len(outcomes)))
    answer = {"outcomes": outcomes, "me": ctx["connectionId"], "released": released}
    return {"statusCode": 200, "body": json.dumps(answer)}


def e(event, context):
    # Plain item writes, and the same with a parameter that takes botocore's whole path:
    # what each returns or raises. Then a Table resource, a Stubber and a handler's own hook,
    # which must each still take effect.
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    table = os.environ["WSCTL_TABLE"]
    client = boto3.client("dynamodb")

    def outcome(call, **params):
        try:
            response = call(**params)
        except ClientError as exc:
            meta = exc.response["ResponseMetadata"]
            return [type(exc).__name__, exc.response["Error"], meta["HTTPStatusCode"]]
        meta = response.pop("ResponseMetadata")
        return [response, meta["HTTPStatusCode"], sorted(meta), sorted(meta["HTTPHeaders"])]

    item = {"connectionId": {"S": "plain"}, "n": {"N": "1"}}
    pairs = {
        "put": [outcome(client.put_item, TableName=table, Item=item),
                outcome(client.put_item, TableName=table, Item=item, ReturnValues="NONE")],
        "denied table": [
            outcome(client.put_item, TableName="someone-elses", Item=item),
            outcome(client.put_item, TableName="someone-elses", Item=item, ReturnValues="NONE")],
        "denied action": [
            outcome(client.delete_item, TableName=table, Key={"connectionId": {"S": "plain"}}),
            outcome(client.delete_item, TableName=table, Key={"connectionId": {"S": "plain"}},
                    ReturnValues="NONE")],
    }
    stored = client.get_item(TableName=table, Key={"connectionId": {"S": "plain"}})["Item"]

    resource = outcome(boto3.resource("dynamodb").Table(table).put_item,
                       Item={"connectionId": {"S": "as-a-map"}})
    stubbed_item = {"connectionId": {"S": "stubbed"}}
    with Stubber(client) as stubber:
        stubber.add_response("put_item", {}, {"TableName": table, "Item": stubbed_item})
        client.put_item(TableName=table, Item=stubbed_item)
    hooked = []
    client.meta.events.register("before-call.dynamodb.PutItem", lambda **_: hooked.append(1))
    client.put_item(TableName=table, Item={"connectionId": {"S": "hooked"}})
    written = {
        key: "Item" in client.get_item(TableName=table, Key={"connectionId": {"S": key}})
        for key in ("as-a-map", "stubbed", "hooked")
    }
    return {"statusCode": 200, "body": json.dumps({
        "pairs": pairs, "stored": stored, "resource": resource, "written": written,
        "hooked": len(hooked)})}
"""


@pytest.fixture
def sandboxed(tmp_path):
    spec = write_service(tmp_path / "sbx", TOML, HANDLER)
    with LocalService(spec, sandboxes=True) as service:
        yield service


async def _exchange(service: LocalService, *frames: str, replies: int = 1) -> list[dict]:
    async with connect(service.url) as ws:
        out = []
        for frame in frames:
            await ws.send(frame)
            out += [await next_json(ws, timeout=20) for _ in range(replies)]
        return out


def test_functions_do_not_share_globals_or_environment(sandboxed):
    """a sets a module global and an environment variable; b (same module file) sees neither,
    while a's warm sandbox keeps them for its next invocation."""
    a_set, b_seen, a_again = asyncio.run(
        _exchange(sandboxed, "set", json.dumps({"action": "b"}), "again")
    )
    assert (a_set["state"], a_set["env"]) == ("a", "a")
    assert (b_seen["state"], b_seen["env"]) == (None, None)
    assert b_seen["pid"] != a_set["pid"]
    assert (a_again["state"], a_again["env"], a_again["pid"]) == ("a", "a", a_set["pid"])


def test_each_function_sees_exactly_its_own_configured_variables(tmp_path):
    """Two functions setting GREETING differently in wsctl.toml each see their own value, and
    the emulator has nothing to warn about (each sandbox has its own environment)."""
    output = io.StringIO()
    spec = write_service(tmp_path / "sbx", TOML, HANDLER)
    console = Console(file=output, width=400, no_color=True)
    with LocalService(spec, sandboxes=True, console=console) as service:
        a_facts, b_facts = asyncio.run(_exchange(service, "facts", json.dumps({"action": "b"})))
    assert (a_facts["fn"], a_facts["greeting"]) == ("a", "from-a")
    assert (b_facts["fn"], b_facts["greeting"]) == ("b", "from-b")
    assert "different values" not in output.getvalue()


def test_sandboxes_have_lambdas_variables(sandboxed):
    """Each sandbox has Lambda's variables for its function, and wsctl's."""
    (facts,) = asyncio.run(_exchange(sandboxed, json.dumps({"action": "b"})))
    assert facts["lambdaName"] == "sbx-test-b"
    assert facts["handlerVar"] == "handler.b"
    assert facts["memory"] == "128"
    assert facts["table"] == "sbx-test-connections"


def _gone(pid: int) -> bool:
    """The process has ended: no such process, or a zombie its parent has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_timeout_ends_the_sandbox_and_the_client_gets_aws_error(sandboxed, capsys):
    """A handler sleeping past its 2 s timeout: its sandbox process is ended, Lambda's message
    is on the console, the client gets AWS's error frame, and the function still serves."""
    sleeping, failed, after = asyncio.run(_exchange_three(sandboxed, "sleep"))
    assert failed["message"] == "Internal server error"
    assert "Task timed out after 2.00 seconds" in capsys.readouterr().err
    eventually(lambda: _gone(sleeping["sandbox"]))
    assert after["fn"] == "a" and after["pid"] != sleeping["sandbox"]


def test_os_exit_ends_only_that_sandbox(sandboxed, capsys):
    """os._exit(1) in a handler: the client gets the error frame, only that sandbox ends, and
    the emulator keeps serving."""
    exiting, failed, after = asyncio.run(_exchange_three(sandboxed, "exit"))
    assert failed["message"] == "Internal server error"
    assert "Runtime exited with error: exit status 1" in capsys.readouterr().err
    eventually(lambda: _gone(exiting["sandbox"]))
    assert after["fn"] == "a" and after["pid"] != exiting["sandbox"]


async def _exchange_three(service: LocalService, frame: str) -> list[dict]:
    """``frame`` (which reports its sandbox, then fails), its error frame, then a ping's reply."""
    async with connect(service.url) as ws:
        await ws.send(frame)
        replies = [await next_json(ws, timeout=20), await next_json(ws, timeout=20)]
        await ws.send("ping")
        return [*replies, await next_json(ws, timeout=20)]


def test_a_function_invokes_another_asynchronously(sandboxed):
    """a invokes b with InvocationType=Event (declared in invokes): b runs and posts."""
    (first, second) = asyncio.run(_exchange(sandboxed, "invoke", replies=2))
    assert {"fn": "b", "async": True} in (first, second)


def test_undeclared_permissions_fail_as_on_aws_with_a_hint(sandboxed, capsys):
    """A function with no permissions: DynamoDB AccessDeniedException (400), management API
    ForbiddenException (403), Lambda AccessDeniedException (403); the console names the
    permission to add and where."""
    (outcomes,) = asyncio.run(_exchange(sandboxed, json.dumps({"action": "bare"})))
    assert outcomes == {
        "dynamodb": ["AccessDeniedException", 400],
        "management": ["ForbiddenException", 403],
        "lambda": ["AccessDeniedException", 403],
    }
    err = capsys.readouterr().err
    assert 'Function bare needs "dynamodb:GetItem"' in err
    assert "Function bare needs execute-api:ManageConnections" in err
    assert "[functions.bare]" in err


def test_reload_starts_new_sandboxes_with_the_new_code(sandboxed):
    """Editing the handler file: the next invocation runs the new code in a new sandbox."""
    (old,) = asyncio.run(_exchange(sandboxed, "version"))
    source = sandboxed.spec.code_dir / "handler.py"
    source.write_text(source.read_text().replace('"v1"', '"v2"'))
    sandboxed._functions.load([source])  # what the reload watcher does on a change
    (new,) = asyncio.run(_exchange(sandboxed, "version"))
    assert (old["version"], new["version"]) == ("v1", "v2")


def test_concurrent_invocations_get_more_sandboxes(sandboxed):
    """Two invocations of b at once run in two sandboxes at the same time: each waits until
    the other has started (one sandbox would run them one after the other)."""

    async def scenario():
        async with connect(sandboxed.url) as one, connect(sandboxed.url) as two:
            await one.send(json.dumps({"action": "b", "hold": True}))
            await two.send(json.dumps({"action": "b", "hold": True}))
            return [await next_json(one, 20), await next_json(two, 20)]

    first, second = asyncio.run(scenario())
    assert first["fn"] == second["fn"] == "b"
    assert first["pid"] != second["pid"]
    assert first["held"] == second["held"] == 2


def test_many_threads_posting_at_once_each_get_their_own_outcome(sandboxed):
    """32 handler threads post 200 frames at once (batched over the sandbox's pipe): the 150
    to the caller arrive, each once; the 50 to a gone connection raise the client's modeled
    GoneException (410). DynamoDB through a Table resource: Python values written and read
    back, and a failed condition raises ConditionalCheckFailedException (400)."""

    async def scenario():
        async with connect(sandboxed.url) as ws:
            await ws.send(json.dumps({"action": "c"}))
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 20)) for _ in range(151)]
        return frames

    frames = asyncio.run(scenario())
    posted = sorted(frame["n"] for frame in frames if "n" in frame and len(frame) == 1)
    assert posted == [n for n in range(200) if n % 4]
    (summary,) = [frame for frame in frames if "ok" in frame]
    assert summary == {
        "ok": 150,
        "gone": 50,
        "conditional": ["ConditionalCheckFailedException", 400],
        "n": "1.5",
        "blob": "0001",
    }


def test_posts_a_sandbox_answers_itself_keep_aws_outcomes_and_order(sandboxed):
    """After its first post, a sandbox answers posts to connections it knows are live and
    sends them on without waiting: they still arrive in order and before the route's reply;
    a connection that closed since gets 410 GoneException, and a payload over the limit 413,
    as from the emulator."""

    async def scenario():
        async with connect(sandboxed.url) as first, connect(sandboxed.url) as second:
            await first.send(json.dumps({"action": "d", "to": "self"}))
            assert await next_json(first, timeout=20) == {"seq": 0}
            first_id = (await next_json(first, timeout=20))["me"]

            await second.send(json.dumps({"action": "d", "to": "self", "count": 50}))
            frames = [await next_json(second, timeout=20) for _ in range(51)]
            assert frames[:50] == [{"seq": seq} for seq in range(50)]
            assert frames[50]["outcomes"] == [200] * 50

            await second.send(json.dumps({"action": "d", "to": first_id, "count": 3}))
            assert [await next_json(first, timeout=20) for _ in range(3)] == [
                {"seq": 0},
                {"seq": 1},
                {"seq": 2},
            ]
            assert (await next_json(second, timeout=20))["outcomes"] == [200] * 3

            await first.close()
            await asyncio.to_thread(eventually, lambda: sandboxed.connection_count() == 1)
            await second.send(json.dumps({"action": "d", "to": first_id, "count": 2}))
            gone = await next_json(second, timeout=20)
            await second.send(json.dumps({"action": "d", "to": "self", "size": 128 * 1024 + 1}))
            too_large = await next_json(second, timeout=20)
        return gone, too_large

    gone, too_large = asyncio.run(scenario())
    assert gone["outcomes"] == ["GoneException"] * 2
    assert too_large["outcomes"] == ["PayloadTooLargeException"]


def test_a_post_after_a_quiet_wait_asks_the_emulator(sandboxed, tmp_path):
    """A handler that waits, then posts to a connection that left meanwhile, gets 410: the
    sandbox heard nothing from the emulator while it waited, so its view is not trusted."""
    release = tmp_path / "release"

    async def scenario():
        async with connect(sandboxed.url) as first, connect(sandboxed.url) as second:
            await first.send(json.dumps({"action": "d", "to": "self"}))
            await next_json(first, timeout=20)
            first_id = (await next_json(first, timeout=20))["me"]
            wait = {"action": "d", "to": first_id, "hold": str(release), "then": first_id}
            await second.send(json.dumps(wait))
            assert await next_json(first, timeout=20) == {"seq": 0}
            await first.close()
            await asyncio.to_thread(eventually, lambda: sandboxed.connection_count() == 1)
            release.touch()
            return await next_json(second, timeout=30)

    assert asyncio.run(scenario())["outcomes"] == [200, "GoneException"]


def test_a_connection_the_gateway_closes_is_gone_at_once_for_a_sandbox(sandboxed):
    """DeleteConnection, then a post to it from the same sandbox: 410 at once, as on AWS,
    though the closing handshake is not over."""

    async def scenario():
        async with connect(sandboxed.url) as first, connect(sandboxed.url) as second:
            await first.send(json.dumps({"action": "d", "to": "self"}))
            await next_json(first, timeout=20)
            first_id = (await next_json(first, timeout=20))["me"]
            await second.send(json.dumps({"action": "d", "to": first_id, "delete": True}))
            return await next_json(second, timeout=20)

    assert asyncio.run(scenario())["outcomes"] == ["GoneException"]


def test_frames_a_sandbox_answered_leave_while_the_handler_still_runs(sandboxed, tmp_path):
    """Posts answered in the sandbox are sent on at once, not when the handler returns: the
    handler waits until the client has its frames."""
    release = tmp_path / "release"

    async def scenario():
        async with connect(sandboxed.url) as ws:
            hold = {"action": "d", "to": "self", "count": 3, "hold": str(release)}
            await ws.send(json.dumps(hold))
            frames = [await next_json(ws, timeout=20) for _ in range(3)]
            release.touch()
            return frames, await next_json(ws, timeout=30)

    frames, answer = asyncio.run(scenario())
    assert frames == [{"seq": 0}, {"seq": 1}, {"seq": 2}]
    assert answer["outcomes"] == [200] * 3
    assert answer["released"] is True


def test_plain_item_writes_answer_as_botocores_path_does(sandboxed):
    """A client's plain put_item/delete_item (answered without botocore's serializing) return
    and raise what the same call through botocore's whole path does; a Table resource's
    write, a Stubber and a handler's own event hook each still take effect."""
    (answer,) = asyncio.run(_exchange(sandboxed, json.dumps({"action": "e"})))
    for name, (plain, full) in answer["pairs"].items():
        assert plain == full, name
    put, denied_table, denied_action = (answer["pairs"][k][0] for k in answer["pairs"])
    assert put[0] == {} and put[1] == 200 and "RequestId" in put[2]
    assert denied_table[0] == denied_action[0] == "ClientError"
    assert denied_table[1]["Code"] == denied_action[1]["Code"] == "AccessDeniedException"
    assert "dynamodb:DeleteItem" in denied_action[1]["Message"]
    assert answer["stored"] == {"connectionId": {"S": "plain"}, "n": {"N": "1"}}
    # The resource serialized {"S": ...} as a map: a key of the wrong type, refused.
    assert answer["resource"][1]["Code"] == "ValidationException"
    assert answer["written"] == {"as-a-map": False, "stubbed": False, "hooked": True}
    assert answer["hooked"] == 1


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_sandboxes_are_forked_from_one_zygote_that_ends_with_the_emulator(tmp_path):
    """Sandboxes of two functions share one parent (the zygote, a child of the emulator's
    process); when the emulator stops, the zygote and every sandbox are gone."""
    spec = write_service(tmp_path / "sbx", TOML, HANDLER)
    with LocalService(spec, sandboxes=True) as service:
        facts_a, facts_b = asyncio.run(_exchange(service, "get", json.dumps({"action": "b"})))
        zygote = _parent(facts_a["pid"])
        assert _parent(facts_b["pid"]) == zygote
        assert _parent(zygote) == os.getpid()
    for pid in (facts_a["pid"], facts_b["pid"], zygote):
        eventually(lambda pid=pid: _gone(pid))


def test_sandboxes_beyond_the_warm_few_end_after_idling(sandboxed, monkeypatch):
    """After a burst that needed two sandboxes of b, with one kept warm: the other ends once
    idle for RETIRE_AFTER seconds, and the next invocation runs in the one kept."""
    from wsctl.local import sandbox

    monkeypatch.setattr(sandbox, "KEEP_IDLE", 1)
    monkeypatch.setattr(sandbox, "RETIRE_AFTER", 0.2)

    async def burst():
        async with connect(sandboxed.url) as one, connect(sandboxed.url) as two:
            await one.send(json.dumps({"action": "b", "hold": True}))
            await two.send(json.dumps({"action": "b", "hold": True}))
            return [await next_json(one, 20), await next_json(two, 20)]

    pids = {facts["pid"] for facts in asyncio.run(burst())}
    assert len(pids) == 2
    eventually(lambda: sum(_gone(pid) for pid in pids) == 1)
    (after,) = asyncio.run(_exchange(sandboxed, json.dumps({"action": "b"})))
    assert after["pid"] in pids and not _gone(after["pid"])


def test_a_module_exiting_at_import_fails_each_invocation_and_the_rest_serves(tmp_path, capsys):
    """A handler module that calls os._exit(3) as it is imported: each invocation of its
    function fails as Lambda's runtime does (error frame, "Runtime exited with error: exit
    status 3" on the console), and the other functions keep serving."""
    toml = TOML + '\n[functions.dies]\nhandler = "dying.handler"\n'
    toml = toml.replace("[routes]\n", '[routes]\ndies = "dies"\n')
    (tmp_path / "sbx" / "lambda_code").mkdir(parents=True)
    (tmp_path / "sbx" / "lambda_code" / "dying.py").write_text(
        "import os\n\nos._exit(3)\n\n\ndef handler(event, context):\n    return None\n"
    )
    spec = write_service(tmp_path / "sbx", toml, HANDLER)
    with LocalService(spec, sandboxes=True) as service:
        failed, after = asyncio.run(
            _exchange(service, json.dumps({"action": "dies"}), json.dumps({"action": "b"}))
        )
    assert failed["message"] == "Internal server error"
    assert after["fn"] == "b"
    assert "Runtime exited with error: exit status 3" in capsys.readouterr().err


def test_a_zygote_that_died_is_replaced(sandboxed):
    """The zygote killed: sandboxes started afterwards (here by a reload) come from a new
    zygote, and the functions serve."""
    (before,) = asyncio.run(_exchange(sandboxed, json.dumps({"action": "b"})))
    zygote = _parent(before["pid"])
    os.kill(zygote, 9)
    eventually(lambda: _gone(zygote))
    sandboxed._functions.load()  # what the reload watcher does on a change
    (after,) = asyncio.run(_exchange(sandboxed, json.dumps({"action": "b"})))
    assert after["fn"] == "b"
    assert _parent(after["pid"]) not in (zygote, 1)
