"""Maraum's settings plus two benchmark-only routes (bench/urls.py); nothing else changes."""

from maraum.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
