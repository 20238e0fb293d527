"""Growth compares like with like (issue 14): a month still running is compared day for day
with the same days of the month before (mom) or of that month a year earlier (yoy); a whole
month with a whole month. Fixed dates throughout."""

from __future__ import annotations

import datetime as dt

import pytest
from auth_helpers import add_token, token_client
from test_ranking import _by, _sale, ranked  # noqa: F401 - the fixture

from geo_crm.analysis.growth import comparison, month_before, year_before
from geo_crm.analysis.judging import scorecard
from geo_crm.analysis.plans import parse_period
from geo_crm.analysis.ranking import ranking

pytest_plugins = ["auth_fixtures"]

D = dt.date


@pytest.mark.parametrize(
    "period, as_of, compare, now, before, to_date",
    [
        ("2025-12", D(2025, 12, 6), "mom", (D(2025, 12, 1), D(2025, 12, 6)),
         (D(2025, 11, 1), D(2025, 11, 6)), True),
        ("2025-12", D(2025, 12, 6), "yoy", (D(2025, 12, 1), D(2025, 12, 6)),
         (D(2024, 12, 1), D(2024, 12, 6)), True),
        ("2025-11", D(2025, 12, 6), "mom", (D(2025, 11, 1), D(2025, 11, 30)),
         (D(2025, 10, 1), D(2025, 10, 31)), False),
        ("2025-11", D(2025, 12, 6), "yoy", (D(2025, 11, 1), D(2025, 11, 30)),
         (D(2024, 11, 1), D(2024, 11, 30)), False),
        ("2025-03", D(2025, 3, 30), "mom", (D(2025, 3, 1), D(2025, 3, 30)),
         (D(2025, 2, 1), D(2025, 2, 28)), True),  # clamped to February's last day
        ("2024-02", D(2024, 3, 1), "yoy", (D(2024, 2, 1), D(2024, 2, 29)),
         (D(2023, 2, 1), D(2023, 2, 28)), False),
        ("2025", D(2025, 6, 15), "mom", (D(2025, 1, 1), D(2025, 6, 15)),
         (D(2024, 1, 1), D(2024, 6, 15)), True),
        ("2025-12", D(2025, 12, 31), "mom", (D(2025, 12, 1), D(2025, 12, 31)),
         (D(2025, 11, 1), D(2025, 11, 30)), False),  # its last day: whole months
    ],
)  # fmt: skip
def test_the_windows_compared(period, as_of, compare, now, before, to_date):
    c = comparison(parse_period(period), as_of, compare)
    assert (c.start, c.end) == now and (c.before_start, c.before_end) == before
    assert c.to_date is to_date


def test_a_period_not_begun_compares_nothing():
    c = comparison(parse_period("2026-01"), D(2025, 12, 6), "mom")
    assert c.start > c.end and c.before_start > c.before_end


def test_days_are_clamped():
    assert month_before(D(2025, 3, 31)) == D(2025, 2, 28)
    assert year_before(D(2024, 2, 29)) == D(2023, 2, 28)


@pytest.fixture
def early(connection, ranked):  # noqa: F811
    """May: D1 400 on the 5th and 2,000 on the 20th; D3 100 on the 1st (fixture). June: D1
    1,000 on the 10th, D3 3,000 on the 12th; D1 500 in June 2024 (fixture)."""
    _sale(connection, None, "D1", "2025-05-05", 400)
    _sale(connection, None, "D1", "2025-05-20", 2000)
    return ranked


def test_the_ranking_compares_the_same_days_while_the_month_runs(session, early):
    rows = _by(ranking(session, "P1", by="growth", period="2025-06", user=None,
                       as_of=D(2025, 6, 12)))  # fmt: skip
    # 1–12 June against 1–12 May: D1 1,000 against 400; D3 3,000 against 100
    assert rows["D1"]["growth"] == pytest.approx(1.5)
    assert rows["D3"]["growth"] == pytest.approx(29.0)
    assert str(rows["D1"]["growth_base"]) == "400.00"
    yoy = _by(ranking(session, "P1", by="growth", period="2025-06", user=None, compare="yoy",
                      as_of=D(2025, 6, 12)))  # fmt: skip
    assert yoy["D1"]["growth"] == pytest.approx(1.0) and yoy["D3"]["growth"] is None


