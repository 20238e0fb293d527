"""Small inline SVG charts for the scorecard: monthly bars against plan, trends per criterion.

Drawn from the numbers the page already has (the API's figures), as SVG inside the page: no
script, no CDN, readable at 375 px (the SVG scales to its box). Every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

SERIES_COLOURS = {
    "sell_in": "#1f4e79",
    "sell_out": "#7fb3d5",
    "plan": "#b2182b",
    "initiative": "#1b7837",
    "capability": "#e08214",
    "credit": "#1f4e79",
    "reach": "#762a83",
    "score": "#222222",
}
W, H = 640.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 56.0, 8.0, 10.0, 34.0


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * step:
            return m * step
    return 10 * step


def _axis(top: float, fmt) -> list[str]:
    out = []
    for i in range(5):
        v = top * i / 4
        y = TOP + (H - TOP - BOTTOM) * (1 - i / 4)
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{escape(fmt(v))}</text>"
        )
    return out


def monthly_chart(months: Sequence[dict], labels: dict[str, str], fmt_money) -> Markup:
    """Sell-in and sell-out bars per month with the plan as a line (amounts)."""
    n = max(len(months), 1)
    top = _nice_max(
        max([float(m[k] or 0) for m in months for k in ("sell_in", "sell_out", "plan")] + [0])
    )
    plot_w = W - LEFT - RIGHT
    plot_h = H - TOP - BOTTOM
    slot = plot_w / n
    bar = slot * 0.36

    def y(v) -> float:
        return TOP + plot_h * (1 - float(v or 0) / top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
        f'aria-label="{escape(labels["title"])}" class="chart">',
        *_axis(top, fmt_money),
    ]
    points = []
    for i, m in enumerate(months):
        x0 = LEFT + slot * i + slot * 0.14
        for j, key in enumerate(("sell_in", "sell_out")):
            v = float(m[key] or 0)
            out.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
                f'height="{TOP + plot_h - y(v):.1f}" fill="{SERIES_COLOURS[key]}">'
                f"<title>{escape(m['month'])} {escape(labels[key])}: {escape(fmt_money(v))}"
                "</title></rect>"
            )
        cx = LEFT + slot * (i + 0.5)
        points.append(f"{cx:.1f},{y(m['plan']):.1f}")
        out.append(
            f'<text x="{cx:.1f}" y="{H - BOTTOM + 14:.1f}" text-anchor="middle" font-size="10">'
            f"{escape(m['month'][2:])}</text>"
        )
    out.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{SERIES_COLOURS["plan"]}" '
        'stroke-width="2" stroke-dasharray="5 3"/>'
    )
    out.append(_legend([("sell_in", labels["sell_in"]), ("sell_out", labels["sell_out"]),
                        ("plan", labels["plan"])]))  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))


def _legend(items: Sequence[tuple[str, str]]) -> str:
    parts = []
    x = LEFT
    for key, label in items:
        parts.append(
            f'<rect x="{x:.0f}" y="{H - 12:.0f}" width="10" height="10" '
            f'fill="{SERIES_COLOURS[key]}"/><text x="{x + 14:.0f}" y="{H - 3:.0f}" '
            f'font-size="11">{escape(label)}</text>'
        )
        x += 18 + 7.5 * max(len(label), 4)
    return "".join(parts)


def trend_chart(evaluations: Sequence[dict], labels: dict[str, str]) -> Markup:
    """One line per criterion (0–100) and the score, over the evaluations in date order."""
    keys = ("initiative", "capability", "credit", "reach")
    n = len(evaluations)
    plot_w = W - LEFT - RIGHT
    plot_h = H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / 100.0)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
        f'aria-label="{escape(labels["title"])}" class="chart">',
        *_axis(100.0, lambda v: f"{v:.0f}"),
    ]
    series = [(k, [e["scores"][k] for e in evaluations]) for k in keys]
    series.append(("score", [e["score"] for e in evaluations]))
    for key, values in series:
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        width = 2.5 if key == "score" else 1.5
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{SERIES_COLOURS[key]}" '
            f'stroke-width="{width}"/>'
        )
        for i, v in enumerate(values):
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{SERIES_COLOURS[key]}">'
                f"<title>{escape(str(evaluations[i]['evaluated_on']))} {escape(labels[key])}: "
                f"{v:.1f}</title></circle>"
            )
    for i, e in enumerate(evaluations):
        out.append(
            f'<text x="{x(i):.1f}" y="{H - BOTTOM + 14:.1f}" text-anchor="middle" '
            f'font-size="10">{escape(str(e["evaluated_on"]))}</text>'
        )
    out.append(_legend([(k, labels[k]) for k in (*keys, "score")]))
    out.append("</svg>")
    return Markup("".join(out))
