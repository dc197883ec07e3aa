"""scripts/restore_drill.py loaded as a module, for the replication and restore tests (scripts/ is no package)."""
import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "restore_drill.py"


def restore_drill():
    if "restore_drill" not in sys.modules:
        spec = importlib.util.spec_from_file_location("restore_drill", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["restore_drill"] = module
        spec.loader.exec_module(module)
    return sys.modules["restore_drill"]
