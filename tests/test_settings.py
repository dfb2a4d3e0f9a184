"""Production settings refuse to start without their secrets; the embedded defaults need none."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "s3cret",
    "ALLOWED_HOSTS": "store.example.com",
    "DATABASE_URL": "postgres://u:p@db:5432/store",
    "REDIS_URL": "redis://redis:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and not k.startswith("DJANGO")
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; django.setup(); db = settings.DATABASES['default']; print(settings.DEBUG, db['ENGINE'], db['HOST'] or '-', db['NAME'])",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_all_its_secrets():
    result = load_settings(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "config.postgresql", "db", "store"]


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "ALLOWED_HOSTS",
    ],
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = load_settings(env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_a_malformed_boolean_fails_loudly():
    result = load_settings({"DJANGO_ENV": "development", "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_the_embedded_defaults_use_the_embedded_postgresql_server_under_var(tmp_path):
    result = load_settings({"DJANGO_ENV": "development", "VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    # The server `make run` starts listens on a Unix socket in its data directory.
    assert result.stdout.split() == [
        "True",
        "config.postgresql",
        str(tmp_path.resolve() / "postgres"),
        "gptstore",
    ]


def test_a_deep_var_folder_gets_a_short_socket_folder(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    result = load_settings({"DJANGO_ENV": "development", "VAR_DIR": str(deep)})
    assert result.returncode == 0, result.stderr
    host = result.stdout.split()[2]
    assert host.startswith("/tmp/gptstore-pg-")
    assert len(host + "/.s.PGSQL.5432") <= 107


@pytest.mark.parametrize("url", ["mysql://u:p@db/store", "oracle://u:p@db/store"])
def test_a_database_other_than_postgresql_is_refused(url):
    result = load_settings({"DJANGO_ENV": "development", "DATABASE_URL": url})
    assert result.returncode != 0
    assert "DATABASE_URL must name a PostgreSQL database" in result.stderr


def run_production(code: str, **extra) -> subprocess.CompletedProcess:
    env = {**PRODUCTION_ENV, "SECRET_KEY": "k" * 20 + "-Zq8#vX2!mP4&rT7@wL9^" + "y" * 20, **extra}
    clean = {k: v for k, v in os.environ.items() if k not in env and not k.startswith("DJANGO")}
    return subprocess.run(
        [sys.executable, *code.split()]
        if code.startswith("manage.py")
        else [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_redirects_to_https_with_hsts_and_ignores_a_forged_proto_header():
    result = run_production(
        "import django; from django.conf import settings as s; django.setup(); "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000, "
        "s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "None", "True"]


def test_check_deploy_is_clean_with_production_settings():
    result = run_production("manage.py check --deploy --fail-level WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
