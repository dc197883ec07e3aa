"""The account data version (core.selectors.portal_bills): the same text whether read alone or alongside the
bindings or the account, and a different one whenever what the dashboard draws from changes."""
from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from django.utils import timezone

from core.models import Account
from core.selectors.portal_access import bindings_active_versioned
from core.selectors.portal_bills import account_data_version, account_data_version_annotation
from core.services.payments import payment_post
from tests.portal.factories import AccountBindingFactory

pytestmark = pytest.mark.django_db


def annotated(account: Account) -> str:
    return Account.objects.annotate(data_version=account_data_version_annotation()).get(pk=account.pk).data_version


def test_read_alone_with_the_account_or_with_the_bindings_it_is_one_and_the_same_text():
    binding = AccountBindingFactory()
    other = AccountBindingFactory(user=binding.user)
    version = account_data_version(account_id=binding.account_id)
    assert version == (annotated(binding.account),)
    assert {b.account_id: b.data_version for b in bindings_active_versioned(user=binding.user)} == {
        binding.account_id: version[0], other.account_id: account_data_version(account_id=other.account_id)[0],
    }
    assert account_data_version(account_id=binding.account_id) == version


def test_a_payment_changes_it_and_nothing_else_does():
    account = AccountBindingFactory().account
    before = account_data_version(account_id=account.pk)
    assert account_data_version(account_id=account.pk) == before
    payment_post(account=account, amount=D("20.00"), channel="counter", idempotency_key="version-1",
                 received_at=timezone.now() - datetime.timedelta(minutes=1))
    assert account_data_version(account_id=account.pk) != before
    assert account_data_version(account_id=account.pk) == (annotated(account),)


def test_text_moved_between_name_and_address_still_changes_it():
    account = AccountBindingFactory().account
    Account.objects.filter(pk=account.pk).update(name="王|五", address="东街")
    before = annotated(account)
    Account.objects.filter(pk=account.pk).update(name="王", address="五|东街")
    assert annotated(account) != before


def test_a_gone_account_has_none():
    account = AccountBindingFactory().account
    account.pk = 10 ** 9
    assert account_data_version(account_id=account.pk) is None
