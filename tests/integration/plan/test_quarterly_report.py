"""``greenwatch report quarterly`` (issue 10 item 6): a PDF whose extracted text carries the
barometer and figures the database holds, set in the CJK font the install step brings, whose
pages render to images; and the same report as HTML."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import psycopg
import pypdfium2
import pytest
from PIL import Image
from plan_support import prepared, seed_year
from pypdf import PdfReader
from services import PgSchema
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


def _run(pg_schema: PgSchema, *args: str) -> Any:
    settings = Settings(database_url=pg_schema.dsn)
    return CliRunner().invoke(app, ["report", "quarterly", *args], obj=settings)


def test_pdf_text_matches_the_database_and_pages_render(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    prepared(db_conn)
    seed_year(db_conn, months=9)
    out = tmp_path / "report.pdf"
    result = _run(pg_schema, "--region", "520000", "--quarter", "2026Q3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    reader = PdfReader(str(out))
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "")
    assert "贵州省（520000）规划目标进度季度报告 2026Q3" in text
    assert "一、各地区目标完成情况（晴雨表）" in text and "贵阳市（520100）" in text
    # Every region row's figures are the stored quarter-end verdicts.
    rows = db_conn.execute(
        """SELECT subject_id, colour, actual, (evidence->>'intensity')::float8
             FROM plan_progress WHERE subject_kind = 'region' AND as_of = '2026-09-30'
              AND target_id = 'gz-energy-per-va-2018' AND colour IS NOT NULL"""
    ).fetchall()
    assert {r[0] for r in rows} == {"520000", "520100"}
    for _subject, colour, actual, intensity in rows:
        assert f"{actual:+.1%}" in text and f"{intensity:.4f} tce/10^4 yuan" in text
        assert {"red": "红", "yellow": "黄", "green": "绿"}[colour] in text
    # 9 months of E-TP-01 and E-CM-01: 13 500 tce (feedstock out) over VA 8100.
    assert f"{13500 / 8100:.4f} tce/10^4 yuan" in text
    assert "磷石膏消纳/产生" in text and "消纳 9900 t" in text
    fonts = {str(f) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert fonts  # the text is set in an embedded font
    document = pypdfium2.PdfDocument(str(out))
    try:
        assert len(document) >= 2
        for index in range(len(document)):
            image = document[index].render(scale=1).to_pil()
            png = io.BytesIO()
            image.save(png, format="PNG")
            reopened = Image.open(io.BytesIO(png.getvalue()))
            assert reopened.size[0] > 500 and reopened.size[1] > 300
    finally:
        document.close()


def test_html_report(pg_schema: PgSchema, db_conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    prepared(db_conn)
    seed_year(db_conn, months=9)
    out = tmp_path / "report.html"
    result = _run(pg_schema, "--region", "520100", "--quarter", "2026Q3", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert "贵阳市（520100）规划目标进度季度报告 2026Q3" in page
    assert f"{2.0:.4f} tce/10^4 yuan" in page and "data:image/png;base64," in page


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--region", "520000", "--quarter", "2026Q5", "--out", "r.pdf"], "is not YYYYQn"),
        (["--region", "520000", "--quarter", "2099Q1", "--out", "r.pdf"], "is not over yet"),
        (["--region", "520000", "--quarter", "2026Q3", "--out", "r.docx"], ".pdf or .html"),
    ],
)
def test_bad_input_exits_2(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any], args: list[str], reason: str
) -> None:
    prepared(db_conn)
    result = _run(pg_schema, *args)
    assert result.exit_code == 2 and reason in result.output
