"""Binding an electricity account to a portal user (绑定户号), and the verification behind the guest bill lookup.

Wrong details get one generic refusal whatever was wrong (no account, wrong name, wrong ID digits, wrong code), so
nobody learns whether an account exists. Failures are kept as BindingAttempt rows and lock out progressively per
user and per IP address; a locked caller is told plainly how long is left and nothing is checked meanwhile.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import math
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.account_numbers import account_number_validate
from core.db import cursor_prepared, sql_column, sql_table, statements_pipelined
from core.errors import (
    BillLookupRefused,
    BindingAlreadyActive,
    BindingError,
    BindingLocked,
    BindingRefused,
    BindingSettingsInvalid,
)
from core.models import Account, AccountBinding, BindingAttempt, BindingCode, BindingMethod, Customer
from core.selectors.portal_bills import account_data_version_annotation


@dataclass(frozen=True)
class LockoutRule:
    """`failures` failed tries within `window` lock the caller out for `lock`, counted from the last of them."""

    failures: int
    window: datetime.timedelta
    lock: datetime.timedelta


# The thresholds are data: one place to tune them. A user gets 5 tries in 15 minutes, then 10 in a day; an IP
# address is shared by many people behind a mobile carrier's NAT, so it gets more before it is locked.
USER_LOCKOUT_RULES = (
    LockoutRule(failures=5, window=datetime.timedelta(minutes=15), lock=datetime.timedelta(minutes=15)),
    LockoutRule(failures=10, window=datetime.timedelta(hours=24), lock=datetime.timedelta(hours=24)),
)
IP_LOCKOUT_RULES = (
    LockoutRule(failures=20, window=datetime.timedelta(minutes=15), lock=datetime.timedelta(minutes=15)),
    LockoutRule(failures=50, window=datetime.timedelta(hours=24), lock=datetime.timedelta(hours=24)),
)
# A guest has no account to hold against, so the lookup page's own failures lock its address sooner.
GUEST_LOCKOUT_RULES = (
    LockoutRule(failures=5, window=datetime.timedelta(minutes=15), lock=datetime.timedelta(minutes=15)),
    LockoutRule(failures=10, window=datetime.timedelta(hours=24), lock=datetime.timedelta(hours=24)),
)
# Right answers count too on the guest page: enough lookups from one address in an hour is harvesting.
GUEST_LOOKUPS_PER_HOUR = 30

CODE_DIGITS = 6
CODE_MINUTES = 10
CODE_MAX_TRIES = 5
CODE_RESEND_SECONDS = 60
CODES_PER_ACCOUNT_PER_DAY = 5

LABEL_MAX_LENGTH = AccountBinding._meta.get_field("label").max_length
LOW_BALANCE_THRESHOLD_MIN = Decimal("1.00")
LOW_BALANCE_THRESHOLD_MAX = Decimal("5000.00")


# --- checks shared by binding and the guest lookup -------------------------------------------------------------


def _normalised_name(value: str) -> str:
    """Holder names compared as people type them: full-width letters, spaces and the middle dot ignored."""
    text = unicodedata.normalize("NFKC", value or "")
    return "".join(ch for ch in text if not ch.isspace() and ch not in "·•.").casefold()


def _holder_name_matches(*, names: Iterable[str], holder_name: str) -> bool:
    """Whether the typed name is one of `names` (the account's name and its customer's)."""
    typed = _normalised_name(holder_name)
    if not typed:
        return False
    names = {_normalised_name(name) for name in names}
    return any(hmac.compare_digest(typed.encode(), name.encode()) for name in names if name)


def _id_last4_clean(value: str) -> str:
    digits = unicodedata.normalize("NFKC", value or "").strip().upper()
    if len(digits) != 4 or any(ch not in "0123456789X" for ch in digits):
        raise BindingError(_("请输入证件号码的后四位（数字或X）"), field="id_last4")
    return digits


def _id_last4_matches(*, account: Account, id_last4: str) -> bool:
    masked = (account.customer.id_number_masked or "").strip().upper()
    if len(masked) < 8 or "*" in masked[-4:]:
        return False
    return hmac.compare_digest(masked[-4:].encode(), id_last4.encode())


def _lock_end(*, failures: list[datetime.datetime], rules: Iterable[LockoutRule]) -> datetime.datetime | None:
    """When the latest lock earned by these failure times (ascending) ends, or None if none was earned."""
    end = None
    for rule in rules:
        for index in range(rule.failures - 1, len(failures)):
            if failures[index] - failures[index - rule.failures + 1] <= rule.window:
                candidate = failures[index] + rule.lock
                if end is None or candidate > end:
                    end = candidate
    return end


def _failures_since(*, since: datetime.datetime, **lookup) -> list[datetime.datetime]:
    return list(
        BindingAttempt.objects.filter(succeeded=False, attempted_at__gte=since, **lookup)
        .order_by("attempted_at")
        .values_list("attempted_at", flat=True)
    )


def _lookback(rules: Iterable[LockoutRule]) -> datetime.timedelta:
    return max(rule.window + rule.lock for rule in rules)


def time_left_text(delta: datetime.timedelta) -> str:
    """"12分钟" or "23小时5分钟": the wait, rounded up to the minute."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return _("%(hours)s小时%(minutes)s分钟") % {"hours": hours, "minutes": minutes}
    if hours:
        return ngettext("%(hours)s小时", "%(hours)s小时", hours) % {"hours": hours}
    return ngettext("%(minutes)s分钟", "%(minutes)s分钟", minutes) % {"minutes": minutes}


