"""Episodes: the --episodes syntax, the seeded plan, and which devices they hit when."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ingest.simulator.episodes import (
    Episode,
    EpisodeBook,
    EpisodeKind,
    EpisodeSpecError,
    parse_duration,
    parse_episodes,
    plan_episodes,
)
from ingest.simulator.province import build_province


def test_spec_is_parsed_with_its_parameters() -> None:
    [exceed, skew, outage] = parse_episodes(
        "exceedance@E-TP-001+2h/1h30m:a21026x3; clock_skew@SIMCM001K1+90m/1h:-7200;outage@*+1d/45m"
    )
    assert exceed == Episode(
        EpisodeKind.EXCEEDANCE, "E-TP-001", timedelta(hours=2), timedelta(minutes=90), "a21026", 3.0
    )
    assert (skew.kind, skew.value, skew.start) == (
        EpisodeKind.CLOCK_SKEW,
        -7200.0,
        timedelta(minutes=90),
    )
    assert (outage.target, outage.start, outage.duration) == (
        "*",
        timedelta(days=1),
        timedelta(minutes=45),
    )


@pytest.mark.parametrize(
    "spec",
    [
        "exceedance@E-TP-001+2h/3h:a21026x3",
        "exceedance@*+0s/1h:x2.5",
        "calibration@SIMTP001G1+30m/20m:a21002",
        "maintenance@SIMTP001G1+30m/20m",
        "corrupt@E-CM-001+1h/2h:0.5",
        "clock_skew@SIMTP001G1+1h/2h:+3600",
        "reconnect_storm@*+4h/10m",
        "bad_password@SIMWW001W1+1h/1h",
        "flatline@SIMWW001W1+1h/1h",
        "outage@SIMWW001W1+1h/1h",
        "comm_loss@SIMCC001F1+16h/2h",
    ],
)
def test_spec_round_trips(spec: str) -> None:
    [episode] = parse_episodes(spec)
    assert episode.spec() == spec


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("exceedance", "expected KIND@TARGET"),
        ("meltdown@*+1h/1h", "unknown kind"),
        ("outage@*+1h/0m", "positive"),
        ("outage@*+1x/1h", "not a duration"),
        ("exceedance@*+1h/1h:three", "[FACTOR]xMULTIPLE"),
        ("corrupt@*+1h/1h:2", "fraction"),
        ("outage@*+1h/1h:a21026", "takes no PARAM"),
        ("comm_loss@*+1h/1h:30", "takes no PARAM"),
        ("comm_loss@*+1h/0s", "positive"),
        ("comm_loss@SIMCC001F1+16h", "expected KIND@TARGET"),
        ("comm_lost@*+1h/1h", "unknown kind"),
    ],
)
def test_bad_specs_say_why(spec: str, reason: str) -> None:
    with pytest.raises(EpisodeSpecError, match=re.escape(reason)):
        parse_episodes(spec)


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError):
        parse_duration("90")


def test_seeded_plan_has_every_kind_and_is_reproducible() -> None:
    devices = build_province(12, seed=4).devices
    plan = plan_episodes(devices, seed=4, hours=24)
    assert {e.kind for e in plan} == set(EpisodeKind)
    assert plan == plan_episodes(devices, seed=4, hours=24)
    assert all(e.start + e.duration <= timedelta(hours=24) for e in plan)


def test_book_answers_per_device_and_time() -> None:
    province = build_province(7, seed=1)
    power = [d for d in province.devices if d.enterprise_id == "E-TP-001"]
    book = EpisodeBook(parse_episodes("maintenance@E-TP-001+1h/30m"), province.devices)
    assert book.active(power[0].mn, timedelta(minutes=59)) == ()
    assert book.first(power[1].mn, timedelta(minutes=60), EpisodeKind.MAINTENANCE) is not None
    assert book.active(power[0].mn, timedelta(minutes=90)) == ()
    other = next(d for d in province.devices if d.enterprise_id != "E-TP-001")
    assert book.active(other.mn, timedelta(minutes=70)) == ()


def test_outage_and_comm_loss_take_the_device_offline() -> None:
    province = build_province(7, seed=1)
    [first, second, *_] = province.devices
    spec = f"outage@{first.mn}+1h/30m;comm_loss@{second.mn}+2h/30m"
    book = EpisodeBook(parse_episodes(spec), province.devices)
    assert [book.offline(first.mn, timedelta(minutes=m)) for m in (59, 60, 89, 90)] == [
        False,
        True,
        True,
        False,
    ]
    assert book.offline(second.mn, timedelta(minutes=120))
    assert not book.offline(second.mn, timedelta(minutes=60))
