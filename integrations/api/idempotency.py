"""Writes sent with an `Idempotency-Key` header act once: a repeat of the same request gets the first answer back
(marked `Idempotent-Replayed: true`); the same key with a different body is refused. Writes without the header
rely on their natural key (a meter and a day, a bank serial number) inside the core service."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from integrations.api.errors import ApiError
from integrations.models import IdempotentResponse

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 100


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.get_full_path().encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(request: HttpRequest, stored: IdempotentResponse, fingerprint: str) -> tuple[int, dict]:
    if stored.request_fingerprint != fingerprint:
        raise ApiError(422, "idempotency_key_reused", _("该幂等键已用于另一请求内容"))
    request.idempotent_replayed = True
    return stored.status, stored.body


def idempotent(request: HttpRequest, run: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    """Run the write `run` (returning status and a JSON-able body) at most once per client and key."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return run()
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(422, "idempotency_key_too_long", _("幂等键不能超过100个字符"))
    client = request.auth
    fingerprint = _fingerprint(request)
    stored = IdempotentResponse.objects.filter(client=client, key=key).first()
    if stored is not None:
        return _replay(request, stored, fingerprint)
    try:
        with transaction.atomic():
            status, body = run()
            body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
            if status < 500:
                IdempotentResponse.objects.create(
                    client=client, key=key, request_fingerprint=fingerprint, status=status, body=body
                )
    except IntegrityError:
        # The same key arrived twice at once: this copy's work is rolled back and the first answer returned.
        stored = IdempotentResponse.objects.filter(client=client, key=key).first()
        if stored is None:
            raise
        return _replay(request, stored, fingerprint)
    return status, body
