"""The signed-in user of a request, read from the cache instead of the database (AUTHENTICATION_BACKENDS).

Django loads the user row on every signed-in request (the session keeps only its id). These backends keep that row
in the cache for AUTH_USER_CACHE_SECONDS (0: off, the default without Redis) and forget it whenever the user is
saved or deleted, at once and again after the transaction commits (a request that read the old row meanwhile cannot
keep it). So a password change still signs out every other session on their next request (Django compares the
session's hash with the row's password), and deactivating a user still stops them at once. A change that bypassed
save() (a bulk update) or whose cache delete was lost to a Redis blip shows within AUTH_USER_CACHE_SECONDS.

Everything else (authenticate, permissions) is the backends' own; permissions are read from the database as before.
"""
from __future__ import annotations

import logging

from allauth.account.auth_backends import AuthenticationBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)


def user_cache_key(user_id) -> str:
    return f"auth:user:{user_id}"


class _CachedUser:
    def get_user(self, user_id):
        seconds = settings.AUTH_USER_CACHE_SECONDS
        if not seconds:
            return super().get_user(user_id)
        key = user_cache_key(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is not None:
                cache.set(key, user, seconds)
            return user
        return user if self.user_can_authenticate(user) else None


class CachedModelBackend(_CachedUser, ModelBackend):
    """Django's ModelBackend with the user row cached."""


class CachedAuthenticationBackend(_CachedUser, AuthenticationBackend):
    """allauth's backend (sign-in by email, phone or username) with the user row cached."""


def _forget(user_id) -> None:
    try:
        cache.delete(user_cache_key(user_id))
    except Exception:
        # The cache fails soft; a kept row lasts at most AUTH_USER_CACHE_SECONDS.
        logger.warning("cache unreachable: user %s not forgotten", user_id, exc_info=True)


def user_cache_forget(sender, instance, **kwargs) -> None:
    """Receiver of the user model's post_save and post_delete."""
    user_id = instance.pk
    _forget(user_id)
    transaction.on_commit(lambda: _forget(user_id))


def connect_signals() -> None:
    """Called from the portal app's ready(): every process forgets changed users, whether or not it signs anyone
    in."""
    user_model = get_user_model()
    post_save.connect(user_cache_forget, sender=user_model, dispatch_uid="config.auth.user_saved")
    post_delete.connect(user_cache_forget, sender=user_model, dispatch_uid="config.auth.user_deleted")
