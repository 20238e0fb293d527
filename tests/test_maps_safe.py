"""``safe_text``: user text made inert in HTML, attributes, JS strings/template literals, JSON in
``<script>``, innerHTML of GeoJSON popups and branca's Jinja re-parse — and still readable."""

from __future__ import annotations

import html
import json
import random

import pytest
from branca.element import Element

from geo_crm.maps.elements import js_data
from geo_crm.maps.safe import safe_href, safe_link, safe_text

XSS = "<img src=x onerror=alert(1)>"
ODD = "奇`${alert(2)}`</script><script>alert(3)</script>\"'\\\u2028\u2029{{7*7}}{%x%}{#c#}\n\r\t店"
DANGEROUS = set("<>\"'`$\\{}\n\r\u2028\u2029")


@pytest.mark.parametrize("text", [XSS, ODD, "plain 名称", "", "a&b", "${x}", "`", "</SCRIPT >"])
def test_output_holds_no_character_special_in_any_context(text):
    out = str(safe_text(text))
    assert not DANGEROUS & set(out)
    assert "</script" not in out.lower() and "<!--" not in out


@pytest.mark.parametrize(
    "text", [XSS, ODD, "plain 名称", "a&amp;b", "100% ¥12,345.00", 'O\'Brien "&"']
)
def test_output_reads_back_as_the_original_text(text):
    # what a browser shows after innerHTML / parsing the attribute
    assert html.unescape(str(safe_text(text))) == text


def test_the_xss_probe_becomes_text():
    assert str(safe_text(XSS)) == "&lt;img src=x onerror=alert(1)&gt;"


def test_none_numbers_and_non_finite():
    assert safe_text(None) == ""
    assert safe_text(12) == "12"
    assert safe_text(1.5) == "1.5"
    assert safe_text(float("nan")) == "" and safe_text(float("inf")) == ""


def test_control_characters_dropped_and_lone_surrogates_replaced():
    out = str(safe_text("a\x00b\x07c\x7fd\x85e\ud800f"))
    assert out == "abcde\ufffdf"
    out.encode("utf-8")  # must not raise


def test_result_is_markup_so_jinja_does_not_escape_twice():
    from jinja2 import Environment

    env = Environment(autoescape=True)
    assert (
        env.from_string("{{ v }}").render(v=safe_text(XSS)) == "&lt;img src=x onerror=alert(1)&gt;"
    )


def test_branca_reparse_does_not_evaluate_user_text():
    # MacroElement.render wraps rendered output in Element(template=...), parsing it again
    rendered = Element(str(safe_text("{{7*7}} {% if 1 %}x{% endif %}"))).render()
    assert "49" not in rendered and html.unescape(rendered) == "{{7*7}} {% if 1 %}x{% endif %}"


def test_in_json_inside_script_and_template_literal():
    prop = json.dumps({"name": str(safe_text(ODD))})
    assert "</" not in prop and "`" not in prop and "${" not in prop
    literal = f"`<td>{safe_text(ODD)}</td>`"
    assert literal.count("`") == 2 and "${" not in literal
    script = js_data({"rows": [[str(safe_text(ODD))]]})
    assert "<" not in script and "\u2028" not in script


def test_random_strings_keep_the_invariants():
    rng = random.Random(5)
    alphabet = "<>&\"'`${}\\/\n\r\t\u2028\u2029\x00\x1f ascript名店=;:()-"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        out = str(safe_text(text))
        assert not DANGEROUS & set(out)
        expected = "".join(
            c for c in text if c in "\t\n\r" or not (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)
        )
        assert html.unescape(out) == expected


def test_href_keeps_a_code_inside_one_path_segment():
    assert safe_href("/outlets/", 'a/b?c#d"e') == "/outlets/a%2Fb%3Fc%23d%22e"
    assert safe_href("/outlets/", "店1") == "/outlets/%E5%BA%971"
    link = str(safe_link("/outlets/", "javascript:alert(1)", XSS))
    assert link.startswith('<a href="/outlets/javascript%3Aalert%281%29"')
    assert "<img" not in link
