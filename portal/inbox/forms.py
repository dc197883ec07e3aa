"""The notification preferences form of one customer: each channel as a whole, each channel for each topic
(the grid the page shows) and paperless bills."""
from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from notifications.models import CHANNEL_KINDS, NotificationTopic, PreferenceKind

WHOLE_CHANNEL_LABEL = _("开启此渠道")


def switch_field_name(kind: str, topic: str) -> str:
    """"sms" for the channel as a whole, "sms_bills" for one topic of it."""
    return f"{kind}_{topic}" if topic else kind


@dataclass(frozen=True)
class GridRow:
    """One channel of the grid: its own switch, then one switch per topic in NotificationTopic order."""

    label: str
    whole: forms.BoundField
    topics: list[forms.BoundField]


class PreferencesForm(forms.Form):
    """Unticked boxes post nothing, so every switch is a non-required BooleanField (absent = off)."""

    def __init__(self, *args, switches: dict[tuple[str, str], bool] | None = None, **kwargs):
        if switches is not None:
            kwargs["initial"] = {switch_field_name(kind, topic): on for (kind, topic), on in switches.items()}
        super().__init__(*args, **kwargs)
        self._switches: dict[str, tuple[str, str]] = {}
        for kind in CHANNEL_KINDS:
            self._add(kind.value, "", format_lazy("{}：{}", kind.label, WHOLE_CHANNEL_LABEL))
            for topic in NotificationTopic:
                self._add(kind.value, topic.value, format_lazy("{}：{}", kind.label, topic.label))
        self._add(PreferenceKind.PAPERLESS_BILLS.value, "", PreferenceKind.PAPERLESS_BILLS.label)

    def _add(self, kind: str, topic: str, label) -> None:
        name = switch_field_name(kind, topic)
        self.fields[name] = forms.BooleanField(label=label, required=False)
        self._switches[name] = (kind, topic)

    def topic_headers(self) -> list[str]:
        return [topic.label for topic in NotificationTopic]

    def grid_rows(self) -> list[GridRow]:
        return [
            GridRow(
                label=kind.label,
                whole=self[kind.value],
                topics=[self[switch_field_name(kind.value, topic.value)] for topic in NotificationTopic],
            )
            for kind in CHANNEL_KINDS
        ]

    def paperless_bills(self) -> forms.BoundField:
        return self[PreferenceKind.PAPERLESS_BILLS.value]

    def choices(self) -> dict[tuple[str, str], bool]:
        """Every switch as (kind, topic) -> on, for notifications.services.preferences_set."""
        return {switch: self.cleaned_data[name] for name, switch in self._switches.items()}
