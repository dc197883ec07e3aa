"""Traffic while a fault is injected: closed-loop HTTP clients cycling over a list of pages, each answer classified,
and a bank's front-end uploading collection files through the integrations API, retrying as the retry page says."""
from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

RETRY_TITLE = "系统繁忙，请稍后重试"


def response_classify(*, status: int, body: bytes) -> str:
    """"ok" (answered: 2xx or 3xx), "retry" (503 with the retry page or the API's service_unavailable body: the
    client is told to come back) or "error" (a 500, another 5xx or 4xx, a 503 without the retry page, a
    traceback)."""
    text = body.decode("utf-8", errors="replace")
    if "Traceback" in text:
        return "error"
    if status < 400:
        return "ok"
    if status == 503 and (f"<h1>{RETRY_TITLE}</h1>" in text or '"code": "service_unavailable"' in text):
        return "retry"
    return "error"


@dataclass(frozen=True)
class Page:
    path: str
    headers: dict = field(default_factory=dict)


@dataclass
class TrafficTally:
    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # (time, outcome) of every answer, for "how long did answers keep failing" after the fault.
    timeline: list[tuple[float, str]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())


class PageTraffic:
    """`clients` threads, each GETting the pages in turn on its own keep-alive connection to one of the ports."""

    def __init__(self, *, ports: list[int], pages: list[Page], clients: int = 4, pause: float = 0.02) -> None:
        self.ports, self.pages, self.clients, self.pause = ports, pages, clients, pause
        self.tally = TrafficTally()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _record(self, outcome: str, detail: str = "") -> None:
        with self._lock:
            self.tally.outcomes[outcome] += 1
            self.tally.timeline.append((time.monotonic(), outcome))
            if outcome == "error" and len(self.tally.errors) < 20:
                self.tally.errors.append(detail)

    def _client(self, index: int) -> None:
        port = self.ports[index % len(self.ports)]
        connection = None
        position = index
        while not self._stop.is_set():
            page = self.pages[position % len(self.pages)]
            position += 1
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", page.path, headers=page.headers)
                response = connection.getresponse()
                body = response.read()
                outcome = response_classify(status=response.status, body=body)
                self._record(outcome, f"GET {page.path} -> {response.status} {body[:200]!r}")
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                self._record("error", f"GET {page.path} -> {type(error).__name__}: {error}")
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.2)
            time.sleep(self.pause)
        if connection is not None:
            connection.close()

    def start(self) -> None:
        for index in range(self.clients):
            thread = threading.Thread(target=self._client, args=(index,), name=f"traffic-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> TrafficTally:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.tally


def multipart_file(*, name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "chaos-boundary-7d1f"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class UploadTally:
    files: int = 0
    accepted: int = 0
    attempts: int = 0
    retried: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class BankUploads:
    """A bank's front-end machine: uploads collection files one after another; an answer of 503 (or no answer) is
    retried with the same file after Retry-After, as the API's retry contract says; a replayed file answers 200."""

    def __init__(self, *, port: int, bank_code: str, key: str, files: list[tuple[str, bytes]]) -> None:
        self.port, self.bank_code, self.key, self.files = port, bank_code, key, files
        self.tally = UploadTally(files=len(files))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bank-uploads", daemon=True)

    def _post(self, name: str, content: bytes) -> tuple[int, bytes, str]:
        body, content_type = multipart_file(name=name, content=content)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("POST", f"/api/v1/banks/{self.bank_code}/collections/", body=body,
                               headers={"Authorization": f"Bearer {self.key}", "Content-Type": content_type})
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Retry-After", "")
        finally:
            connection.close()

    def _run(self) -> None:
        for name, content in self.files:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                self.tally.attempts += 1
                try:
                    status, body, retry_after = self._post(name, content)
                except (OSError, http.client.HTTPException) as error:
                    self.tally.retried[type(error).__name__] += 1
                    time.sleep(1)
                    continue
                if status in (200, 201):
                    self.tally.accepted += 1
                    break
                if response_classify(status=status, body=body) == "retry":
                    self.tally.retried["503"] += 1
                    time.sleep(float(retry_after or 1))
                    continue
                self.tally.errors.append(f"{name} -> {status} {body[:300]!r}")
                break
            if self._stop.is_set():
                return

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> UploadTally:
        self._thread.join(timeout)
        self._stop.set()
        return self.tally


def outage_seconds(timeline: list[tuple[float, str]], *, since: float) -> float:
    """From `since` (the fault), how long until the last answer that was not "ok"."""
    failing = [moment for moment, outcome in timeline if moment >= since and outcome != "ok"]
    return round(max(failing) - since, 1) if failing else 0.0