def _raise_if_locked(*, until: datetime.datetime | None, now: datetime.datetime) -> None:
    if until is not None and until > now:
        raise BindingLocked(
            _("尝试次数过多，已暂时锁定，请%(left)s后再试。如需帮助请拨打95598。") % {"left": time_left_text(until - now)},
            until=until,
        )


def binding_lock_until(*, user, ip_address: str | None, now: datetime.datetime) -> datetime.datetime | None:
    """The end of the lock on this user or this address for binding, or None when neither is locked."""
    ends = []
    if user is not None:
        failures = _failures_since(since=now - _lookback(USER_LOCKOUT_RULES), user=user)
        ends.append(_lock_end(failures=failures, rules=USER_LOCKOUT_RULES))
    if ip_address:
        failures = _failures_since(since=now - _lookback(IP_LOCKOUT_RULES), ip_address=ip_address)
        ends.append(_lock_end(failures=failures, rules=IP_LOCKOUT_RULES))
    ends = [end for end in ends if end is not None and end > now]
    return max(ends) if ends else None


@functools.cache
def _attempt_insert_sql() -> str:
    """Written out once and prepared: every guest lookup records a try, and the ORM's insert cost more than it."""
    columns = ", ".join(sql_column(BindingAttempt, name, qualified=False)
                        for name in ("user", "ip_address", "account_number", "succeeded", "attempted_at"))
    return f"INSERT INTO {sql_table(BindingAttempt)} ({columns}) VALUES (%s, %s, %s, %s, %s)"


def _address_prepared(ip_address: str | None):
    """The address as BindingAttempt's field stores it (an IPv6 address normalised), for the statements written out
    once: an address is recorded and compared in one form however it was written."""
    return BindingAttempt._meta.get_field("ip_address").get_db_prep_value(ip_address or None, connection)


def _attempt_record(*, user, ip_address: str | None, account_number: str, succeeded: bool,
                    now: datetime.datetime) -> None:
    with cursor_prepared() as cursor:
        cursor.execute(_attempt_insert_sql(), [
            user.pk if user is not None else None, _address_prepared(ip_address), account_number, succeeded,
            connection.ops.adapt_datetimefield_value(now),
        ])


def _account_for(number: str) -> Account | None:
    return Account.objects.select_related("customer").filter(number=number).first()


def _serialise_user(user) -> None:
    """Takes the user's row lock so one user's concurrent tries are counted one after another."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


# --- SMS codes -----------------------------------------------------------------------------------------------


def _code_digest(*, code_id: int, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"binding-code:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssuedBindingCode:
    """A code to text to the account's phone on file; only the entry point that delivers it sees the digits."""

    code_id: int
    account: Account
    code: str
    minutes: int


