"""The notification preferences form: one switch per preference kind, for one customer."""
from __future__ import annotations

from django import forms

from notifications.models import PreferenceKind


class PreferencesForm(forms.Form):
    """Unticked boxes post nothing, so every kind is a non-required BooleanField (absent = off)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in PreferenceKind:
            self.fields[kind.value] = forms.BooleanField(label=kind.label, required=False)

    def choices(self) -> dict[str, bool]:
        return {kind.value: self.cleaned_data[kind.value] for kind in PreferenceKind}
