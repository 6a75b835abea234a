"""English is complete for the web application: every catalogue string used by the
web app has its translation, and key pages in English carry no Chinese in their
chrome (headings, table headers, labels, buttons, navigation). Data (names of
enterprises, regions and wastes) stays as registered."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from tests.access_support import Seeded, seed
from tests.conftest import World

PO = Path(settings.BASE_DIR) / "xunhuan" / "locale" / "en" / "LC_MESSAGES" / "django.po"
CJK = re.compile(r"[\u3400-\u9fff\uff08\uff09\uff0c\uff1a\u3001\u3002]")
CHROME = {"th", "label", "button", "h2", "legend", "summary"}


def _entries() -> list[tuple[list[str], str, list[str]]]:
    """(references, msgid, msgstrs) of each catalogue entry, continuation lines joined."""
    entries = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        refs = [
            r for line in block.splitlines() if line.startswith("#: ") for r in line[3:].split()
        ]
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            head = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line)
            if head:
                key = head.group(1)
                fields[key] = head.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if fields.get("msgid"):
            strs = [v for k, v in fields.items() if k.startswith("msgstr")]
            entries.append((refs, fields["msgid"], strs))
    return entries


def test_every_web_string_has_its_english_translation() -> None:
    web = [
        (refs, msgid, strs)
        for refs, msgid, strs in _entries()
        if any("xunhuan/web/" in r for r in refs)
    ]
    assert len(web) > 200
    untranslated = [msgid for _refs, msgid, strs in web if not all(s.strip() for s in strs)]
    assert untranslated == []
    # And the compiled catalogue is the one served: English differs from the Chinese.
    with translation.override("en"):
        served = {msgid: translation.gettext(msgid) for _r, msgid, _s in web if "%" not in msgid}
    assert [m for m, text in served.items() if text == m and CJK.search(m)] == []


def test_the_whole_catalogue_is_translated() -> None:
    assert [msgid for _refs, msgid, strs in _entries() if not all(s.strip() for s in strs)] == []


VOID = {"area", "base", "br", "col", "embr", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Data inside chrome: choices of registered things (sites, wastes) and the language
# switch, whose options are written in their own language on purpose.
DATA = {"option", "textarea"}


class _Chrome(HTMLParser):
    """Collects the text inside chrome elements (and the top and tab navigation)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        classes = dict(attrs).get("class") or ""
        nav = tag == "nav" and ("top-nav" in classes or "tabs" in classes)
        self.stack.append("data" if tag in DATA else "chrome" if tag in CHROME or nav else "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "data" in self.stack or "chrome" not in self.stack:
            return
        if data.strip():
            self.texts.append(data.strip())


@pytest.fixture
def seeded(world: World) -> Seeded:
    return seed(world)


@pytest.mark.parametrize(
    ("persona", "page"),
    [
        ("league_regulator", "/dashboard/"),
        ("owner", "/enterprises/{plant}/"),
        ("owner", "/enterprises/{plant}/ledger/"),
        ("owner", "/enterprises/{plant}/ledger/new/"),
        ("owner", "/enterprises/{plant}/imports/"),
        ("owner", "/enterprises/{plant}/ledger/export/"),
        ("owner", "/transfers/"),
        ("owner", "/"),
    ],
)
def test_key_pages_in_english_have_no_chinese_chrome(
    seeded: Seeded, persona: str, page: str
) -> None:
    client = seeded.world.client(persona)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get(page.format(plant=seeded.code("plant")))
    assert response.status_code == 200
    parser = _Chrome()
    parser.feed(response.content.decode())
    assert parser.texts, "no chrome found"
    # The same page in Chinese does have Chinese chrome: the check can fail.
    chinese = [t for t in parser.texts if CJK.search(t)]
    assert chinese == []
    zh = seeded.world.client(persona).get(page.format(plant=seeded.code("plant")))
    parser_zh = _Chrome()
    parser_zh.feed(zh.content.decode())
    assert any(CJK.search(t) for t in parser_zh.texts)