def binding_code_issue(
    *, user, account_number: str, holder_name: str, ip_address: str | None
) -> IssuedBindingCode | None:
    """A binding code for the account's phone on file, if the number and the holder's name match.

    The caller texts it and tells the user the same thing whether or not a code came back (no account, wrong
    name, no phone on file, a code issued less than a minute ago, the account's daily limit reached), so the
    answer says nothing about the account; a wrong name counts as a failed try. Locks the user's row.
    """
    number = account_number_validate(account_number)
    now = timezone.now()
    with transaction.atomic():
        _serialise_user(user)
        _raise_if_locked(until=binding_lock_until(user=user, ip_address=ip_address, now=now), now=now)
        account = _account_for(number)
        if account is None or not _holder_name_matches(names=(account.name, account.customer.name),
                                                       holder_name=holder_name):
            _attempt_record(user=user, ip_address=ip_address, account_number=number, succeeded=False, now=now)
            return None
        if not account.customer.phone:
            return None
        sent = BindingCode.objects.filter(account=account, sent_at__gte=now - datetime.timedelta(days=1))
        if sent.count() >= CODES_PER_ACCOUNT_PER_DAY:
            return None
        if sent.filter(user=user, sent_at__gte=now - datetime.timedelta(seconds=CODE_RESEND_SECONDS)).exists():
            return None
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        row = BindingCode.objects.create(
            user=user, account=account, code_hash="", sent_at=now,
            expires_at=now + datetime.timedelta(minutes=CODE_MINUTES),
        )
        BindingCode.objects.filter(pk=row.pk).update(code_hash=_code_digest(code_id=row.pk, code=code))
    return IssuedBindingCode(code_id=row.pk, account=account, code=code, minutes=CODE_MINUTES)


def _sms_code_matches(*, user, account: Account, sms_code: str, now: datetime.datetime) -> bool:
    """Spends one try of the user's newest live code for the account; True (and the code used) when it matches."""
    code = (
        BindingCode.objects.select_for_update()
        .filter(user=user, account=account, used_at__isnull=True, expires_at__gt=now, attempts__lt=CODE_MAX_TRIES)
        .order_by("-sent_at", "-pk")
        .first()
    )
    if code is None:
        return False
    typed = unicodedata.normalize("NFKC", sms_code or "").strip()
    matched = hmac.compare_digest(_code_digest(code_id=code.pk, code=typed), code.code_hash)
    BindingCode.objects.filter(pk=code.pk).update(
        attempts=F("attempts") + 1, used_at=now if matched else None
    )
    return matched


# --- binding -------------------------------------------------------------------------------------------------


def binding_create(
    *,
    user,
    account_number: str,
    holder_name: str,
    method: str,
    id_last4: str = "",
    sms_code: str = "",
    label: str = "",
    ip_address: str | None,
) -> AccountBinding:
    """Bind the account to the user once the holder's name and the last 4 ID digits or the SMS code check out.

    Every check's failure is the same BindingRefused and one failed try; a locked user or address is refused
    with BindingLocked before anything is checked. Locks the user's row (and the code row it spends).
    """
    number = account_number_validate(account_number)
    if method not in BindingMethod.values:
        raise BindingError(_("请选择验证方式"), field="method")
    if method == BindingMethod.ID_DIGITS:
        id_last4 = _id_last4_clean(id_last4)
    elif not (sms_code or "").strip():
        raise BindingError(_("请输入短信验证码"), field="sms_code")
    label = _label_clean(label)
    now = timezone.now()
    binding = None
    with transaction.atomic():
        _serialise_user(user)
        _raise_if_locked(until=binding_lock_until(user=user, ip_address=ip_address, now=now), now=now)
        account = _account_for(number)
        verified = account is not None and _holder_name_matches(names=(account.name, account.customer.name),
                                                                holder_name=holder_name)
        if verified and method == BindingMethod.ID_DIGITS:
            verified = _id_last4_matches(account=account, id_last4=id_last4)
        elif verified:
            verified = _sms_code_matches(user=user, account=account, sms_code=sms_code, now=now)
        _attempt_record(user=user, ip_address=ip_address, account_number=number, succeeded=verified, now=now)
        if verified:
            try:
                with transaction.atomic():
                    binding = AccountBinding.objects.create(
                        user=user, account=account, label=label, method=method, bound_at=now
                    )
            except IntegrityError:
                binding = None
    if binding is not None:
        return binding
    if verified:
        raise BindingAlreadyActive(_("您已绑定该户号"))
    raise BindingRefused(BindingRefused.default_message)


