"""Chinese first: the interface speaks Chinese unless the user chose English."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    """Django's ``LocaleMiddleware`` without the browser's ``Accept-Language``.

    Officers' and regulators' browsers are often English-localized (intranet images,
    English operating systems), and Django would then serve the English interface to
    people who never asked for it. The language is the one chosen with the switch
    (``/i18n/setlang/`` sets the cookie), else ``LANGUAGE_CODE`` (zh-hans).
    """

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        offered = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in offered else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
