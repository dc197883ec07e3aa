"""Every prompt the IVR can play, per language: the flow's sentences and the number words speech.py composes
amounts, dates and times from. scripts/build_prompts.py turns each into <CALLCENTER_PROMPTS_DIR>/<language>/<name>.wav
for Asterisk; the tests check the flow plays nothing else."""
from __future__ import annotations

from .flow import PROMPTS
from .speech import EN, LANGUAGES, NUMBER_WORDS, ZH


def prompt_catalogue() -> dict[tuple[str, str], str]:
    """(language, prompt name) -> the text spoken in that file."""
    catalogue: dict[tuple[str, str], str] = {}
    for name, (zh, en) in PROMPTS.items():
        catalogue[(ZH, name)] = zh
        catalogue[(EN, name)] = en
    for language in LANGUAGES:
        for name, text in NUMBER_WORDS[language].items():
            catalogue[(language, name)] = text
    return catalogue