def binding_unbind(*, binding: AccountBinding) -> AccountBinding:
    """End a binding; the row stays (with when) so history keeps who could see the account."""
    now = timezone.now()
    AccountBinding.objects.filter(pk=binding.pk, unbound_at__isnull=True).update(unbound_at=now)
    binding.refresh_from_db(fields=["unbound_at"])
    return binding


def _label_clean(label: str) -> str:
    label = (label or "").strip()
    if len(label) > LABEL_MAX_LENGTH:
        raise BindingSettingsInvalid(
            _("备注名最多%(max)s个字") % {"max": LABEL_MAX_LENGTH}, field="label"
        )
    return label


def binding_settings_update(
    *, binding: AccountBinding, label: str, low_balance_threshold: Decimal | str, tier_alerts: bool
) -> AccountBinding:
    """The customer's own name for the account and their alert settings for it."""
    label = _label_clean(label)
    try:
        threshold = Decimal(str(low_balance_threshold).strip())
    except (InvalidOperation, ValueError):
        raise BindingSettingsInvalid(_("请输入有效的金额"), field="low_balance_threshold") from None
    if not threshold.is_finite():
        raise BindingSettingsInvalid(_("请输入有效的金额"), field="low_balance_threshold")
    if not LOW_BALANCE_THRESHOLD_MIN <= threshold <= LOW_BALANCE_THRESHOLD_MAX:
        raise BindingSettingsInvalid(
            _("余额提醒阈值应在%(min)s元到%(max)s元之间")
            % {"min": LOW_BALANCE_THRESHOLD_MIN, "max": LOW_BALANCE_THRESHOLD_MAX},
            field="low_balance_threshold",
        )
    if threshold != threshold.quantize(Decimal("0.01")):
        raise BindingSettingsInvalid(_("金额最多保留两位小数"), field="low_balance_threshold")
    AccountBinding.objects.filter(pk=binding.pk).update(
        label=label, low_balance_threshold=threshold.quantize(Decimal("0.01")), tier_alerts=bool(tier_alerts)
    )
    binding.refresh_from_db(fields=["label", "low_balance_threshold", "tier_alerts"])
    return binding


# --- guest bill lookup ---------------------------------------------------------------------------------------


@functools.cache
def _guest_attempts_sql() -> str:
    """Written out once and prepared: it runs on every guest lookup, and composing it through the ORM (and
    PostgreSQL planning it) cost more than running it."""
    def column(name: str) -> str:
        return sql_column(BindingAttempt, name, qualified=False)

    return (
        f"SELECT {column('id')}, {column('attempted_at')}, {column('succeeded')} "
        f"FROM {sql_table(BindingAttempt)} "
        f"WHERE {column('user')} IS NULL AND {column('ip_address')} = %s AND {column('attempted_at')} >= %s "
        f"AND (({column('succeeded')} = %s AND {column('attempted_at')} >= %s) OR {column('attempted_at')} > %s) "
        f"ORDER BY {column('attempted_at')}"
    )


def _moment_read(value) -> datetime.datetime:
    """A timestamp as a statement written out once reads it: an aware datetime from PostgreSQL, a naive one in UTC
    (as Django stores it) from SQLite."""
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)


