"""Shared fixtures. Tests build their own small worlds with the factories in tests/factories.py."""
import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
