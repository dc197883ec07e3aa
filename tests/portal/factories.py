"""Factories for portal tests (shared: append only)."""
import hashlib

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import AccountBinding, BindingMethod
from tests.factories import AccountFactory

# --- binding (helper "binding") --------------------------------------------------------------------------------


class PortalUserFactory(factory.django.DjangoModelFactory):
    """A customer's portal login (not staff)."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.cn")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "pw-portal-123")
        if create:
            self.save(update_fields=["password"])


def id_number_fields(id_number: str) -> dict:
    """Customer fields for an ID number, stored the way seed_demo stores them (digest and mask, never whole)."""
    return {
        "id_number_hash": hashlib.sha256(id_number.encode()).hexdigest(),
        "id_number_masked": id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:],
    }


class AccountBindingFactory(factory.django.DjangoModelFactory):
    """An active binding of an account to a portal user."""

    class Meta:
        model = AccountBinding

    user = factory.SubFactory(PortalUserFactory)
    account = factory.SubFactory(AccountFactory)
    method = BindingMethod.ID_DIGITS
    bound_at = factory.LazyFunction(timezone.now)
