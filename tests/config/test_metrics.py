"""/metrics (config/metrics.py) through real HTTP, read with prometheus_client's own parser: the guard (bearer token,
else this host only), django-prometheus' request figures, the domain's figures with their exact values, the domain
gauge that says when the database could not be read, and two real ASGI processes adding up in multiprocess mode."""
from __future__ import annotations

import datetime
import sys
import urllib.request

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import Call, CallState, CallTransport
from core.services.payments import payment_post
from core.services.tickets import ticket_open
from tests.e2e.servers import dev_env, free_loopback_port, start, stop, wait_until
from tests.factories import AccountFactory, BranchFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, sample_process

pytestmark = pytest.mark.django_db
TOKEN = "scrape-3f9c1d7e2b"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


@pytest.fixture
def no_token(settings):
    settings.METRICS_TOKEN = ""
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    settings.METRICS_DOMAIN_FIGURES_SECONDS = 0


def test_this_host_may_read_the_metrics_without_a_token(client, no_token):
    for address in ("127.0.0.1", "::1"):
        response = client.get("/metrics", REMOTE_ADDR=address)

        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "no-cache" in response["Cache-Control"]
        assert families(response.content.decode())["power95598_tickets_open"] == "gauge"


def test_another_host_is_refused_without_a_token(client, no_token):
    response = client.get("/metrics", REMOTE_ADDR="10.20.30.40")

    assert response.status_code == 403
    assert response.content.decode() == "无权读取监控指标"


@pytest.mark.parametrize(("address", "authorization", "status"), [
    ("10.20.30.40", f"Bearer {TOKEN}", 200),
    ("127.0.0.1", f"Bearer {TOKEN}", 200),
    # With a token set, being on this host is not enough.
    ("127.0.0.1", None, 403),
    ("10.20.30.40", "Bearer scrape-wrong", 403),
    ("10.20.30.40", f"bearer {TOKEN}x", 403),
    ("10.20.30.40", TOKEN, 403),
])
def test_with_a_token_set_only_the_bearer_token_lets_a_scraper_in(client, settings, address, authorization, status):
    settings.METRICS_TOKEN, settings.PROMETHEUS_MULTIPROC_DIR = TOKEN, ""
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", REMOTE_ADDR=address, **headers)

    assert response.status_code == status


def test_only_get_is_answered(client, no_token):
    assert client.post("/metrics").status_code == 405


def test_request_figures_count_the_requests_by_view(client, no_token):
    def healthz_count() -> float:
        text = client.get("/metrics").content.decode()
        return samples(text).get((
            "django_http_requests_total_by_view_transport_method_total",
            (("method", "GET"), ("transport", "http"), ("view", "healthz")),
        ), 0.0)

    before = healthz_count()
    for _ in range(3):
        client.get("/healthz/")

    assert healthz_count() == before + 3


def test_the_domain_figures_are_the_selectors_with_money_as_yuan(client, no_token):
    branch = BranchFactory()
    sample_process()
    for summary in ("电能表走快", "电能表停走"):
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary=summary, branch=branch)
    long_ago = timezone.now() - datetime.timedelta(days=30)
    ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary="早已超时", branch=branch, at=long_ago)
    Call.objects.create(
        transport=CallTransport.ASTERISK, call_key="waiting-1", caller_number="13800000000", dialled_number="95598",
        state=CallState.QUEUED, queue="hotline", started_at=timezone.now(), queued_at=timezone.now(),
    )
    account = AccountFactory()
    payment_post(account=account, amount="88.80", channel="counter", idempotency_key="m1", received_at=timezone.now())
    payment_post(account=account, amount="11.25", channel="online", idempotency_key="m2", received_at=long_ago)

    text = client.get("/metrics").content.decode()

    found = samples(text)
    assert found[("power95598_domain_figures_up", ())] == 1
    assert found[("power95598_tickets_open", ())] == 3
    assert found[("power95598_tickets_overdue", ())] == 1
    assert found[("power95598_calls_waiting", ())] == 1
    assert found[("power95598_payments_posted_today", ())] == 1
    assert found[("power95598_payments_posted_today_amount_yuan", ())] == 88.8
    assert found[("power95598_payments_posted_total", ())] == 2
    assert found[("power95598_payments_posted_amount_yuan_total", ())] == 100.05
    assert {labels: value for (name, labels), value in found.items() if name == "power95598_notifications_pending"} \
        == {(("state", s),): 0.0 for s in ("queued", "retrying", "held", "sending")}
    kinds = families(text)
    assert (kinds["power95598_payments_posted"], kinds["power95598_payments_posted_amount_yuan"]) == (
        "counter", "counter",
    )


def test_the_domain_figures_are_computed_once_per_period_for_every_scraper(client, no_token, settings):
    settings.METRICS_DOMAIN_FIGURES_SECONDS = 30
    branch = BranchFactory()
    sample_process()

    def tickets_open() -> float:
        return samples(client.get("/metrics").content.decode())[("power95598_tickets_open", ())]

    assert tickets_open() == 0
    ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary="电能表走快", branch=branch)
    # Within the period every scrape (through any process: the cache is shared) reads the figures already computed.
    assert tickets_open() == 0
    settings.METRICS_DOMAIN_FIGURES_SECONDS = 0
    assert tickets_open() == 1


def test_an_unreadable_database_drops_the_domain_figures_but_not_the_request_figures(client, no_token):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("the database system is shutting down")

    with connection.execute_wrapper(refuse):
        response = client.get("/metrics")

    assert response.status_code == 200
    found = samples(response.content.decode())
    assert found[("power95598_domain_figures_up", ())] == 0
    assert ("power95598_tickets_open", ()) not in found
    assert any(name.startswith("django_http_") for name, _ in found)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_two_asgi_processes_sharing_the_multiprocess_directory_add_up(tmp_path):
    """Two Daphne processes as production runs them: the scrape through either one counts both one's requests."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**dev_env(tmp_path, keep_redis=False), "PROMETHEUS_MULTIPROC_DIR": str(shared), "METRICS_TOKEN": ""}
    servers, urls = [], []
    try:
        for name in ("a", "b"):
            port = free_loopback_port()
            log = tmp_path / f"daphne-{name}.log"
            servers.append(start(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                env, log,
            ))
            urls.append(f"http://127.0.0.1:{port}")
            wait_until(lambda: _answers(f"{urls[-1]}/healthz/"), f"daphne {name} answers", servers[-1], log)
        for url, times in zip(urls, (3, 2)):
            for _ in range(times):
                get(f"{url}/healthz/")

        through_a, through_b = samples(get(f"{urls[0]}/metrics")), samples(get(f"{urls[1]}/metrics"))
    finally:
        for server in servers:
            stop(server)

    key = (
        "django_http_requests_total_by_view_transport_method_total",
        (("method", "GET"), ("transport", "http"), ("view", "healthz")),
    )
    # The readiness waits above each made one more /healthz/ request per process: 3+1 and 2+1.
    assert through_a[key] == through_b[key] == 7
    # The database of this test folder was never migrated: the domain figures say so instead of failing the scrape.
    assert through_a[("power95598_domain_figures_up", ())] == 0


def _answers(url: str) -> bool:
    try:
        get(url)
    except OSError:
        return False
    return True
