"""Settings come from the environment; each case loads them in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "db": {k: s.DATABASES["default"].get(k) for k in ("ENGINE", "NAME", "HOST", "PORT", "USER")},
    "cache": s.CACHES["default"]["BACKEND"], "broker": s.CELERY_BROKER_URL,
    "debug": s.DEBUG, "hosts": s.ALLOWED_HOSTS, "email_backend": s.EMAIL_BACKEND,
    "email_host": getattr(s, "EMAIL_HOST", None), "email_port": getattr(s, "EMAIL_PORT", None),
    "time_zone": s.TIME_ZONE, "use_tz": s.USE_TZ, "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "currency": s.OFFERWISE_CURRENCY,
}))
"""

CLEAN = {
    k: v
    for k, v in os.environ.items()
    if k
    not in {
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "EMAIL_URL",
        "OFFERWISE_PROFILE",
        "OFFERWISE_CURRENCY",
        # Set for the browser tests' live server; a deployment never has it.
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
}


def load(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**CLEAN, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )


def settings_with(**env: str) -> dict:
    result = load(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_are_the_embedded_development_setup(tmp_path):
    s = settings_with(OFFERWISE_DATA_DIR=str(tmp_path))
    assert s["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["db"]["NAME"] == str(tmp_path / "offerwise.sqlite3")
    assert s["broker"] == "filesystem://"
    assert s["cache"].endswith("LocMemCache")
    assert s["email_backend"] == "django.core.mail.backends.console.EmailBackend"
    assert (s["debug"], s["time_zone"], s["use_tz"], s["currency"]) == (True, "UTC", True, "USD")


def test_database_url_switches_to_postgresql():
    s = settings_with(DATABASE_URL="postgres://shop:secret@db.internal:5433/offers")
    assert s["db"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "offers",
        "HOST": "db.internal",
        "PORT": 5433,
        "USER": "shop",
    }


def test_redis_url_switches_broker_and_cache():
    s = settings_with(REDIS_URL="redis://cache.internal:6380/2")
    assert s["broker"] == "redis://cache.internal:6380/2"
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_email_url_configures_smtp():
    s = settings_with(EMAIL_URL="smtp+tls://mailer:pw@smtp.example.com:587")
    assert s["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (s["email_host"], s["email_port"]) == ("smtp.example.com", 587)


def test_debug_allowed_hosts_and_currency_from_environment():
    s = settings_with(
        DEBUG="false", ALLOWED_HOSTS="offers.example.com,.shop.example", OFFERWISE_CURRENCY="eur"
    )
    assert s["debug"] is False
    assert s["hosts"] == ["offers.example.com", ".shop.example"]
    assert s["currency"] == "EUR"


def test_production_refuses_to_start_without_a_secret_key():
    result = load(OFFERWISE_PROFILE="production", ALLOWED_HOSTS="offers.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_unknown_profile_is_refused():
    result = load(OFFERWISE_PROFILE="staging")
    assert result.returncode != 0
    assert "OFFERWISE_PROFILE" in result.stderr


def test_production_profile_passes_check_deploy(tmp_path):
    env = {
        **CLEAN,
        "OFFERWISE_PROFILE": "production",
        "ALLOWED_HOSTS": "offers.example.com",
        "SECRET_KEY": "k" * 20 + "-Zq8#p2L!x9@vR4^mW7&nB1*cT6$yH3(",
        "OFFERWISE_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    s = settings_with(**{k: env[k] for k in ("OFFERWISE_PROFILE", "ALLOWED_HOSTS", "SECRET_KEY")})
    assert (s["debug"], s["ssl_redirect"]) == (False, True)
