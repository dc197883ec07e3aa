"""A real HTTP server standing in for Twilio's Messages API, for tests and the bench.

It checks what the official client sends (Basic auth SID:token, To, From, Body, StatusCallback) and can be
told to answer 500, 400 or to stall past the client's timeout for the next N requests. It also lists the messages it
took (GET Messages.json filtered by To, From and DateSent>), as Twilio does.
"""
from __future__ import annotations

import base64
import email.utils
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]+)/Messages\.json$")


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    received: list[dict] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _failures: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    stall_seconds: float = 2.0
    failures_served: int = 0

    lookups: int = 0

    def message_resource(self, item: dict) -> dict:
        return {
            "sid": item["sid"], "account_sid": self.account_sid, "to": item["To"], "from": item["From"],
            "body": item["Body"], "status": "queued", "num_segments": "1", "direction": "outbound-api",
            "api_version": "2010-04-01", "date_created": item["date_created"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{item['sid']}.json",
        }

    def fail_next(self, mode: str, count: int = 1) -> None:
        """mode: '500', '400' or 'timeout' for the next `count` requests."""
        with self._lock:
            self._failures.append((mode, count))

    def _take_failure(self) -> str | None:
        with self._lock:
            if not self._failures:
                return None
            mode, count = self._failures[0]
            self.failures_served += 1
            if count <= 1:
                self._failures.pop(0)
            else:
                self._failures[0] = (mode, count - 1)
            return mode


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API allows
        # Headers and body go out in two writes; with Nagle on, delayed ACKs would add ~40 ms per request.
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # silence the per-request log lines
            return

        def _reply(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            match = _PATH.match(self.path)
            if match is None or match["sid"] != fake.account_sid:
                fake.rejected.append(f"path {self.path}")
                return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
            expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                fake.rejected.append("auth")
                return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
            missing = [name for name in ("To", "From", "Body") if not form.get(name)]
            if missing:
                fake.rejected.append(f"missing {missing}")
                return self._reply(400, {"code": 21604, "message": f"missing {missing}", "status": 400})
            failure = fake._take_failure()
            if failure == "timeout":
                time.sleep(fake.stall_seconds)
                return self._reply(503, {"code": 20503, "message": "late", "status": 503})
            if failure == "500":
                return self._reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
            if failure == "400":
                return self._reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
            sid = "SM" + uuid.uuid4().hex
            with fake._lock:
                fake.received.append({**form, "sid": sid, "date_created": email.utils.formatdate(usegmt=True)})
            return self._reply(201, fake.message_resource(fake.received[-1]))

        def do_GET(self):
            """The Messages list (To, From and DateSent> filters, one page): how the platform asks whether an SMS
            whose receipt it never recorded was taken."""
            path, _question, query = self.path.partition("?")
            match = _PATH.match(path)
            expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if match is None or match["sid"] != fake.account_sid or self.headers.get("Authorization") != expected:
                return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
            filters = {k: v[0] for k, v in parse_qs(query).items()}
            since = filters.get("DateSent>")
            with fake._lock:
                found = [
                    item for item in fake.received
                    if item["To"] == filters.get("To", item["To"]) and item["From"] == filters.get("From", item["From"])
                    and (since is None or email.utils.parsedate_to_datetime(item["date_created"]).date().isoformat()
                         >= since[:10])
                ]
            fake.lookups += 1
            return self._reply(200, {
                "messages": [fake.message_resource(item) for item in reversed(found)], "page": 0,
                "page_size": 1000, "start": 0, "end": max(0, len(found) - 1), "next_page_uri": None,
                "previous_page_uri": None, "first_page_uri": path, "uri": self.path,
            })

    return Handler


class FakeTwilioServer:
    """Context manager: starts the server on 127.0.0.1 and a free port in a thread."""

    def __init__(self, *, account_sid: str = "AC" + "0" * 31 + "1", auth_token: str = "test-token"):
        self.fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeTwilioServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
