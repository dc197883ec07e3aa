"""Django's HTTP handler for ASGI, serving each request's synchronous work on one thread of a fixed set.

Every view and middleware of the platform is synchronous. Django's own ASGI handler runs such a stack at a cost that
does not depend on the page: it starts a thread for every request and stops it afterwards, runs the middleware
chain in async mode so that each middleware's process_request and process_response crosses to a thread and back
(~18 crossings per request here), and starts two tasks per request to watch for a disconnect. Measured on the
portal bench (2 daphne, 2 cores): a view returning two bytes cost 1.8 ms of server CPU that way, 0.7 ms this way;
the dashboard 3.1 ms against 1.9 ms.

This handler keeps everything else of Django's (request parsing, request_started and request_finished, streaming
responses, errors as error pages), and changes how the synchronous part runs:

- The middleware chain is loaded synchronous, as under WSGI, and runs with the view in one call on a thread:
  request_started, the request built, the middleware and the view, in one crossing; response.close() (and so
  request_finished, which hands the database connection back) in a second one, after the response is sent, on the
  same thread. Thread-sensitive work of the request (a sync streaming response's iterator, async_to_sync calls back
  to the server's event loop, such as a channel-layer group_send after commit) also runs on that thread.
- The threads are a fixed set per process (settings.HTTP_THREADS, default 2), each running one request at a time:
  no thread is started per request, and a process under load works on a few requests at once, queueing the rest
  in its event loop, instead of switching the interpreter between dozens of threads. The number bounds how many
  requests of one process may wait on something slow outside (a payment provider) without holding up the rest:
  while threads are held up by one request for OVERFLOW_AFTER_SECONDS or more, a request that has waited that long
  gets a thread started for it, up to settings.HTTP_THREADS_MOST (default 16), stopped again once nobody waits.
  A request takes its thread only once its body has arrived, so a slow upload holds none.
- There is no disconnect watcher: a synchronous view cannot be stopped by one anyway (Django's only stops
  awaiting it), and the server (daphne) drops the answer to a client that has gone.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

THREAD_NAME_PREFIX = "http-request"
# A thread serving one request this long is held up; a request that has waited this long while threads are held up
# gets a thread started for it (up to HTTP_THREADS_MOST).
OVERFLOW_AFTER_SECONDS = 0.25
# Each executor's thread named apart (http-request-7_0) in logs and thread dumps.
_executor_numbers = itertools.count(1)


class RequestThreads:
    """Single-thread executors, each serving one request at a time: `size` of them, and more (up to `most`) only
    while some are held up; acquire() waits for a free one.

    Held up: serving one request for `overflow_after` seconds or more (a payment provider not answering). A request
    that has waited that long while threads are held up gets a thread started for it, one per thread held up, so
    `size` threads keep serving the rest. Load alone starts none: its requests wait in turn for threads that serve
    each of them in milliseconds. Threads beyond `size` stop as they are released with nobody waiting.

    Shared by every event loop of the process (daphne has one; tests run several), so the waiting is per loop:
    a released executor goes to the longest waiter, on that waiter's loop."""

    def __init__(self, size: int, *, most: int | None = None, overflow_after: float = 0.25) -> None:
        if size < 1:
            raise ValueError("at least one thread")
        self.size = size
        self.most = max(size, most if most is not None else size)
        self.overflow_after = overflow_after
        self._free: list[ThreadPoolExecutor] = []
        self._created = 0
        self._busy_since: dict[ThreadPoolExecutor, float] = {}
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = collections.deque()
        self._overflow_checks: dict[asyncio.Future, asyncio.TimerHandle] = {}
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Threads there are now, serving or free."""
        return self._created

    async def acquire(self) -> ThreadPoolExecutor:
        executor = await self._executor_free()
        with self._lock:
            self._busy_since[executor] = time.monotonic()
        return executor

    async def _executor_free(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._free:
                return self._free.pop()
            if self._created < self.size:
                return self._started()
            loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            self._waiters.append((loop, waiter))
            if self.most > self.size:
                self._overflow_checks[waiter] = loop.call_later(self.overflow_after, self._overflow, loop, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Handed one just as the wait was cancelled: pass it on rather than lose it.
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise
        finally:
            with self._lock:
                check = self._overflow_checks.pop(waiter, None)
            if check is not None:
                check.cancel()

    def release(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            self._busy_since.pop(executor, None)
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if waiter.done() or loop.is_closed():
                    continue
                loop.call_soon_threadsafe(self._hand_over, waiter, executor)
                return
            if self._created <= self.size:
                self._free.append(executor)
                return
            self._created -= 1
        executor.shutdown(wait=False)

    def close(self) -> None:
        """Stops the threads not serving a request (a server's live as long as its process; tests make many)."""
        with self._lock:
            executors, self._free = self._free, []
            self._created -= len(executors)
        for executor in executors:
            executor.shutdown(wait=False)

    def _started(self) -> ThreadPoolExecutor:
        """A new executor, counted (under the lock)."""
        self._created += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{THREAD_NAME_PREFIX}-{next(_executor_numbers)}")

    def _hand_over(self, waiter: asyncio.Future, executor: ThreadPoolExecutor) -> None:
        """On the waiter's loop: give it the executor, or pass it on if the wait ended meanwhile."""
        if waiter.done():
            self.release(executor)
        else:
            waiter.set_result(executor)

    def _overflow(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future) -> None:
        """On the waiter's loop, each overflow_after it waits: a thread started for it if threads are held up (one
        per thread held up, up to `most`), else a look again later."""
        with self._lock:
            if waiter.done():
                return
            now = time.monotonic()
            held_up = sum(1 for since in self._busy_since.values() if now - since >= self.overflow_after)
            if self._created >= min(self.most, self.size + held_up):
                self._overflow_checks[waiter] = loop.call_later(self.overflow_after, self._overflow, loop, waiter)
                return
            executor = self._started()
        waiter.set_result(executor)


class PooledThreadsASGIHandler(ASGIHandler):
    """See the module's docstring."""

    def __init__(self) -> None:
        # ASGIHandler.__init__ would load the middleware in async mode.
        super(ASGIHandler, self).__init__()
        self.load_middleware(is_async=False)
        if settings.HTTP_THREADS < 1:
            raise ImproperlyConfigured("HTTP_THREADS must be 1 or more.")
        if settings.HTTP_THREADS_MOST < settings.HTTP_THREADS:
            raise ImproperlyConfigured("HTTP_THREADS_MOST must be at least HTTP_THREADS.")
        self.threads = RequestThreads(settings.HTTP_THREADS, most=settings.HTTP_THREADS_MOST,
                                      overflow_after=OVERFLOW_AFTER_SECONDS)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        # The body first: a client sending it slowly holds no thread meanwhile.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            executor = await self.threads.acquire()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self._respond(scope, body_file, send, executor)
            finally:
                self.threads.release(executor)
        finally:
            body_file.close()

    async def _respond(self, scope, body_file, send, executor: ThreadPoolExecutor) -> None:
        try:
            response = await sync_to_async(self._response_for, thread_sensitive=True)(scope, body_file)
        except asyncio.CancelledError:
            # The server gave up on the request (its client long gone) while the view still runs on the thread:
            # once it ends, the thread hands its database connection back, as Django's handler does then.
            executor.submit(signals.request_finished.send, sender=self.__class__)
            raise
        try:
            await self.send_response(response, send)
        except asyncio.CancelledError:
            # Cancelled while sending: the response is still closed below.
            pass
        finally:
            await sync_to_async(response.close, thread_sensitive=True)()

    def _response_for(self, scope, body_file) -> HttpResponseBase:
        """On the request's thread: what Django's handler does before sending, in one call."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            # As Django's handler: the server chunks the body, so files are read in large blocks.
            response.block_size = self.chunk_size
        return response


def http_application() -> PooledThreadsASGIHandler:
    """Django set up and its HTTP application, as django.core.asgi.get_asgi_application() but with this handler."""
    import django

    django.setup(set_prefix=False)
    return PooledThreadsASGIHandler()
