"""A person's first look, in a real Chromium against the real ASGI server (Daphne) on a freshly migrated database."""
import json
import sys
import urllib.error
import urllib.request

import pytest

from tests.browser import chromium
from tests.e2e.servers import BASE_DIR, database_copy, dev_env, free_loopback_port, start, stop, wait_until

SCREENSHOTS = BASE_DIR / "var" / "screenshots"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@pytest.fixture
def asgi_server(tmp_path, migrated_sqlite):
    """Daphne serving config.asgi over a copy of the migrated SQLite file; Redis too when the caller has it."""
    database_copy(migrated_sqlite, tmp_path)
    env = dev_env(tmp_path, keep_redis=True)
    port = free_loopback_port()
    log = tmp_path / "daphne.log"
    server = start(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env, log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base_url}/healthz/"), "daphne answers", server, log)
        yield base_url
    finally:
        stop(server)


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")


def test_a_visitor_sees_a_healthy_platform_and_the_home_page(asgi_server, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    health = page.goto(f"{asgi_server}/readyz/")
    assert health.status == 200
    shown = json.loads(page.locator("pre").first.inner_text())
    assert shown["status"] == "ok"
    assert shown["down"] == []
    assert shown["checks"]["database"] == {"ok": True, "detail": "sqlite"}
    page.screenshot(path=str(SCREENSHOTS / "healthz.png"), full_page=True)

    responses = {}
    page.on("response", lambda response: responses.setdefault(response.url, response.status))
    home = page.goto(f"{asgi_server}/")
    assert home.status == 200
    assert page.title() == "国网95598供电服务"
    hotline = page.locator(".hero__hotline")
    assert hotline.is_visible()
    assert hotline.inner_text().split() == ["供电服务热线", "95598"]
    assert page.locator(".hero__number").get_attribute("href") == "tel:95598"
    # The stylesheet came through Daphne's static handling and was applied.
    assert responses[f"{asgi_server}/static/css/site.css"] == 200
    assert page.evaluate("document.styleSheets[0].cssRules.length") > 0
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)
