"""``greenwatch plan progress`` judges regions (rolled up by GB/T 2260 prefix, 规模以上 only)
and enterprises from the stored monthly figures, prints the barometer and stores the
``plan_progress`` verdicts with their evidence (issue 10 items 2 and 4)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from plan_support import AS_OF, prepared, seed_year
from services import PgSchema
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


def _run(pg_schema: PgSchema, *args: str) -> Any:
    settings = Settings(database_url=pg_schema.dsn)
    return CliRunner().invoke(app, ["plan", "progress", *args], obj=settings)


def test_barometer_from_stored_figures_rolled_up_and_stored(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any]
) -> None:
    prepared(db_conn)
    seed_year(db_conn)
    result = _run(pg_schema, "--region", "520000", "--as-of", AS_OF.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    by = {(r["subject_id"], r["target_id"]): r for r in rows}

    # Province, 规模以上 only (the sewage plant's 80 000 tce are outside): 8 months of
    # E-TP-01 (8000 tce, VA 4000) and E-CM-01 (4800 tce of which 800 feedstock, VA 3200).
    province = by[("520000", "gz-energy-per-va-2018")]
    assert province["evidence"]["enterprises"] == ["E-TP-01", "E-CM-01", "E-CH-01"]
    assert province["evidence"]["intensity"] == pytest.approx(12000 / 7200)
    assert province["evidence"]["intensity_with_feedstock"] == pytest.approx(12800 / 7200)
    assert province["actual"] == pytest.approx(1 - (12000 / 7200) / 1.6)
    assert province["required"] == pytest.approx(0.12)  # past the target year: all of it
    assert province["colour"] == "red"  # intensity rose vs 2015 (NDRC 2021)
    # Guiyang: only E-TP-01 (2.0 vs 1.9: rose); the enterprise's own baseline 4.8: on track.
    assert by[("520100", "gz-energy-per-va-2018")]["evidence"]["intensity"] == pytest.approx(2.0)
    assert by[("520100", "gz-energy-per-va-2018")]["colour"] == "red"
    assert by[("E-TP-01", "gz-energy-per-va-2018")]["colour"] == "green"
    assert by[("E-TP-01", "gz-energy-per-va-2018")]["actual"] == pytest.approx(1 - 2.0 / 4.8)
    # CO2: 20 000 + 12 000 t over VA 7200, baseline 4.1 t/10^4 yuan.
    co2 = by[("520000", "gz-co2-per-va-2019")]
    assert co2["evidence"]["intensity"] == pytest.approx(32000 / 7200)
    # Zunyi is tracked by nobody: its reduction cannot be judged, and says why.
    assert by[("520300", "gz-energy-per-va-2018")]["colour"] is None
    assert by[("520300", "gz-energy-per-va-2018")]["reason"] == "no baseline in the registry"
    # Phosphogypsum: 消纳 8800 > produced 8000, growth 8800 / 7200 − 1 = 22 % ≥ 10 %.
    gypsum = by[("E-CH-01", "gz-phosphogypsum-balance-2020")]
    assert gypsum["colour"] == "green"
    assert gypsum["evidence"]["consumption_t"] == pytest.approx(8800)
    assert gypsum["evidence"]["utilisation_rate"] == pytest.approx(5600 / 8000)
    assert gypsum["evidence"]["consumption_growth"] == pytest.approx(8800 / 7200 - 1)
    # Solid waste 50 % against "超过60%": within 10 % of the target? no: yellow only under 2021.
    waste = by[("E-CH-01", "gz-solid-waste-utilisation-2018")]
    assert waste["actual"] == pytest.approx(0.5) and waste["colour"] == "yellow"

    stored = db_conn.execute(
        "SELECT colour, actual, evidence->>'intensity' FROM plan_progress WHERE subject_id ="
        " '520000' AND target_id = 'gz-energy-per-va-2018' AND as_of = %s"
        " AND vintage = 'NDRC-2021-629'",
        (AS_OF,),
    ).fetchall()
    assert stored == [
        ("red", pytest.approx(province["actual"]), str(province["evidence"]["intensity"]))
    ]


def test_vintage_changes_colours_and_the_text_barometer(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any]
) -> None:
    prepared(db_conn)
    seed_year(db_conn)
    result = _run(pg_schema, "--region", "520000", "--as-of", AS_OF.isoformat(),
                  "--vintage", "ndrc2020")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "region 520100 贵阳市" in result.output
    assert "enterprise E-TP-01" in result.output
    assert "our assumption, not official" in result.output
    # 50 % vs 60 %: missed by 0.10 > 10 % of the target (0.06): red under NDRC 2020.
    waste = db_conn.execute(
        "SELECT colour FROM plan_progress WHERE subject_id = 'E-CH-01' AND target_id ="
        " 'gz-solid-waste-utilisation-2018' AND vintage = 'NDRC-2020-901'"
    ).fetchone()
    assert waste == ("red",)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--region", "52", "--as-of", "2026-08-31"], "not a GB/T 2260 code"),
        (["--region", "520000", "--as-of", "2099-01-31"], "is in the future"),
        (["--region", "520000", "--as-of", "31/08/2026"], "is not a date"),
        (["--region", "520000", "--as-of", "2026-08-31", "--vintage", "x"], "choose one of"),
        (["--region", "110000", "--as-of", "2026-08-31"], "no plan covers region 110000"),
    ],
)
def test_bad_input_exits_2_with_the_reason(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any], args: list[str], reason: str
) -> None:
    prepared(db_conn)
    result = _run(pg_schema, *args)
    assert result.exit_code == 2 and reason in result.output
    assert "Traceback" not in result.output
