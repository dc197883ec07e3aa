"""The HTTP handler under ASGI (config/asgi_handler.py): each request's synchronous work on one thread of a fixed
set, the middleware chain synchronous, Django's behaviour otherwise kept. Requests are sent as an ASGI server sends
them (scope, receive, send) through the project's full middleware stack, to views of this module."""
import asyncio
import contextvars
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.asgi_handler import (
    OVERFLOW_AFTER_SECONDS,
    THREAD_NAME_PREFIX,
    PooledThreadsASGIHandler,
    RequestThreads,
)

pytestmark = pytest.mark.urls(__name__)

_seen = contextvars.ContextVar("seen", default="unset")
_blocking = {"now": 0, "most": 0, "lock": threading.Lock(), "release": threading.Event()}
_streamed: list[str] = []


def _thread() -> str:
    return threading.current_thread().name


def thread_view(request):
    return HttpResponse(_thread())


def context_view(request):
    """Answers what an earlier request left in a context variable, then leaves its own value there."""
    before = _seen.get()
    _seen.set(request.GET.get("mark", ""))
    return HttpResponse(f"{before} {_thread()}")


def blocking_view(request):
    with _blocking["lock"]:
        _blocking["now"] += 1
        _blocking["most"] = max(_blocking["most"], _blocking["now"])
    try:
        _blocking["release"].wait(10)
    finally:
        with _blocking["lock"]:
            _blocking["now"] -= 1
    return HttpResponse(_thread())


def _blocking_reset() -> None:
    _blocking.update(now=0, most=0)
    _blocking["release"].clear()


async def _until_blocked(count: int) -> None:
    """Returns once `count` requests are inside blocking_view."""
    while _blocking["now"] < count:
        await asyncio.sleep(0.01)


def streaming_view(request):
    def parts():
        try:
            for number in range(3):
                _streamed.append(_thread())
                yield f"part{number};".encode()
        finally:
            _streamed.append("closed:" + _thread())

    return StreamingHttpResponse(parts())


def loop_view(request):
    """Runs a coroutine through async_to_sync (as a channel-layer group_send after commit does) and answers the id of
    the loop it ran on."""
    async def which_loop():
        return id(asyncio.get_running_loop())

    return HttpResponse(str(async_to_sync(which_loop)()))


def group_send_view(request):
    async_to_sync(get_channel_layer().group_send)("handler-test", {"type": "note", "text": request.GET["text"]})
    return HttpResponse(b"sent")


@csrf_exempt
def form_view(request):
    return HttpResponse(request.POST.get("text", ""))


def failing_view(request):
    raise RuntimeError("this view fails")


urlpatterns = [
    path("thread/", thread_view),
    path("context/", context_view),
    path("block/", blocking_view),
    path("stream/", streaming_view),
    path("loop/", loop_view),
    path("group-send/", group_send_view),
    path("form/", form_view),
    path("fail/", failing_view),
]


async def _asgi_request(application, url: str, *, method: str = "GET", body: bytes = b"",
                        headers: list[tuple[bytes, bytes]] = (), messages: list[dict] | None = None,
                        receive_after=None) -> dict:
    """One request as an ASGI server sends it; the status, headers and body sent back (status None: nothing).
    `messages` are what receive() gives first, then receive_after() if given, else nothing (the client waits)."""
    route, _, query = url.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": route, "raw_path": route.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }
    incoming = list(messages or [{"type": "http.request", "body": body, "more_body": False}])
    sent: list[dict] = []

    async def receive():
        if incoming:
            return incoming.pop(0)
        if receive_after is not None:
            return await receive_after()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    start = next((message for message in sent if message["type"] == "http.response.start"), None)
    return {
        "status": start["status"] if start else None,
        "headers": dict(start["headers"]) if start else {},
        "body": b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body"),
    }


@pytest.fixture
def application(settings):
    settings.HTTP_THREADS = settings.HTTP_THREADS_MOST = 2
    handler = PooledThreadsASGIHandler()
    yield handler
    handler.threads.close()


