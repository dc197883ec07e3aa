"""Factories for the core records: small, explicit, deterministic."""
from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from core.account_numbers import account_number_from_body
from core.models import (
    Account,
    Branch,
    Company,
    Customer,
    Feeder,
    Meter,
    ServicePoint,
    ServiceStation,
    Substation,
    Tariff,
    TariffPeriodPrice,
    TariffTier,
    TariffVersion,
    TransformerArea,
)
from core.models.customers import CustomerCategory


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("code",)

    code = "ES"
    name = "恩施供电公司"


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    company = factory.SubFactory(CompanyFactory)
    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.Sequence(lambda n: f"县公司{n}")


class ServiceStationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceStation

    branch = factory.SubFactory(BranchFactory)
    code = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"供电所{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"客户{n}")
    phone = factory.Sequence(lambda n: f"138{n:08d}")


def residential_tiered_tariff(*, effective_from=datetime.date(2012, 7, 1)) -> Tariff:
    """The illustrative monthly tiers of DOMAIN.md: 0-180 at 0.558, 181-400 at 0.608, above 400 at 0.858."""
    tariff, _ = Tariff.objects.get_or_create(
        code="test-res-tiered", defaults={"name": "居民阶梯电价", "category": CustomerCategory.RESIDENTIAL}
    )
    version, created = TariffVersion.objects.get_or_create(
        tariff=tariff,
        effective_from=effective_from,
        defaults={"structure": TariffVersion.Structure.TIERED, "tier_basis": TariffVersion.TierBasis.MONTHLY},
    )
    if created:
        TariffTier.objects.create(version=version, number=1, upper_kwh=Decimal("180"), price=Decimal("0.5580"))
        TariffTier.objects.create(version=version, number=2, upper_kwh=Decimal("400"), price=Decimal("0.6080"))
        TariffTier.objects.create(version=version, number=3, upper_kwh=None, price=Decimal("0.8580"))
    return tariff


def commercial_tou_tariff(*, effective_from=datetime.date(2020, 1, 1)) -> Tariff:
    """An illustrative non-residential TOU price: peak 1.0000, flat 0.7000, valley 0.4000."""
    tariff, _ = Tariff.objects.get_or_create(
        code="test-com-tou", defaults={"name": "一般工商业分时电价", "category": CustomerCategory.NON_RESIDENTIAL}
    )
    version, created = TariffVersion.objects.get_or_create(
        tariff=tariff, effective_from=effective_from, defaults={"structure": TariffVersion.Structure.TOU}
    )
    if created:
        for period, price in (("peak", "1.0000"), ("flat", "0.7000"), ("valley", "0.4000")):
            TariffPeriodPrice.objects.create(version=version, period=period, price=Decimal(price))
    return tariff


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    number = factory.Sequence(lambda n: account_number_from_body(f"{100000000 + n:09d}"))
    customer = factory.SubFactory(CustomerFactory)
    station = factory.SubFactory(ServiceStationFactory)
    branch = factory.LazyAttribute(lambda o: o.station.branch)
    name = factory.LazyAttribute(lambda o: o.customer.name)
    address = "湖北省恩施市舞阳坝街道测试路1号"
    category = CustomerCategory.RESIDENTIAL
    tariff = factory.LazyFunction(residential_tiered_tariff)
    opened_on = datetime.date(2020, 1, 1)


class SubstationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Substation

    branch = factory.SubFactory(BranchFactory)
    code = factory.Sequence(lambda n: f"SUB{n:04d}")
    name = factory.Sequence(lambda n: f"110kV变电站{n}")


class FeederFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feeder

    substation = factory.SubFactory(SubstationFactory)
    code = factory.Sequence(lambda n: f"FD{n:05d}")
    name = factory.Sequence(lambda n: f"10kV线路{n}")


class TransformerAreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TransformerArea

    feeder = factory.SubFactory(FeederFactory)
    code = factory.Sequence(lambda n: f"TA{n:06d}")
    name = factory.Sequence(lambda n: f"台区{n}")


class ServicePointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServicePoint

    account = factory.SubFactory(AccountFactory)
    transformer_area = factory.SubFactory(TransformerAreaFactory)
    code = factory.Sequence(lambda n: f"SP{n:08d}")


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    service_point = factory.SubFactory(ServicePointFactory)
    asset_number = factory.Sequence(lambda n: f"M{n:010d}")
    installed_on = datetime.date(2020, 1, 1)
    initial_reading = Decimal("0")
