"""Inside a sandbox: one function's handler in a process of its own, as a Lambda execution
environment runs it (its own environment, module globals and ``sys.modules``).

It imports only the standard library and botocore/boto3 (never moto or the emulator), so what
the handler can reach is what Lambda gives it. Its AWS calls to DynamoDB, the management API and
Lambda are answered by the emulator process: a ``before-call`` hook sends the operation and its
parameters over the pipe and hands botocore the emulator's answer (or error) as if it had come
over HTTP. Any number of handler threads may call at once; whichever waits reads the pipe.

Messages (pickled, over a ``multiprocessing.connection`` pipe):
  parent -> sandbox: ("invoke", event, context fields, news) | ("replies", [(call id,
                     answer), ...], batch answered?, news), news being of live connections
  sandbox -> parent: ("ready", import error or None) | ("calls", [(call id or None, kind,
                     ...), ...]) | ("done", ok, result or error payload, log lines)
"""

from __future__ import annotations

import collections
import io
import itertools
import json
import logging
import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SANDBOX_NICENESS = 10
# How long the next batch waits for the threads the last one answered to call again.
GATHER_SECONDS = 0.002
# Posts answered here that may wait for the batch in flight; more block the poster.
MAX_QUEUED = 4096
FORWARDED = ("dynamodb", "apigatewaymanagementapi", "lambda")


