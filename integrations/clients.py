"""API keys: made once and shown once, stored as a SHA-256 hash, found by their public prefix."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from integrations.models import ApiClient
from integrations.scopes import SCOPES

KEY_PREFIX_LENGTH = 8


class ApiClientError(DomainError):
    code = "api_client_error"


@dataclass(frozen=True)
class IssuedKey:
    client: ApiClient
    key: str  # shown once; only its hash is kept


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_client_create(*, name: str, system: str, scopes: list[str], rate_limit_per_minute: int = 600) -> IssuedKey:
    name = (name or "").strip()
    if not name:
        raise ApiClientError(_("请填写客户端名称"), field="name")
    if system not in ApiClient.System.values:
        raise ApiClientError(_("未知的系统类型：%(system)s") % {"system": system}, field="system")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ApiClientError(_("未知的权限范围：%(scopes)s") % {"scopes": ", ".join(unknown)}, field="scopes")
    if rate_limit_per_minute < 1:
        raise ApiClientError(_("每分钟请求上限至少为1"), field="rate_limit_per_minute")
    if ApiClient.objects.filter(name=name).exists():
        raise ApiClientError(_("已有同名的客户端"), field="name")
    with transaction.atomic():
        while True:
            prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
            if not ApiClient.objects.filter(key_prefix=prefix).exists():
                break
        key = f"{prefix}.{secrets.token_urlsafe(32)}"
        client = ApiClient.objects.create(
            name=name,
            system=system,
            key_prefix=prefix,
            key_hash=_hash(key),
            scopes=sorted(set(scopes)),
            rate_limit_per_minute=rate_limit_per_minute,
        )
    return IssuedKey(client=client, key=key)


def api_client_for_key(key: str) -> ApiClient | None:
    """The active client holding this key, or None; compares hashes in constant time."""
    prefix, _dot, _secret = (key or "").partition(".")
    if not prefix or not _secret:
        return None
    client = ApiClient.objects.filter(key_prefix=prefix, active=True).first()
    if client is None or not hmac.compare_digest(client.key_hash, _hash(key)):
        return None
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)  # at most one write a minute per client
    return client
