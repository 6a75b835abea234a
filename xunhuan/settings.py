"""Django settings, read from the environment through typed helpers.

SQLite under ``var/`` is the default (WAL, busy timeout, IMMEDIATE transactions);
``XUNHUAN_DATABASE_URL=postgres://...`` selects PostgreSQL, the production engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.utils.translation import gettext_lazy as _

from xunhuan.env import ConfigError, env_bool, env_int, env_list, env_str

# Lets admin.ModelAdmin[Model] and QuerySet[Model] be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("XUNHUAN_VAR_DIR", str(BASE_DIR / "var")))

# "dev" (default: local demo and tests) or "production" (secrets and HTTPS required).
ENVIRONMENT = env_str("XUNHUAN_ENV", "dev")
if ENVIRONMENT not in {"dev", "production"}:
    raise ConfigError(f"XUNHUAN_ENV={ENVIRONMENT!r} must be 'dev' or 'production'")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("XUNHUAN_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ConfigError("XUNHUAN_DEBUG must be off when XUNHUAN_ENV=production")
if PRODUCTION:
    SECRET_KEY = env_str("XUNHUAN_SECRET_KEY", "")
    if len(SECRET_KEY) < 50:
        raise ConfigError("XUNHUAN_SECRET_KEY (>= 50 random characters) is required in production")
else:
    SECRET_KEY = "dev-only-" + "x" * 41
ALLOWED_HOSTS = env_list("XUNHUAN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "xunhuan.registry",
    "xunhuan.audit",
    "xunhuan.ledger",
    "xunhuan.accounts",
    "xunhuan.transfers",
    "xunhuan.statistics",
    "xunhuan.compliance",
    "xunhuan.exchange",
    "xunhuan.jobs",
    "xunhuan.imports",
    "xunhuan.web",
    "xunhuan.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "xunhuan.web.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "xunhuan.urls"
WSGI_APPLICATION = "xunhuan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = env_str("XUNHUAN_DATABASE_URL", "")
    if url:
        if not url.startswith(("postgres://", "postgresql://")):
            raise ConfigError(
                "XUNHUAN_DATABASE_URL must be a postgres:// URL (or unset for SQLite)"
            )
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        config["CONN_HEALTH_CHECKS"] = True
        # No JIT compilation for our sessions (ADR 0005): on a 10M-row ledger it spent
        # 7 s compiling a 12-month grouped scan that runs in 4-7 s without it.
        options = config.setdefault("OPTIONS", {})
        options["options"] = " ".join(filter(None, [options.get("options"), "-c jit=off"]))
        return config
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "xunhuan.sqlite3"),
        "OPTIONS": {
            # Several writers (web workers, imports, jobs) share one file: WAL lets
            # readers proceed, busy_timeout waits instead of failing, and IMMEDIATE
            # takes the write lock at BEGIN so two writers never deadlock mid-way.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")}
        if env_bool("XUNHUAN_SQLITE_TEST_FILE", False)
        else {},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The region rollup's dashboard index covers its sums with INCLUDE on PostgreSQL;
# SQLite builds the same index on its key columns only, which is what we want there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "xunhuan" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end packages installed from npm at set-up (package.json), served from here: no CDN.
STATICFILES_DIRS = [
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
]
# The dashboard map's boundaries: only the served provinces' files of an npm package.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "xunhuan.web.finders.BoundaryFinder",
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("XUNHUAN_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("XUNHUAN_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("XUNHUAN_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# How long retried API writes are recognized by their Idempotency-Key.
XUNHUAN_IDEMPOTENCY_DAYS = env_int("XUNHUAN_IDEMPOTENCY_DAYS", 30)

# Password logins: after this many failures within the window a username is refused.
AUTHENTICATION_BACKENDS = ["xunhuan.accounts.backends.RateLimitedModelBackend"]
XUNHUAN_LOGIN_MAX_FAILURES = env_int("XUNHUAN_LOGIN_MAX_FAILURES", 5)
XUNHUAN_LOGIN_LOCKOUT_MINUTES = env_int("XUNHUAN_LOGIN_LOCKOUT_MINUTES", 15)
# Transfer documents: weighed vs declared tolerance (percent) and deadlines (days).
XUNHUAN_TRANSFER_TOLERANCE_PERCENT = env_str("XUNHUAN_TRANSFER_TOLERANCE_PERCENT", "2")
XUNHUAN_TRANSFER_RECEIPT_DAYS = env_int("XUNHUAN_TRANSFER_RECEIPT_DAYS", 7)
XUNHUAN_TRANSFER_COMPLETION_DAYS = env_int("XUNHUAN_TRANSFER_COMPLETION_DAYS", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("XUNHUAN_LOG_LEVEL", "INFO")},
}