@dataclass
class CognitoIdentity:
    """``context.identity`` as Lambda's Python runtime builds it."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass
class ClientContext:
    """``context.client_context``: the ClientContext an Invoke call carried."""

    client: Any = None
    custom: Any = None
    env: Any = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> ClientContext | None:
        if value is None:
            return None
        return cls(value.get("client"), value.get("custom"), value.get("env"))


@dataclass
class LambdaContext:
    """The context object Lambda passes to Python handlers."""

    function_name: str
    memory_limit_in_mb: str  # a string in Lambda's Python runtime
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float = field(repr=False)
    function_version: str = "$LATEST"
    # Lambda's Python runtime always sets identity (Cognito fields, None unless a mobile SDK
    # sent them); client_context is what an Invoke call passed as ClientContext, else None.
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    client_context: ClientContext | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class _Waiter:
    """A thread waiting for something the pipe brings: woken once it may have come, or to
    read the pipe itself."""

    __slots__ = ("ready", "wake")

    def __init__(self, ready: Callable[[], bool]) -> None:
        self.ready = ready
        self.wake = threading.Lock()
        self.wake.acquire()


class _Channel:
    """The pipe to the emulator, shared by any number of handler threads.

    Calls travel in batches, one batch in flight at a time: a call made while a batch is out
    joins the next one. When a batch is answered, the threads it releases usually call again
    at once, so the next batch waits for them, up to ``GATHER_SECONDS``: many threads then
    cost one pipe message per round trip, not two or more. A lone call (nothing just
    answered) leaves at once. The emulator acknowledges a batch when it has answered its
    quick calls; a Lambda Invoke, which may take long, is answered on its own and never holds
    up the next batch.

    A post to a connection the emulator told us is live is answered here (200, as AWS
    answers once it accepted the frame) and travels in the next batch without waiting for
    its answer: a fan-out's threads never block on the pipe. Every message from the emulator
    brings the news of connections since its last (``views``), so any id the handler got
    through the pipe is in its view if it was live then; an id not in it takes the round
    trip, whose answer is the emulator's own. A connection that leaves bumps a count in
    memory shared with the emulator, so from that moment on posts take the round trip until
    its news has come: none is answered 200 for a connection already gone.

    Whoever waits for something from the pipe (its answer, the next invocation, room in a
    full batch) reads it, unless another thread already does; the reader hands over to
    another waiter when it has what it waited for. A handler calling from one thread thus
    reads its own answers, with no thread switch (three per call with a reader thread: most
    of what a call cost a sandbox). Only a batch of posts alone has nobody waiting for its
    answer: ``read_for_posts`` reads it.
    """

    def __init__(self, connection: Any, departures: Any = None) -> None:
        self.connection = connection
        # The emulator's count of connections gone (shared memory), and its value when the
        # news we last heard was written: the view is current while the two are equal.
        self._departures = departures
        self._departures_heard = -1
        # Live connection ids and the payload limit of each endpoint the emulator tells of.
        self.views: dict[str, tuple[set[str], int]] = {}
        self._send_lock = threading.Lock()
        self._changed = threading.Condition(threading.Lock())
        self._queued: list[tuple] = []
        self._batch_out = False
        self._gathering = False
        self._returning = 0  # threads just answered that have not called again
        self._calls: dict[int, list] = {}
        self._ids = itertools.count(1)
        self._invocations: collections.deque[tuple] = collections.deque()
        self._reading = False
        self._waiters: list[_Waiter] = []
        self._closed = False
        self._posts_out = threading.Event()  # a batch of posts only is out (read_for_posts)

    def send(self, message: tuple) -> None:
        with self._send_lock:
            # pickle's own dumps: Connection.send's ForkingPickler copies its dispatch table
            # for every message (a tenth of what a small message costs).
            self.connection.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def next_invocation(self) -> tuple | None:
        """The next ("invoke", event, fields); None once the emulator is gone."""
        self._wait_for(lambda: bool(self._invocations))
        with self._changed:
            self._returning = 0
            return self._invocations.popleft() if self._invocations else None

    def call(self, request: tuple) -> Any:
        """Send ``request`` (kind, ...) to the emulator and wait for its answer."""
        call_id = next(self._ids)
        box: list = []
        self._calls[call_id] = box
        self._enqueue((call_id, *request))
        self._wait_for(lambda: bool(box))
        if not box:
            raise EOFError("the emulator closed the sandbox's pipe")
        return box[0]

    def post_unanswered(self, endpoint: str, connection_id: str, data: bytes) -> None:
        """Queue a post the caller already answered; blocks only while too many are queued."""
        self._enqueue((None, "post", endpoint, connection_id, data))

    def _enqueue(self, entry: tuple) -> None:
        while True:
            with self._changed:
                if len(self._queued) < MAX_QUEUED:
                    self._queued.append(entry)
                    if self._returning:
                        self._returning -= 1
                        if not self._returning:
                            self._changed.notify_all()
                    break
            self._wait_for(lambda: len(self._queued) < MAX_QUEUED)
        self._send_next()

    def read_for_posts(self) -> None:
        """A thread's life: read the answer to each batch of posts nobody waits for (every
        other answer is read by whoever waits for it), so the next batch leaves at once."""
        while not self._closed:
            self._posts_out.wait()
            self._posts_out.clear()
            self._wait_for(lambda: not self._batch_out)

    def _wait_for(self, ready: Callable[[], bool]) -> None:
        """Until ``ready()`` (checked under the lock) or the pipe closed: read the pipe if
        nobody does, else sleep until woken."""
        waiter: _Waiter | None = None
        while True:
            with self._changed:
                if self._closed or ready():
                    return
                lead = not self._reading
                if lead:
                    self._reading = True
                else:
                    waiter = waiter or _Waiter(ready)
                    self._waiters.append(waiter)
            if not lead:
                waiter.wake.acquire()  # type: ignore[union-attr]
                continue
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                message = None
            self._take(message)

    def _take(self, message: tuple | None) -> None:
        """What the reader read: answers to their boxes, news to the views, an invocation to
        its queue; then the waiters it may concern are woken, and one more to read on."""
        batch_answered = False
        if message is None:
            pass
        elif message[0] == "replies":
            _, answers, batch_answered, news = message
            self._hear(news)
            for call_id, answer in answers:
                self._calls.pop(call_id).append(answer)
        else:
            self._hear(message[-1])
            self._invocations.append(message[:-1])
        with self._changed:
            self._reading = False
            if message is None:
                self._closed = True
            if batch_answered:
                self._batch_out = False
                self._returning = len(message[1])  # type: ignore[index]
            self._wake_ready()
        if batch_answered:
            self._send_next()  # calls that came while the batch was out

    def _wake_ready(self) -> None:
        """Wake the waiters whose wait may be over, and one more to read the pipe (if nobody
        does). Called with the lock held."""
        waiting, self._waiters = self._waiters, []
        reader_woken = self._reading
        for waiter in waiting:
            if self._closed or waiter.ready():
                waiter.wake.release()
            elif not reader_woken:
                reader_woken = True
                waiter.wake.release()
            else:
                self._waiters.append(waiter)

    def _send_next(self) -> None:
        """Send what is queued, unless a batch is out or another thread is gathering one."""
        with self._changed:
            if self._batch_out or self._gathering or not self._queued:
                return
            self._gathering = True
            deadline = time.monotonic() + GATHER_SECONDS
            while self._returning and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            self._gathering = False
            self._batch_out = True
            self._returning = 0
        self._send_queued()

    def _send_queued(self) -> None:
        # Taken and sent under the send lock: batches leave in the order they were taken.
        with self._send_lock:
            with self._changed:
                batch, self._queued = self._queued, []
                if not batch:  # finish() sent it while this thread gathered
                    self._batch_out = False
                self._wake_ready()  # room for posts waiting on MAX_QUEUED
            if batch:
                self.connection.send_bytes(pickle.dumps(("calls", batch), pickle.HIGHEST_PROTOCOL))
                if all(entry[0] is None for entry in batch):
                    self._posts_out.set()

    def finish(self, message: tuple) -> None:
        """Send the invocation's last ``message`` after every post it queued."""
        with self._changed:
            if self._queued:
                self._batch_out = True
        self._send_queued()
        self.send(message)

    def may_answer_post(self, endpoint: str, connection_id: str, size: int) -> bool:
        """Whether a post of ``size`` bytes to ``connection_id`` may be answered here: the
        connection was live when the emulator last told us, no connection has left since
        (else the round trip brings the news), and the payload is within the limit."""
        view = self.views.get(endpoint)
        if view is None or self._departures is None:
            return False
        if int.from_bytes(self._departures[:8], "little") != self._departures_heard:
            return False
        return connection_id in view[0] and size <= view[1]

    def _hear(self, news: tuple | None) -> None:
        """(departures, change or None): the change applied first, then the count it is
        current as of, so no thread trusts a view the change has not reached yet."""
        if news is None:
            return
        departures, change = news
        if change is not None:
            self._apply(*change)
        self._departures_heard = departures

    def _apply(self, kind: str, endpoint: str, *rest: Any) -> None:
        if kind == "full":
            ids, max_payload = rest
            self.views[endpoint] = (set(ids), max_payload)
        elif kind == "unwatch":  # that gateway is gone
            self.views.pop(endpoint, None)
        else:  # "delta": always after a "full" of the same endpoint
            live = self.views[endpoint][0]
            for arrived, connection_id in rest[0]:
                if arrived:
                    live.add(connection_id)
                else:
                    live.discard(connection_id)