def _guest_windows(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """Since when failures count towards the lock, and since when lookups count towards the hourly cap."""
    return now - _lookback(GUEST_LOCKOUT_RULES), now - datetime.timedelta(hours=1)


def _guest_attempts_params(*, ip_address: str, now: datetime.datetime) -> list:
    """The values of _guest_attempts_sql for this address at this moment."""
    moment = connection.ops.adapt_datetimefield_value
    failures_since, hour_ago = _guest_windows(now)
    return [_address_prepared(ip_address), moment(min(failures_since, hour_ago)), False,
            moment(failures_since), moment(hour_ago)]


def _guest_lock_end(*, rows, now: datetime.datetime) -> datetime.datetime | None:
    """The end of the lock that the address's tries (the rows of _guest_attempts_sql) put on it, or None."""
    failures_since, hour_ago = _guest_windows(now)
    attempts = [(_moment_read(attempted_at), bool(succeeded)) for _id, attempted_at, succeeded in rows]
    failures = [at for at, succeeded in attempts if not succeeded and at >= failures_since]
    ends = [_lock_end(failures=failures, rules=GUEST_LOCKOUT_RULES)]
    recent = [at for at, _succeeded in attempts if at > hour_ago]
    if len(recent) >= GUEST_LOOKUPS_PER_HOUR:
        # Free again an hour after the oldest of the last allowed lookups.
        ends.append(recent[-GUEST_LOOKUPS_PER_HOUR] + datetime.timedelta(hours=1))
    ends = [end for end in ends if end is not None and end > now]
    return max(ends) if ends else None


def guest_lock_until(*, ip_address: str | None, now: datetime.datetime) -> datetime.datetime | None:
    """The end of the lock on this address for the guest lookup, or None.

    One query reads both what the lock rules count: the failures within their lookback, and every lookup of the
    last hour (the hourly cap). Both are few: a locked address records nothing until the lock ends."""
    if not ip_address:
        return None
    with cursor_prepared() as cursor:
        cursor.execute(_guest_attempts_sql(), _guest_attempts_params(ip_address=ip_address, now=now))
        return _guest_lock_end(rows=cursor.fetchall(), now=now)


@functools.cache
def _guest_account_sql() -> str:
    """The account by number: its id, its name and its customer's (the holder's names), and its data version.
    Written out once and prepared (core.db.cursor_prepared): every guest lookup runs it, and PostgreSQL took
    longer to plan it than to run it."""
    account, customer = sql_table(Account), sql_table(Customer)

    return (
        f"SELECT {sql_column(Account, 'id')}, {sql_column(Account, 'name')}, "
        f"{sql_column(Customer, 'name')}, {account_data_version_annotation().sql} "
        f"FROM {account} INNER JOIN {customer} ON {sql_column(Account, 'customer')} = "
        f"{sql_column(Customer, 'id')} WHERE {sql_column(Account, 'number')} = %s"
    )


@dataclass(frozen=True)
class GuestLookupVerified:
    """The account a guest named rightly: its id and data version (what keys the answer kept in the portal's
    cache). The account itself is read only to build the answer."""

    account_id: int
    data_version: str


def bill_lookup_verify(*, account_number: str, holder_name: str, ip_address: str | None) -> GuestLookupVerified:
    """The account a guest may see bills of, when the number and holder's name match; one try recorded.

    Refuses a locked address (BindingLocked) and wrong details (BillLookupRefused, the same for a missing
    account and a wrong name). The account's data version is read in the same query (account_data_version's
    text)."""
    number = account_number_validate(account_number)
    now = timezone.now()
    # The address's tries and the account are read in one round trip; a locked address is refused before anything
    # is checked or recorded, the account read alongside left unused.
    with statements_pipelined(), cursor_prepared() as tries, cursor_prepared() as account:
        if ip_address:
            tries.execute(_guest_attempts_sql(), _guest_attempts_params(ip_address=ip_address, now=now))
        account.execute(_guest_account_sql(), [*account_data_version_annotation().params, number])
        until = _guest_lock_end(rows=tries.fetchall(), now=now) if ip_address else None
        row = account.fetchone()
    _raise_if_locked(until=until, now=now)
    verified = row is not None and _holder_name_matches(names=(row[1], row[2]), holder_name=holder_name)
    _attempt_record(user=None, ip_address=ip_address, account_number=number, succeeded=verified, now=now)
    if not verified:
        raise BillLookupRefused(_("户号或户主姓名不正确，请核对后重试"))
    return GuestLookupVerified(account_id=row[0], data_version=row[3])
