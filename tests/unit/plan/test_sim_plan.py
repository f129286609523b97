"""The simulated province against its plan: every city with an enterprise is tracked with the
baselines of ingest/simulator/plan.yaml (a valid registry), Art. 7 facilities are outside the
规模以上 figures, and the monthly statistics cover the months over, both years."""

from __future__ import annotations

from datetime import date, datetime

from ingest.hj212 import CHINA_TZ
from ingest.simulator.energy import load_energy_plan, with_energy
from ingest.simulator.plan import load_sim_plan, statistic_posts, with_plan
from ingest.simulator.province import build_province


def test_plan_registry_and_statistics() -> None:
    registry = build_province(7, 7).registry
    registry = with_energy(
        registry, datetime(2026, 12, 5, tzinfo=CHINA_TZ), "s", load_energy_plan()
    )
    registry = with_plan(registry, load_sim_plan(), "s")
    codes = {r.code for r in registry.plan_regions}
    assert "520000" in codes
    assert {e.region_code[:4] + "00" for e in registry.enterprises} <= codes
    sewage = next(e for e in registry.enterprises if e.id.startswith("E-WW"))
    assert sewage.art7_facility and not sewage.above_designated_size
    posts = statistic_posts(registry, load_sim_plan(), date(2026, 12, 6))
    gypsum = next(p for p in posts if p.enterprise_id.startswith("E-PC"))
    months = {s["period_start"][:7] for s in gypsum.body["statistics"]}
    assert len(months) == 22 and "2026-11" in months and "2025-01" in months
    assert "2026-12" not in months  # not over
