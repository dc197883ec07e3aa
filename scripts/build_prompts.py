"""Build the IVR's Asterisk prompts: every sentence and number word the flow can play
(callcenter.ivr.prompts.prompt_catalogue), spoken by espeak-ng (Mandarin voice `cmn`, English `en-us`) and
converted by sox to what Asterisk plays without transcoding: 8 kHz, mono, 16-bit signed WAV.

    python scripts/build_prompts.py [--out DIR] [--jobs N] [--force]

Files go to <DIR>/<language>/<name>.wav (DIR defaults to settings.CALLCENTER_PROMPTS_DIR). A file whose text has
not changed is kept (a sidecar .txt holds the text it was built from), so a rebuild only speaks what changed.
Needs the Debian packages espeak-ng and sox. Exit status 0 when every prompt is built, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VOICES = {"zh-hans": "cmn", "en": "en-us"}
# Words per minute: a little slower than espeak-ng's 175, for callers on a phone line.
SPEED = {"zh-hans": "150", "en": "155"}


def _django_setup() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()


def prompt_build(*, language: str, name: str, text: str, out_dir: Path, force: bool = False) -> bool:
    """Speak one prompt into out_dir/<language>/<name>.wav; False when it was already up to date."""
    target = out_dir / language / f"{name}.wav"
    source = target.with_suffix(".txt")
    if not force and target.exists() and source.exists() and source.read_text(encoding="utf-8") == text:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        spoken = Path(scratch) / "spoken.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICES[language], "-s", SPEED[language], "-w", str(spoken), text],
            check=True, capture_output=True,
        )
        converted = Path(scratch) / "converted.wav"
        subprocess.run(
            ["sox", str(spoken), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(converted)],
            check=True, capture_output=True,
        )
        # Replaced in one step: Asterisk never plays a half-written file.
        os.replace(converted, target)
    source.write_text(text, encoding="utf-8")
    return True


def prompts_build(*, out_dir: Path, jobs: int = 2, force: bool = False) -> tuple[int, int]:
    """Build every prompt of the catalogue; returns (built, kept)."""
    from callcenter.ivr.prompts import prompt_catalogue

    catalogue = prompt_catalogue()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(
            lambda item: prompt_build(language=item[0][0], name=item[0][1], text=item[1], out_dir=out_dir,
                                      force=force),
            catalogue.items(),
        ))
    built = sum(results)
    return built, len(results) - built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="output folder (default: settings.CALLCENTER_PROMPTS_DIR)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="prompts spoken at once")
    parser.add_argument("--force", action="store_true", help="rebuild every prompt")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"build_prompts: missing {', '.join(missing)} (apt-get install espeak-ng sox)", file=sys.stderr)
        return 1
    _django_setup()
    from django.conf import settings

    out_dir = Path(args.out or settings.CALLCENTER_PROMPTS_DIR)
    try:
        built, kept = prompts_build(out_dir=out_dir, jobs=args.jobs, force=args.force)
    except subprocess.CalledProcessError as error:
        print(f"build_prompts: {' '.join(error.cmd[:3])} failed: {error.stderr.decode(errors='replace')}",
              file=sys.stderr)
        return 1
    print(f"build_prompts: {built} built, {kept} up to date in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
