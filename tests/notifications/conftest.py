"""Fixtures: a frozen notifications clock, the fake Twilio server wired into settings, a customer."""
from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from notifications import clock
from tests.factories import CustomerFactory

from .fake_twilio import FakeTwilioServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year, month, day, hour, minute=0, second=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


class FrozenClock:
    def __init__(self, at: datetime.datetime):
        self.at = at

    def __call__(self) -> datetime.datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += datetime.timedelta(**delta)


@pytest.fixture
def frozen(monkeypatch):
    """The notifications clock stopped at 10:00 Shanghai on a weekday (outside quiet hours)."""
    frozen_clock = FrozenClock(local(2026, 11, 23, 10))
    monkeypatch.setattr(clock, "now", frozen_clock)
    return frozen_clock


@pytest.fixture
def twilio(settings):
    with FakeTwilioServer() as server:
        settings.TWILIO_ACCOUNT_SID = server.fake.account_sid
        settings.TWILIO_AUTH_TOKEN = server.fake.auth_token
        settings.TWILIO_FROM_NUMBER = "+8610955980000"
        settings.TWILIO_API_BASE = server.base_url
        settings.NOTIFICATIONS_PUBLIC_BASE_URL = "https://95598.example.cn"
        settings.NOTIFICATIONS_TWILIO_TIMEOUT_SECONDS = 0.5
        yield server.fake


@pytest.fixture
def customer(db):
    return CustomerFactory(name="张三", phone="13800138000", email="zhangsan@example.cn")
