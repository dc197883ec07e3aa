"""scripts/restore_drill.py loaded as a module, for the replication and restore tests (scripts/ is no package)."""
import importlib.util
import shutil
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


def pair_start():
    """A primary archiving its WAL and a standby on its slot, made by deploy/postgres/'s scripts, in a folder of their
    own: (primary, standby, archive folder)."""
    drill = restore_drill()
    root = drill.drill_folder_make()
    primary, standby = drill.Cluster("primary", root), drill.Cluster("standby", root)
    try:
        drill.replication_pair_start(primary=primary, standby=standby, archive=root / "archive")
    except BaseException:
        pair_stop(primary, standby)
        raise
    return primary, standby, root / "archive"


def pair_stop(primary, standby) -> None:
    standby.stop()
    primary.stop()
    shutil.rmtree(primary.root, ignore_errors=True)
