"""The state a bill is in, derived from its amounts and dates; services store it after every change."""
from __future__ import annotations

import datetime

from core.models import Bill


def bill_state_derive(*, bill: Bill, today: datetime.date) -> str:
    """Credit notes and written-off/credited bills keep their state; otherwise paid, overdue, partly paid, issued."""
    if bill.kind == Bill.Kind.CREDIT_NOTE:
        return Bill.State.PAID
    if bill.state in (Bill.State.WRITTEN_OFF, Bill.State.CREDITED):
        return bill.state
    outstanding = bill.total - bill.amount_paid - bill.amount_adjusted
    if outstanding <= 0:
        return Bill.State.PAID
    if today > bill.due_date:
        return Bill.State.OVERDUE
    if bill.amount_paid > 0:
        return Bill.State.PARTLY_PAID
    return Bill.State.ISSUED
