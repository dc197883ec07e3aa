"""The ASGI entry point (config/asgi.py) as Daphne loads it, in a process of its own."""
import json
import subprocess
import sys

from tests.e2e.servers import BASE_DIR, dev_env


def test_what_the_entry_point_loads_is_kept_out_of_the_garbage_collectors_walks(tmp_path):
    """Everything loaded at start is frozen: a full collection walks only what came after it, not the ~225,000
    objects of Django, Wagtail and the apps (a pause of every request in the process each time)."""
    done = subprocess.run(
        [sys.executable, "-c", "import gc, json; import config.asgi; "
         "print(json.dumps({'frozen': gc.get_freeze_count(), 'tracked': len(gc.get_objects()), "
         "'application': type(config.asgi.application).__name__, "
         "'http': type(config.asgi.django_asgi_app).__name__, "
         "'http_threads': config.asgi.django_asgi_app.threads.size}))"],
        cwd=BASE_DIR, env=dev_env(tmp_path, keep_redis=False), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["application"] == "ProtocolTypeRouter"
    # HTTP through the handler that serves each request on one of a fixed set of threads (config/asgi_handler.py).
    assert figures["http"] == "PooledThreadsASGIHandler"
    assert figures["http_threads"] == 2
    assert figures["frozen"] > 100_000
    assert figures["tracked"] < 1_000
