"""Opening a customer's personal data: the values in full, one access row per opening, refusals write nothing."""
import datetime

import pytest
from django.contrib.auth import get_user_model

from core.models import PersonalDataAccess
from core.services.personal_data import PersonalDataRefused, personal_data_reveal
from tests.callcenter.factories import call_agent_user
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db
AT = datetime.datetime(2026, 11, 23, 9, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture
def account():
    customer = CustomerFactory(name="张三丰", phone="13812345678", email="zhang@example.com")
    return AccountFactory(customer=customer, address="湖北省恩施市舞阳坝街道施州大道12号")


def test_an_agent_opens_the_phone_and_the_address_and_the_opening_is_logged(account):
    agent = call_agent_user()

    values = personal_data_reveal(
        staff=agent, customer=account.customer, account=account, fields=["address", "phone"], context="call:7", at=AT
    )

    assert values == {"phone": "13812345678", "address": "湖北省恩施市舞阳坝街道施州大道12号"}
    access = PersonalDataAccess.objects.get()
    assert (access.staff, access.customer, access.account, access.fields, access.context, access.at) == (
        agent, account.customer, account, ["phone", "address"], "call:7", AT
    )


def test_customer_fields_need_no_account(account):
    agent = call_agent_user()
    values = personal_data_reveal(staff=agent, customer=account.customer, fields=["name", "email"], context="console")
    assert values == {"name": "张三丰", "email": "zhang@example.com"}
    assert PersonalDataAccess.objects.get().account is None


@pytest.mark.parametrize(
    ("fields", "context", "message"),
    [
        ([], "call:1", "请选择要查看的信息"),
        (["id_number"], "call:1", "不能查看的信息：id_number"),
        (["address"], "call:1", "请指定户号"),
        (["phone"], "", "查看场景无效"),
        (["phone"], "x" * 81, "查看场景无效"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_logged(account, fields, context, message):
    agent = call_agent_user()
    with pytest.raises(PersonalDataRefused) as refused:
        personal_data_reveal(staff=agent, customer=account.customer, fields=fields, context=context)
    assert str(refused.value) == message
    assert not PersonalDataAccess.objects.exists()


def test_another_customers_account_is_refused(account):
    agent = call_agent_user()
    other = AccountFactory()
    with pytest.raises(PersonalDataRefused) as refused:
        personal_data_reveal(staff=agent, customer=account.customer, account=other, fields=["address"], context="c")
    assert str(refused.value) == "户号不属于该客户"
    assert not PersonalDataAccess.objects.exists()


def test_staff_without_the_right_to_view_customers_and_customers_are_refused(account):
    clerkless = get_user_model().objects.create_user("nobody", is_staff=True)
    customer_user = get_user_model().objects.create_user("someone")
    for user in (clerkless, customer_user):
        with pytest.raises(PersonalDataRefused) as refused:
            personal_data_reveal(staff=user, customer=account.customer, fields=["phone"], context="call:1")
        assert str(refused.value) == "您无权查看客户个人信息"
    assert not PersonalDataAccess.objects.exists()
