"""bench/dataset.py builds a data set that holds together: run it small on its own PostgreSQL (DATABASE_URL's
server when it is PostgreSQL, else a throwaway cluster) and read what dataset_check finds."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_data_set_is_consistent_for_the_portal():
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "dataset.py"), "--customers", "400", "--months", "3"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures == {
        "accounts": 400, "invalid_account_numbers": 0, "paid_bills_without_one_payment": 0, "balances_off": 0,
        "bindings": 100, "bound_users": 100, "accounts_to_bind": 100, "bindings_off_pattern": 0,
        "lookups_in_the_future": 0,
    }
