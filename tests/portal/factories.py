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


# --- bills and usage (helper "bills") ----------------------------------------------------------------------------


def residential_policy():
    """The residential payment term (30 days) and late-fee rate (1 per mille a day) the billing engine needs."""
    from decimal import Decimal

    from core.models import CollectionPolicy
    from core.models.customers import CustomerCategory

    policy, _ = CollectionPolicy.objects.update_or_create(
        category=CustomerCategory.RESIDENTIAL,
        defaults={
            "payment_term_days": 30,
            "daily_rate_current_year": Decimal("0.0010"),
            "daily_rate_prior_years": Decimal("0.0010"),
        },
    )
    return policy


def billed_months(account, kwhs, *, last_period, issued_on, meter=None):
    """One manual reading and one issued bill per month (oldest first), ending with `last_period`, through the
    real readings and billing services; returns the meter."""
    import calendar
    import datetime

    from core.models import MeterReading
    from core.selectors.portal_bills import month_add
    from core.services.billing import bill_issue
    from core.services.readings import reading_record
    from tests.factories import MeterFactory

    meter = meter or MeterFactory(service_point__account=account)
    latest = MeterReading.objects.filter(meter=meter).order_by("-read_on").first()
    total = latest.total if latest else meter.initial_reading
    for index, kwh in enumerate(kwhs):
        period = month_add(last_period, index - (len(kwhs) - 1))
        total += kwh
        read_on = period.replace(day=calendar.monthrange(period.year, period.month)[1])
        reading_record(meter=meter, read_on=read_on, total=total, source=MeterReading.Source.MANUAL, period=period)
        bill_issue(account=account, period=period, issued_on=issued_on or datetime.date.today())
    return meter
