import pytest

from core.account_numbers import account_number_from_body, account_number_validate, luhn_check_digit
from core.errors import InvalidAccountNumber


def test_check_digit_is_luhn():
    # 7992739871 + 3 is the textbook Luhn example.
    assert luhn_check_digit("7992739871") == "3"


def test_valid_number_round_trips_with_spaces_and_dashes():
    number = account_number_from_body("420100001")
    assert account_number_validate(f" {number[:4]}-{number[4:]} ") == number


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "户号只能包含数字"),
        ("12345abcde", "户号只能包含数字"),
        ("123456789", "户号应为10位数字"),
        ("12345678901", "户号应为10位数字"),
    ],
)
def test_malformed_numbers_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(InvalidAccountNumber) as error:
        account_number_validate(raw)
    assert str(error.value) == message


def test_single_digit_typo_and_neighbour_swap_are_caught():
    number = account_number_from_body("420112345")
    typo = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
    swapped = number[:5] + number[6] + number[5] + number[7:]
    assert typo != number and swapped != number
    for wrong in (typo, swapped):
        with pytest.raises(InvalidAccountNumber) as error:
            account_number_validate(wrong)
        assert str(error.value) == "户号校验位不正确，请核对后重新输入"