class _Lines(io.TextIOBase):
    """stdout/stderr of the sandbox: whole lines, kept for the invocation's log."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._sink(line)
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._sink(self._partial)
            self._partial = ""


class _LogLines(logging.Handler):
    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._sink = sink
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self._sink(self.format(record))


def _install_forwarding(channel: _Channel) -> None:
    """botocore hooks: every call to a forwarded service is answered by the emulator.

    - DynamoDB: the request body botocore serialized goes as it is; the emulator answers with
      the HTTP status, headers and body DynamoDB would send, which botocore parses here as it
      parses AWS's (or, for a plain Scan, with the items already parsed).
    - PostToConnection with a connection id and bytes (a broadcast's hot path): the client
      method itself sends id and data, skipping botocore's serializing; errors are raised as
      the client's own modeled exceptions. Any other call takes botocore's path.
    - A client's plain put_item and delete_item (``DIRECT_ITEM_WRITES``) likewise send the
      body themselves, and botocore parses the answer as above.
    - Everything else: the operation and its parameters; the emulator makes the call.
    """
    import functools

    from botocore.awsrequest import AWSResponse
    from botocore.handlers import BUILTIN_HANDLERS
    from botocore.parsers import create_parser
    from botocore.response import StreamingBody

    json_parser = create_parser("json")

    def keep_params(params: dict, context: dict, **_: Any) -> None:
        # The dict itself, not a copy: boto3's resources (Table.query(KeyConditionExpression=
        # Key(...)), put_item of Python values) transform the same dict in place, in their
        # before-parameter-build handlers, which run after this one.
        context["wsctl_params"] = params

    def answered(url: str, status: int, parsed: dict) -> tuple:
        parsed.setdefault("ResponseMetadata", {})
        parsed["ResponseMetadata"].update(
            {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
        )
        return AWSResponse(url, status, {}, io.BytesIO(b"")), parsed

    def dynamodb(model: Any, body: bytes, url: str) -> tuple:
        kind, status, headers, raw = channel.call(("dynamodb", model.name, body))
        if kind == "parsed":
            return answered(url, status, raw)
        response = {"status_code": status, "headers": headers, "body": raw}
        parsed = json_parser.parse(response, model.output_shape)
        return AWSResponse(url, status, headers, io.BytesIO(raw)), parsed

    def forward(model: Any, params: dict, context: dict, **_: Any) -> tuple:
        service = model.service_model.service_name
        url = params.get("url", "")
        if service == "dynamodb":
            return dynamodb(model, params["body"], url)
        api_params = dict(context.get("wsctl_params", {}))
        for key, value in list(api_params.items()):
            if hasattr(value, "read"):  # a file-like Payload or Data: its bytes travel
                api_params[key] = value.read()
        ok, (status, parsed) = channel.call(("call", service, model.name, api_params, url))
        if ok and isinstance(parsed.get("Payload"), bytes):
            body = parsed["Payload"]
            parsed["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        return answered(url, status, parsed)

    def direct_post(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def post_to_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            post = plain_post(args, kwargs)
            if post is None:
                return original(self, *args, **kwargs)
            connection_id, payload = post
            endpoint = self.meta.endpoint_url
            if channel.may_answer_post(endpoint, connection_id, len(payload)):
                channel.post_unanswered(endpoint, connection_id, payload)
                return posted(200)
            status, error = channel.call(("post", endpoint, connection_id, payload))
            if error is None:
                return posted(status)
            response = {**error, **posted(status)}
            raise self.exceptions.from_code(error["Error"]["Code"])(response, "PostToConnection")

        return post_to_connection

    def direct_item_write(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        operation, member = DIRECT_ITEM_WRITES[method]

        @functools.wraps(original)
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            plain = (
                not args
                and len(kwargs) == 2
                and _plain_table_name(kwargs.get("TableName"))
                and _plain_attributes(kwargs.get(member))
                and _only_botocore_hooks(self, operation)
            )
            if not plain:
                return original(self, *args, **kwargs)
            model = self.meta.service_model.operation_model(operation)
            http, parsed = dynamodb(model, json.dumps(kwargs).encode(), "")
            if http.status_code >= 300:  # as botocore's _make_api_call raises it
                error = parsed.get("Error", {})
                code = error.get("QueryErrorCode") or error.get("Code")
                raise self.exceptions.from_code(code)(parsed, operation)
            return parsed

        return write

    def wrap_post(class_attributes: dict[str, Any], **_: Any) -> None:
        if "post_to_connection" in class_attributes:
            class_attributes["post_to_connection"] = direct_post(
                class_attributes["post_to_connection"]
            )

    def wrap_item_writes(class_attributes: dict[str, Any], **_: Any) -> None:
        for method in DIRECT_ITEM_WRITES:
            if method in class_attributes:
                class_attributes[method] = direct_item_write(method, class_attributes[method])

    for service in FORWARDED:
        BUILTIN_HANDLERS.append((f"before-parameter-build.{service}", keep_params))
        BUILTIN_HANDLERS.append((f"before-call.{service}", forward))
    BUILTIN_HANDLERS.append(("creating-client-class.apigatewaymanagementapi", wrap_post))
    BUILTIN_HANDLERS.append(("creating-client-class.dynamodb", wrap_item_writes))


def plain_post(args: tuple, kwargs: dict[str, Any]) -> tuple[str, bytes] | None:
    """A ``post_to_connection`` call's connection id and payload, when it passes only those, of
    types botocore takes as they are: a post that may skip botocore (here and in the
    emulator's own process); else None."""
    connection_id, data = kwargs.get("ConnectionId"), kwargs.get("Data")
    if args or len(kwargs) != 2 or not isinstance(connection_id, str) or not connection_id:
        return None
    if not isinstance(data, bytes | bytearray | str):
        return None
    return connection_id, data.encode("utf-8") if isinstance(data, str) else bytes(data)


def posted(status: int) -> dict[str, Any]:
    """PostToConnection's answer (or an error's metadata) as botocore returns it."""
    return {"ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}}


# A client's plain item writes (every $connect and $disconnect of a connections table) skip
# botocore's validating, endpoint resolving and serializing, four fifths of what they cost a
# sandbox, when that changes nothing: the parameters are ones botocore accepts as they are, and
# no event handler but botocore's and ours would run for the call.
DIRECT_ITEM_WRITES = {"put_item": ("PutItem", "Item"), "delete_item": ("DeleteItem", "Key")}
_HOOKED_EVENTS = (
    "provide-client-params.dynamodb.{}",
    "before-parameter-build.dynamodb.{}",
    "before-endpoint-resolution.dynamodb",
    "before-call.dynamodb.{}",
    "after-call.dynamodb.{}",
)


def _plain_table_name(name: Any) -> bool:
    return type(name) is str and 3 <= len(name) <= 255


def _plain_attributes(attributes: Any) -> bool:
    """A non-empty map of names to string or number values, as botocore accepts them."""
    if type(attributes) is not dict or not attributes:
        return False
    for name, value in attributes.items():
        if type(name) is not str or len(name) > 65535 or type(value) is not dict:
            return False
        if len(value) != 1 or type(value.get("S", value.get("N"))) is not str:
            return False
    return True


def _only_botocore_hooks(client: Any, operation: str) -> bool:
    """Whether ``client`` would run only botocore's event handlers and ours for
    ``operation``: not a resource's transformations, a Stubber, or a handler's own hooks.
    Judged again after any handler is registered (botocore then starts a new lookup cache)."""
    try:
        emitter = client.meta.events._emitter
        cache = emitter._lookup_cache
        handlers = emitter._handlers
    except AttributeError:
        return False
    judged = client.__dict__.get("_wsctl_hooks")
    if judged is None or judged[0] is not cache:
        judged = client.__dict__["_wsctl_hooks"] = (cache, {})
    verdict = judged[1].get(operation)
    if verdict is None:
        events = [event.format(operation) for event in _HOOKED_EVENTS]
        verdict = judged[1][operation] = all(
            _botocores_or_ours(handler)
            for event in events
            for handler in handlers.prefix_search(event)
        )
    return verdict


def _botocores_or_ours(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    module = type(owner).__module__ if owner is not None else getattr(handler, "__module__", "")
    if module == __name__:
        return True
    return module.startswith("botocore.") and not module.startswith("botocore.stub")


def error_payload(exc: BaseException) -> dict[str, Any]:
    """A raised exception as the Python runtime reports it to Invoke's caller."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)],
    }


def main(
    connection: Any, code_dir: str, handler_name: str, env: dict[str, str], departures: Any
) -> None:
    """The sandbox's life: set up, import the handler, then run invocations one at a time.
    ``departures``: the emulator's count of connections gone, in memory shared with it."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(code_dir)
    sys.path.insert(0, code_dir)
    channel = _Channel(connection, departures)
    _install_forwarding(channel)
    lines: list[str] = []
    sys.stdout = _Lines(lines.append)  # type: ignore[assignment]
    sys.stderr = _Lines(lines.append)  # type: ignore[assignment]
    root = logging.getLogger()
    root.addHandler(_LogLines(lines.append))
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    module_name, attribute = handler_name.rsplit(".", 1)
    handler = None
    try:
        import importlib

        handler = getattr(importlib.import_module(module_name), attribute)
        if not callable(handler):
            raise TypeError(f"{handler_name} is not a function")
        error = None
    except Exception as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()
    channel.send(("ready", error))
    threading.Thread(target=channel.read_for_posts, name="wsctl-posts", daemon=True).start()
    while True:
        message = channel.next_invocation()
        if message is None:
            return
        _, event, fields = message
        context = LambdaContext(**fields)
        context.client_context = ClientContext.from_json(fields.get("client_context"))
        lines.clear()
        try:
            if handler is None:
                raise ImportError(
                    f"Runtime.ImportModuleError: Unable to import {handler_name}: {error}"
                )
            result = handler(event, context)
            outcome: tuple = (True, result)
        except Exception as exc:
            traceback.print_exception(exc)
            outcome = (False, error_payload(exc))
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            channel.finish(("done", *outcome, list(lines)))
        except Exception as exc:  # a result pickle cannot carry
            marshal_error = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
            }
            channel.send(("done", False, marshal_error, list(lines)))


# The zygote ------------------------------------------------------------------------------------
def _preload() -> None:
    """Import botocore and boto3 and load the models handlers use, once, in the zygote: every
    sandbox forked from it shares those pages (copy-on-write) and starts in milliseconds.

    A botocore session loads its models through a loader of its own; handlers create sessions
    freely (boto3.client, boto3.Session()), so each would parse the same JSON again. Sessions
    created in a sandbox share this one loader instead, as clients of one session share it.
    """
    import boto3
    import botocore.loaders
    import botocore.session

    loader = botocore.loaders.create_loader()
    session = botocore.session.Session()
    session.register_component("data_loader", loader)
    warm = boto3.session.Session(
        botocore_session=session,
        region_name="us-east-1",
        aws_access_key_id="zygote",
        aws_secret_access_key="zygote",
    )
    warm.client("dynamodb")
    warm.resource("dynamodb")
    warm.client("apigatewaymanagementapi", endpoint_url="https://zygote.invalid/dev")
    warm.client("lambda")

    def shared_loader(search_path_string: str | None = None) -> Any:
        if search_path_string:  # AWS_DATA_PATH set by the function: its own models
            return botocore.loaders.create_loader(search_path_string)
        return loader

    botocore.session.create_loader = shared_loader  # type: ignore[assignment]


def _become_sandbox(control: Any, wakeup: tuple[int, int], request: tuple, fds: list[int]) -> None:
    """In a child just forked from the zygote: drop the zygote's plumbing, run the sandbox
    (``fds``: its pipe, and the emulator's count of departed connections to map)."""
    import mmap
    import signal
    from multiprocessing.connection import Connection

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    control.close()
    for end in wakeup:
        os.close(end)
    _, code_dir, handler_name, env = request
    pipe, shared = fds
    departures = mmap.mmap(shared, 8)
    os.close(shared)
    code = 0
    try:
        main(Connection(pipe), code_dir, handler_name, env, departures)
    except SystemExit as exit_:  # sys.exit() in a handler ends the sandbox with its status
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        code = 1
    os._exit(code)


def run_zygote(control_fd: int) -> None:
    """Fork sandboxes on request, and report when they exit.

    Requests come as one packet each on ``control_fd`` (a SOCK_SEQPACKET socket), pickled
    ``("spawn", code_dir, handler, env)`` with the sandbox's end of its pipe attached; the
    answer is ``("spawned", pid)``, and ``("exited", pid, exit code)`` when it ends. The zygote
    stays single-threaded, so forking it is safe.
    """
    import gc
    import pickle
    import selectors
    import signal
    import socket

    control = socket.socket(fileno=control_fd)
    # Ctrl-C in the terminal reaches the whole process group: the emulator decides when the
    # zygote and its sandboxes end (the zygote ends when its pipe closes, and ends them).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Functions yield the CPU to the emulator, whose one event loop every frame, handshake and
    # answer to a sandbox goes through: on Lambda they would not share its CPU at all.
    os.nice(SANDBOX_NICENESS)
    _preload()
    gc.collect()
    gc.freeze()  # the preloaded objects stay put: a sandbox does not copy their pages
    wakeup = os.pipe()
    os.set_blocking(wakeup[1], False)
    signal.set_wakeup_fd(wakeup[1])
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wakeup[0], selectors.EVENT_READ)
    children: set[int] = set()

    def end_all() -> None:  # the emulator is gone: so are its sandboxes
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        for pid in children:
            os.waitpid(pid, 0)

    control.send(pickle.dumps(("ready",)))
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is not control:
                    os.read(wakeup[0], 512)
                    continue
                data, fds, _, _ = socket.recv_fds(control, 1 << 20, 2)
                if not data:
                    end_all()
                    return
                request = pickle.loads(data)
                pid = os.fork()
                if pid == 0:
                    _become_sandbox(control, wakeup, request, fds)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                control.send(pickle.dumps(("spawned", pid)))
            while children:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                children.discard(pid)
                control.send(pickle.dumps(("exited", pid, os.waitstatus_to_exitcode(status))))
    except ConnectionError:  # the emulator exited mid-conversation (a reset, a broken pipe)
        end_all()


def run_from_argv(argv: list[str]) -> None:
    """Entry point of the zygote process: ``zygote FD``."""
    run_zygote(int(argv[1]))