def test_a_whole_month_compares_with_the_whole_month_before(session, early):
    result = ranking(session, "P1", by="growth", period="2025-06", user=None, as_of=D(2025, 7, 1))
    rows = _by(result)
    assert rows["D1"]["growth"] == pytest.approx((1000 - 2400) / 2400)
    assert result.growth.to_date is False


def test_early_in_a_month_a_distributor_is_not_no_data(session, early):
    """On 3 June nothing was bought in June yet: against 1–3 May (nothing) it has no figure,
    never a whole May; on 6 June D1 stands at −100 % against 1–6 May's 400."""
    rows = _by(ranking(session, "P1", by="growth", period="2025-06", user=None,
                       as_of=D(2025, 6, 6)))  # fmt: skip
    assert rows["D1"]["growth"] == pytest.approx(-1.0)
    assert rows["D3"]["growth"] == pytest.approx(-1.0)  # 100 on 1 May, nothing since


def test_the_scorecard_compares_the_running_month_day_for_day(session, early):
    card = scorecard(session, "D1", user=None, as_of=D(2025, 6, 12))
    june = card.months[-1]
    assert june["month"] == "2025-06" and june["to_date"] is True
    assert june["sell_in_mom"] == pytest.approx(1.5)  # 1,000 against 1–12 May's 400
    assert june["sell_in_yoy"] == pytest.approx(1.0)  # against 1–12 June 2024's 500
    assert card.growth["sell_in_mom"] == pytest.approx(1.5)
    assert card.growth_windows["mom"] == {"start": D(2025, 5, 1), "end": D(2025, 5, 12)}
    whole = scorecard(session, "D1", user=None, as_of=D(2025, 6, 30))
    assert whole.growth_windows is None
    assert whole.months[-1]["sell_in_mom"] == pytest.approx((1000 - 2400) / 2400)


def test_the_api_says_which_days_it_compares(aapp, connection, early):
    client = token_client(aapp, add_token(connection, early["admin"]))
    body = client.get("/api/v1/regions/P1/ranking?by=growth&period=2025-06&compare=yoy").get_json()
    assert body["growth"]["compare"] == "yoy" and body["growth"]["before_start"] == "2024-06-01"
    bad = client.get("/api/v1/regions/P1/ranking?compare=weekly")
    assert bad.status_code == 422 and "query.compare" in bad.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "lang, words", [("en", "Growth compares"), ("zh-CN", "增长对比")]
)  # fmt: skip
def test_the_ranking_page_says_which_comparison(aapp, connection, early, lang, words):
    client = token_client(aapp, add_token(connection, early["admin"]))
    page = client.get(f"/regions/P1/ranking?by=growth&period=2025-06&compare=yoy&lang={lang}")
    html = page.get_data(as_text=True)
    line = html.split('id="growth-windows"')[1].split("</p>")[0]
    assert words in line and "2024" in line
    assert 'value="yoy" selected' in html


def test_a_year_to_date_reads_whole_months_and_the_running_months_days(session, early):
    rows = _by(ranking(session, "P1", by="growth", period="2025", user=None,
                       as_of=D(2025, 6, 12)))  # fmt: skip
    # 1 Jan–12 Jun 2025: D1 400 + 2,000 + 1,000; 1 Jan–12 Jun 2024: 500 (10 June)
    assert rows["D1"]["growth"] == pytest.approx((3400 - 500) / 500)
    assert rows["D3"]["growth"] is None
    late = _by(ranking(session, "P1", by="growth", period="2025", user=None,
                       as_of=D(2025, 6, 9)))  # fmt: skip
    assert late["D1"]["growth"] is None  # 2024's only sale came on 10 June
