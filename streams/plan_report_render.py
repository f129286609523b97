"""The quarterly progress report as PDF or HTML: the same sections, tables and charts either way.

Route: matplotlib (Agg) draws the intensity paths as PNG; reportlab lays out the PDF and embeds
the CJK TrueType font as a subset with its Unicode map (so the Chinese text is searchable and
extractable, which matplotlib's own PDF backend does not promise for CJK); the HTML is one
self-contained file (charts inline as data URIs). The CJK font is the one ``make install``
brings (Debian ``fonts-wqy-zenhei``); without one, ``ReportFontMissing``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streams.domain.plan_progress import Progress
from streams.plan_report_data import Path as IntensityPath
from streams.plan_report_data import QuarterlyReport

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
"""Where Debian puts the CJK fonts we can embed (the first is what make install brings)."""

INDICATOR_NAMES = {
    "energy_per_value_added": "单位工业增加值能耗",
    "co2_per_value_added": "单位工业增加值二氧化碳排放",
    "water_per_value_added": "单位工业增加值用水量",
    "fly_ash_utilisation_rate": "粉煤灰综合利用率",
    "solid_waste_utilisation_rate": "工业固体废物综合利用率",
    "phosphogypsum_consumption_over_production": "磷石膏消纳/产生",
}
COLOUR_NAMES = {"green": "绿", "yellow": "黄", "red": "红", None: "—"}
COLOUR_RGB = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", None: "#9e9e9e"}


class ReportFontMissing(RuntimeError):
    """No CJK font to set the report in (``make install`` installs fonts-wqy-zenhei)."""


def cjk_font() -> Path:
    for path in CJK_FONTS:
        if path.exists():
            return path
    raise ReportFontMissing(
        "no CJK font found (looked for " + ", ".join(str(p) for p in CJK_FONTS) + "); "
        "run `make install` (Debian fonts-wqy-zenhei)"
    )


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    colours: list[str | None]
    """Barometer colour of each row (None: no colour), for the row's marker."""
    note: str = ""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _figure(p: Progress) -> str:
    e = p.evidence
    if "intensity" in e:
        return f"{e['intensity']:.4f} {e['unit']}（基准 {e['baseline']:g}）"
    if "consumption_t" in e:
        return f"消纳 {e['consumption_t']:.0f} t / 产生 {e['produced_t']:.0f} t"
    return _rate(p.actual)


def _progress_rows(items: Sequence[Progress]) -> tuple[list[tuple[str, ...]], list[str | None]]:
    rows: list[tuple[str, ...]] = []
    colours: list[str | None] = []
    for p in items:
        colour = p.colour.value if p.colour else None
        target = f"{INDICATOR_NAMES.get(p.indicator, p.indicator)} {p.target_id}"
        rows.append((f"{p.subject_name}（{p.subject_id}）", target, COLOUR_NAMES[colour],
                     _pct(p.actual) if "intensity" in p.evidence else _rate(p.actual),
                     _pct(p.required) if "intensity" in p.evidence else _rate(p.required),
                     _figure(p), p.reason))  # fmt: skip
        colours.append(colour)
    return rows, colours


def sections(report: QuarterlyReport) -> list[Table]:
    """The report's tables, in order (what both renderings show)."""
    head = ("对象", "目标", "晴雨表", "进度（降幅/比率）", "要求", "数值", "说明")
    regional, regional_colours = _progress_rows(report.regions)
    worst, worst_colours = _progress_rows(report.worst)
    resources, resource_colours = _progress_rows(report.resources)
    return [
        Table("一、各地区目标完成情况（晴雨表）", head, regional, regional_colours,
              "地区数据只计规模以上工业企业；"
              "进度路径按年均等速下降推算（本系统假设，非官方口径）。"),
        Table("二、进度最落后的企业", head, worst, worst_colours),
        Table("三、资源综合利用指标", head, resources, resource_colours,
              "综合利用率 = 综合利用量 ÷（产生量 + 综合利用往年贮存量）；"
              "磷石膏消纳 = 综合利用 + 无害化处理。"),
        Table("四、本季度执法情况（告警）", ("规则", "最高级别", "告警次数"),
              [(r, str(level), str(n)) for r, level, n in report.enforcement],
              [None] * len(report.enforcement)),
        Table("四、本季度执法情况（监管决定）", ("企业", "措施", "下达", "解除"),
              [(e, a, str(i), str(lifted)) for e, a, i, lifted in report.orders],
              [None] * len(report.orders)),
        Table("五、数据完整性（能耗计量日）",
              ("企业", "计量日", f"完整率低于 {report.completeness_min:.0%}", "平均完整率"),
              [(f"{n}（{e}）", str(d), str(s), _rate(m)) for e, n, d, s, m in report.completeness],
              [None] * len(report.completeness)),
    ]  # fmt: skip


