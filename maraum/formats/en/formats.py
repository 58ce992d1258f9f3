"""Dates as the app writes them ("5 Dec 2026, 19:28 UTC"), also in the admin, where Django's
English default was US-style ("Dec. 5, 2026, 7:27 p.m.") and named no time zone (a newcomer's
walk)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
