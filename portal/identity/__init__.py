"""Portal identity: sign-up and sign-in by mobile number and SMS code (through notifications) or by email and
password, on django-allauth; staff TOTP enforced on the login path."""