@pytest.fixture
def signal_threads():
    """The threads request_started and request_finished were sent on, in order."""
    sent: list[tuple[str, str]] = []

    def started(**kwargs):
        sent.append(("started", _thread()))

    def finished(**kwargs):
        sent.append(("finished", _thread()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield sent
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def test_the_middleware_chain_is_synchronous(application):
    assert not asyncio.iscoroutinefunction(application._middleware_chain)


def test_a_request_starts_runs_and_finishes_on_one_thread_of_the_set(application, signal_threads):
    answer = asyncio.run(_asgi_request(application, "/thread/"))

    assert answer["status"] == 200
    view_thread = answer["body"].decode()
    assert view_thread.startswith(THREAD_NAME_PREFIX)
    # request_finished (which hands the database connection back) on the thread that used it.
    assert signal_threads == [("started", view_thread), ("finished", view_thread)]


def test_threads_are_reused_not_started_per_request(application):
    async def twenty_requests():
        return [(await _asgi_request(application, "/thread/"))["body"] for _ in range(20)]

    names = asyncio.run(twenty_requests())

    assert len(names) == 20
    assert len(set(names)) <= 2


def test_at_most_http_threads_requests_of_a_process_run_at_once_the_rest_wait_and_are_served(application):
    _blocking_reset()

    async def six_at_once():
        requests = [asyncio.ensure_future(_asgi_request(application, "/block/")) for _ in range(6)]
        await _until_blocked(2)
        await asyncio.sleep(0.2)
        running_while_blocked = _blocking["now"]
        _blocking["release"].set()
        return running_while_blocked, await asyncio.gather(*requests)

    running_while_blocked, answers = asyncio.run(six_at_once())

    assert running_while_blocked == 2
    assert _blocking["most"] == 2
    assert [answer["status"] for answer in answers] == [200] * 6


def test_what_a_request_sets_in_its_context_does_not_reach_the_next_on_the_same_thread(application):
    async def two_requests():
        # Each in a task of its own, as a server runs each request.
        first = await asyncio.ensure_future(_asgi_request(application, "/context/?mark=first"))
        second = await asyncio.ensure_future(_asgi_request(application, "/context/?mark=second"))
        return first["body"].decode().split(), second["body"].decode().split()

    (first_saw, first_thread), (second_saw, second_thread) = asyncio.run(two_requests())

    assert second_thread == first_thread
    assert (first_saw, second_saw) == ("unset", "unset")


# Django warns that it reads a synchronous iterator whole before sending under ASGI; that is its behaviour.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_streaming_response_is_iterated_and_closed_on_the_requests_thread(application, signal_threads):
    _streamed.clear()
    answer = asyncio.run(_asgi_request(application, "/stream/"))

    assert answer["status"] == 200
    assert answer["body"] == b"part0;part1;part2;"
    request_thread = signal_threads[0][1]
    assert _streamed == [request_thread] * 3 + ["closed:" + request_thread]
    assert signal_threads == [("started", request_thread), ("finished", request_thread)]


def test_async_to_sync_in_a_view_runs_on_the_servers_event_loop(application):
    async def request():
        answer = await _asgi_request(application, "/loop/")
        return answer["body"], id(asyncio.get_running_loop())

    ran_on, serving_loop = asyncio.run(request())

    assert int(ran_on) == serving_loop


def test_a_group_send_from_a_view_reaches_a_listener_on_the_server(application, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    async def listen_then_request():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("handler-test", channel)
        listening = asyncio.ensure_future(layer.receive(channel))
        answer = await _asgi_request(application, "/group-send/?text=restored")
        return answer["status"], await asyncio.wait_for(listening, 5)

    status, message = asyncio.run(listen_then_request())

    assert status == 200
    assert message == {"type": "note", "text": "restored"}


def test_a_failing_view_answers_500_and_the_thread_serves_the_next_request(application):
    async def two_requests():
        return await _asgi_request(application, "/fail/"), await _asgi_request(application, "/thread/")

    failed, next_one = asyncio.run(two_requests())

    assert failed["status"] == 500
    assert next_one["status"] == 200


def test_a_body_over_the_limit_answers_400(application, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    answer = asyncio.run(_asgi_request(application, "/form/", method="POST", body=b"text=" + b"x" * 100,
                                       headers=[(b"content-type", b"application/x-www-form-urlencoded")]))

    assert answer["status"] == 400


def test_a_client_gone_before_its_body_arrived_gets_nothing_and_frees_its_thread(application, signal_threads):
    async def requests():
        gone = await _asgi_request(application, "/thread/", messages=[{"type": "http.disconnect"}])
        return gone, [await _asgi_request(application, "/thread/") for _ in range(3)]

    gone, later = asyncio.run(requests())

    assert gone["status"] is None
    assert [answer["status"] for answer in later] == [200] * 3
    assert [event for event, _thread_name in signal_threads].count("started") == 3


def test_a_client_sending_its_body_slowly_holds_no_thread(settings):
    settings.HTTP_THREADS = settings.HTTP_THREADS_MOST = 1
    application = PooledThreadsASGIHandler()

    async def slow_upload_and_another_request():
        body_rest = asyncio.Event()

        async def slow_receive():
            await body_rest.wait()
            return {"type": "http.request", "body": b"rest", "more_body": False}

        first_part = {"type": "http.request", "body": b"text=", "more_body": True}
        uploading = asyncio.ensure_future(_asgi_request(
            application, "/form/", method="POST", messages=[first_part], receive_after=slow_receive,
            headers=[(b"content-type", b"application/x-www-form-urlencoded")]))
        await asyncio.sleep(0.05)
        # The only thread serves another request while the upload is still arriving.
        other = await asyncio.wait_for(_asgi_request(application, "/thread/"), 5)
        upload_done_before = uploading.done()
        body_rest.set()
        return other, upload_done_before, await uploading

    try:
        other, upload_done_before, upload = asyncio.run(slow_upload_and_another_request())
    finally:
        application.threads.close()

    assert other["status"] == 200
    assert upload_done_before is False
    assert (upload["status"], upload["body"]) == (200, b"rest")


def test_a_request_given_up_by_the_server_mid_view_hands_its_connection_back_when_the_view_ends(
        settings, signal_threads):
    settings.HTTP_THREADS = settings.HTTP_THREADS_MOST = 1
    application = PooledThreadsASGIHandler()
    _blocking_reset()

    async def give_up_then_next():
        stuck = asyncio.ensure_future(_asgi_request(application, "/block/"))
        await _until_blocked(1)
        stuck.cancel()  # as daphne does once the client has gone and the application outlives its close timeout
        with pytest.raises(asyncio.CancelledError):
            await stuck
        _blocking["release"].set()
        return await asyncio.wait_for(_asgi_request(application, "/thread/"), 10)

    try:
        following = asyncio.run(give_up_then_next())
    finally:
        application.threads.close()

    assert following["status"] == 200
    thread = following["body"].decode()
    # The given-up request's request_finished (which closes or returns its database connection) ran on its thread
    # after its view, before the next request started there.
    assert signal_threads == [("started", thread), ("finished", thread), ("started", thread), ("finished", thread)]


def test_a_request_kept_waiting_by_threads_held_up_gets_a_thread_of_its_own_stopped_afterwards(settings):
    settings.HTTP_THREADS, settings.HTTP_THREADS_MOST = 1, 2
    application = PooledThreadsASGIHandler()
    _blocking_reset()

    async def held_up_then_another():
        held_up = asyncio.ensure_future(_asgi_request(application, "/block/"))
        await _until_blocked(1)
        began = time.monotonic()
        other = await asyncio.wait_for(_asgi_request(application, "/thread/"), 5)
        waited = time.monotonic() - began
        # The thread started for it stopped once it was done and nobody waited: back to HTTP_THREADS.
        threads_after = application.threads.count
        _blocking["release"].set()
        return other, waited, threads_after, await held_up

    try:
        other, waited, threads_after, held_up = asyncio.run(held_up_then_another())
    finally:
        application.threads.close()

    assert other["status"] == 200 and held_up["status"] == 200
    assert waited >= OVERFLOW_AFTER_SECONDS
    assert other["body"] != held_up["body"]  # served on another thread while the first was held up
    assert threads_after == 1


# --- the set of threads ------------------------------------------------------------------------------------------


def test_a_released_thread_goes_to_the_longest_waiter():
    threads = RequestThreads(1)

    async def scenario():
        held = await threads.acquire()
        order = []

        async def wait(name):
            executor = await threads.acquire()
            order.append(name)
            threads.release(executor)

        waiting = [asyncio.ensure_future(wait(name)) for name in ("first", "second", "third")]
        await asyncio.sleep(0.05)
        assert order == []
        threads.release(held)
        await asyncio.gather(*waiting)
        return order

    try:
        assert asyncio.run(scenario()) == ["first", "second", "third"]
    finally:
        threads.close()


def test_a_cancelled_wait_loses_no_thread():
    threads = RequestThreads(1)

    async def scenario():
        held = await threads.acquire()
        cancelled = asyncio.ensure_future(threads.acquire())
        await asyncio.sleep(0.01)
        cancelled.cancel()
        threads.release(held)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # The one thread is free again: the next request gets it at once.
        return await asyncio.wait_for(threads.acquire(), 1)

    try:
        assert asyncio.run(scenario()) is not None
    finally:
        threads.close()


def test_a_thread_released_from_another_event_loop_wakes_the_waiter_on_its_own():
    threads = RequestThreads(1)
    held = asyncio.run(threads.acquire())

    async def wait_for_it():
        return await asyncio.wait_for(threads.acquire(), 5)

    def release_later():
        time.sleep(0.1)
        threads.release(held)

    releaser = threading.Thread(target=release_later)
    releaser.start()
    try:
        assert asyncio.run(wait_for_it()) is held
    finally:
        releaser.join()
        threads.close()


def test_threads_are_started_beyond_the_set_only_after_a_wait_and_up_to_the_most():
    threads = RequestThreads(1, most=2, overflow_after=0.05)

    async def scenario():
        held = await threads.acquire()
        began = time.monotonic()
        second = await threads.acquire()
        waited = time.monotonic() - began
        third = asyncio.ensure_future(threads.acquire())
        await asyncio.sleep(0.2)
        third_waits_at_the_most = not third.done()
        threads.release(second)
        third_executor = await asyncio.wait_for(third, 1)
        counts = [threads.count]
        threads.release(third_executor)  # nobody waits: the thread beyond the set stops
        counts.append(threads.count)
        threads.release(held)
        counts.append(threads.count)
        return waited, third_waits_at_the_most, third_executor is second, counts

    try:
        waited, third_waits_at_the_most, handed_on, counts = asyncio.run(scenario())
    finally:
        threads.close()

    assert waited >= 0.05
    assert third_waits_at_the_most
    assert handed_on
    assert counts == [2, 1, 1]
    assert threads.count == 0


def test_load_alone_starts_no_thread_beyond_the_set():
    """Requests queue for a long time in all, but each is served quickly: no thread is held up, none is started."""
    threads = RequestThreads(1, most=4, overflow_after=0.05)

    counts = []

    async def scenario():
        async def request():
            executor = await threads.acquire()
            counts.append(threads.count)
            await asyncio.sleep(0.02)  # served in 20 ms
            threads.release(executor)

        began = time.monotonic()
        await asyncio.gather(*(request() for _ in range(10)))
        return time.monotonic() - began

    try:
        took = asyncio.run(scenario())
    finally:
        threads.close()

    assert took >= 0.2  # the last waited far longer than overflow_after
    assert counts == [1] * 10


def test_at_least_one_thread(settings):
    with pytest.raises(ValueError):
        RequestThreads(0)
    settings.HTTP_THREADS = 0
    with pytest.raises(ImproperlyConfigured, match="HTTP_THREADS must be 1 or more"):
        PooledThreadsASGIHandler()
    settings.HTTP_THREADS, settings.HTTP_THREADS_MOST = 4, 2
    with pytest.raises(ImproperlyConfigured, match="HTTP_THREADS_MOST must be at least HTTP_THREADS"):
        PooledThreadsASGIHandler()
