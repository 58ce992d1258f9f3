"""The account flows' throttles (the mechanism: lib/throttles.py). Rates are settings (README,
Configuration)."""

from lib.throttles import Throttle

LOGIN_PER_ACCOUNT = Throttle("login-account", "LOGIN_ATTEMPTS_PER_ACCOUNT")
LOGIN_PER_DEVICE = Throttle("login-device", "LOGIN_ATTEMPTS_PER_DEVICE")
LOGIN_PER_ADDRESS = Throttle("login-address", "LOGIN_ATTEMPTS_PER_ADDRESS")
SIGNUP_PER_ADDRESS = Throttle("signup-address", "SIGNUPS_PER_ADDRESS")
SIGNUP_PER_EMAIL = Throttle("signup-email", "SIGNUPS_PER_EMAIL")
RESET_PER_ADDRESS = Throttle("reset-address", "PASSWORD_RESETS_PER_ADDRESS")
RESET_PER_EMAIL = Throttle("reset-email", "PASSWORD_RESETS_PER_EMAIL")