def chart_png(path: IntensityPath, font: Path) -> bytes:
    """The year-to-date intensity at each month end against the level the target requires."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(fname=str(font))
    figure, axes = plt.subplots(figsize=(7.0, 3.0), dpi=110)
    try:
        days = [d for d, _ in path.points]
        axes.plot(days, [v for _, v in path.points], marker="o", label="本年累计强度")  # type: ignore[arg-type]
        if path.target_level is not None:
            axes.axhline(path.target_level, linestyle="--", color="#c62828", label="目标要求水平")
        axes.set_title(f"{path.subject_name} {path.target_id}", fontproperties=prop)
        axes.set_ylabel(path.unit, fontproperties=prop)
        axes.legend(prop=prop, loc="best")
        axes.grid(alpha=0.3)
        figure.autofmt_xdate()
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)


def _title(report: QuarterlyReport) -> tuple[str, str]:
    title = f"{report.region_name}（{report.region_code}）规划目标进度季度报告 {report.quarter}"
    meta = (f"统计期：{report.first} 至 {report.last}（本年累计至季末）；"
            f"晴雨表规则：{report.vintage_name}；登记版本：{report.registry_version}；"
            f"生成：{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    return title, meta


def render_html(report: QuarterlyReport, out: Path) -> None:
    font = cjk_font()
    title, meta = _title(report)
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:'WenQuanYi Zen Hei',"
        "'Noto Sans CJK SC',sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#eee}"
        ".dot{display:inline-block;width:10px;height:10px;border-radius:5px}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(meta)}</p>",
    ]
    for table in sections(report):
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        if table.note:
            parts.append(f"<p>{html.escape(table.note)}</p>")
        if not table.rows:
            parts.append("<p>（无）</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
                     + "</tr>")  # fmt: skip
        for row, colour in zip(table.rows, table.colours, strict=True):
            cells = [html.escape(c) for c in row]
            if table.header[2:3] == ("晴雨表",):
                cells[2] = (f"<span class='dot' style='background:{COLOUR_RGB[colour]}'></span> "
                            f"{cells[2]}")  # fmt: skip
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append("<h2>六、强度路径与目标</h2>")
    for path in report.paths:
        data = base64.b64encode(chart_png(path, font)).decode()
        alt = html.escape(f"{path.subject_name} {path.target_id}")
        parts.append(f"<p><img alt='{alt}' src='data:image/png;base64,{data}'></p>")
    parts.append("</body></html>")
    out.write_text("\n".join(parts), "utf-8")


def render_pdf(report: QuarterlyReport, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    font = cjk_font()
    pdfmetrics.registerFont(TTFont("GreenwatchCJK", str(font), subfontIndex=0))
    body = ParagraphStyle("body", fontName="GreenwatchCJK", fontSize=8.5, leading=11,
                          wordWrap="CJK")  # fmt: skip
    heading = ParagraphStyle("h", parent=body, fontSize=12, leading=16, spaceBefore=6)
    title_style = ParagraphStyle("t", parent=body, fontSize=15, leading=20)
    title, meta = _title(report)
    story: list[object] = [Paragraph(html.escape(title), title_style),
                           Paragraph(html.escape(meta), body), Spacer(1, 4 * mm)]  # fmt: skip
    for table in sections(report):
        story.append(Paragraph(html.escape(table.title), heading))
        if table.note:
            story.append(Paragraph(html.escape(table.note), body))
        if not table.rows:
            story.append(Paragraph("（无）", body))
            continue
        cells = [[Paragraph(html.escape(c), body) for c in table.header]]
        cells += [[Paragraph(html.escape(c), body) for c in row] for row in table.rows]
        grid = PdfTable(cells, repeatRows=1)
        style = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                 ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                 ("VALIGN", (0, 0), (-1, -1), "TOP")]  # fmt: skip
        for index, colour in enumerate(table.colours, start=1):
            if colour is not None:
                shade = colors.HexColor(COLOUR_RGB[colour])
                style.append(("BACKGROUND", (2, index), (2, index), shade))
        grid.setStyle(TableStyle(style))
        story.append(grid)
    story.append(Paragraph("六、强度路径与目标", heading))
    for path in report.paths:
        png = io.BytesIO(chart_png(path, font))
        story.append(Image(png, width=170 * mm, height=73 * mm))
    document = SimpleDocTemplate(str(out), pagesize=landscape(A4), title=title,
                                 leftMargin=12 * mm, rightMargin=12 * mm,
                                 topMargin=12 * mm, bottomMargin=12 * mm)  # fmt: skip
    document.build(story)
