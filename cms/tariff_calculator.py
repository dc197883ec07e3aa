"""The public tariff calculator: a GET form whose result is core's tariff_quote, the arithmetic that bills customers."""
from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import BillingError, InvalidReading, TariffNotFound
from core.models import Tariff
from core.services.tariffs import Quote, tariff_quote


class TariffCalculatorForm(forms.Form):
    """Parses nothing itself: quantities go to tariff_quote as typed, and its refusals land on their fields."""

    QUANTITY_FIELDS = ("kwh", "peak", "flat", "valley")

    tariff = forms.ChoiceField(
        label=_("电价"),
        error_messages={"invalid_choice": _("本页没有这个电价，请从列表中选择"), "required": _("请选择电价")},
    )
    kwh = forms.CharField(label=_("月用电量(kWh)"), required=False, max_length=20)
    peak = forms.CharField(label=_("其中峰段电量(kWh)"), required=False, max_length=20)
    flat = forms.CharField(label=_("其中平段电量(kWh)"), required=False, max_length=20)
    valley = forms.CharField(label=_("其中谷段电量(kWh)"), required=False, max_length=20)

    def __init__(self, data=None, *, tariffs: list[Tariff], on_date: datetime.date):
        initial = {"tariff": tariffs[0].code} if tariffs else {}
        super().__init__(data, initial=initial, auto_id="calc-%s")
        self.tariffs = {tariff.code: tariff for tariff in tariffs}
        self.on_date = on_date
        self.quote: Quote | None = None
        self.fields["tariff"].choices = [(tariff.code, tariff.name) for tariff in tariffs]

    @staticmethod
    def is_submitted(query) -> bool:
        """The page shows an empty calculator until the visitor sends it (any of its fields in the query)."""
        return any(name in query for name in ("tariff", *TariffCalculatorForm.QUANTITY_FIELDS))

    def clean(self):
        data = super().clean()
        tariff = self.tariffs.get(data.get("tariff", ""))
        if tariff is None or any(name in self.errors for name in self.QUANTITY_FIELDS):
            return data
        try:
            self.quote = tariff_quote(
                tariff=tariff,
                on_date=self.on_date,
                kwh=data["kwh"],
                peak=data["peak"],
                flat=data["flat"],
                valley=data["valley"],
            )
        except InvalidReading as error:
            self.add_error(error.field if error.field in self.fields else None, str(error))
        except (TariffNotFound, BillingError) as error:
            self.add_error(None, str(error))
        return data
