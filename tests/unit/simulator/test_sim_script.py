"""A simulated device's frames, as the gateway and the normalizer will decode them."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.hj212 import CHINA_TZ, DecodeError, Packet, decode
from ingest.simulator.episodes import EpisodeBook, parse_episodes
from ingest.simulator.profiles import load_profiles
from ingest.simulator.province import Province, SimDevice, build_province
from ingest.simulator.script import DeviceScript, MinuteOutput, Outgoing

START = datetime(2026, 3, 2, tzinfo=CHINA_TZ)
PROVINCE: Province = build_province(7, seed=1, ack_fraction=0.5, realtime_fraction=0.5)


def _device(kind: str) -> SimDevice:
    return next(d for d in PROVINCE.devices if d.kind_name == kind)


def _run(
    device: SimDevice, minutes: int, episodes: str = "", backfill_per_minute: int = 30
) -> list[MinuteOutput]:
    book = EpisodeBook(parse_episodes(episodes), PROVINCE.devices)
    script = DeviceScript(
        device, PROVINCE.seed, START, book, load_profiles(), backfill_per_minute=backfill_per_minute
    )
    return [script.minute(m) for m in range(minutes)]


def _packets(outputs: list[MinuteOutput], cn: str | None = None) -> list[Packet]:
    packets = [decode(f.data) for o in outputs for f in o.frames]
    return [p for p in packets if cn is None or p.cn == cn]


def test_minute_and_hourly_frames_carry_period_starts_and_decode() -> None:
    device = _device("coal_unit_stack")
    outputs = _run(device, 120)
    minutes = _packets(outputs, "2051")
    hours = _packets(outputs, "2061")
    assert [p.data_time for p in minutes[:2]] == [START, START + timedelta(minutes=1)]
    assert [p.data_time for p in hours] == [START, START + timedelta(hours=1)]
    first = minutes[0]
    assert (first.mn, first.st, first.pw) == (device.mn, "31", device.password)
    assert set(first.values["a21026"]) == {"Avg", "Min", "Max", "ZsAvg", "Cou", "Flag"}
    assert first.qn is not None and first.qn.startswith("20260302000100")  # sent at minute end


def test_same_seed_same_frames() -> None:
    device = _device("cement_kiln_tail")
    assert [o.frames for o in _run(device, 30)] == [o.frames for o in _run(device, 30)]


def test_ack_devices_send_flag_5_and_the_others_flag_4() -> None:
    flags = {d.ack: decode(_run(d, 1)[0].frames[-1].data).flag for d in PROVINCE.devices}
    assert flags == {True: 5, False: 4}


def test_realtime_devices_send_2011_every_interval() -> None:
    device = next(d for d in PROVINCE.devices if d.realtime)
    realtime = _packets(_run(device, 2), "2011")
    assert [p.data_time for p in realtime] == [
        START,
        START + timedelta(seconds=30),
        START + timedelta(minutes=1),
        START + timedelta(minutes=1, seconds=30),
    ]
    assert "Rtd" in next(iter(realtime[0].values.values()))


def test_exceedance_pushes_the_corrected_value_over_the_limit() -> None:
    device = _device("coal_unit_stack")
    outputs = _run(device, 90, f"exceedance@{device.mn}+30m/30m:a21026x3")
    so2 = [float(p.values["a21026"]["ZsAvg"]) for p in _packets(outputs, "2051")]
    limit = device.limits["a21026"]
    assert max(so2[:30]) < limit
    assert min(so2[30:60]) > limit
    assert max(so2[60:]) < limit


def test_calibration_and_maintenance_are_flagged() -> None:
    device = _device("municipal_effluent")
    spec = f"calibration@{device.mn}+10m/5m;maintenance@{device.mn}+20m/5m:w21003"
    minutes = _packets(_run(device, 30, spec), "2051")
    assert {p.values["w01018"]["Flag"] for p in minutes[10:15]} == {"C"}
    assert {p.values["w21003"]["Flag"] for p in minutes[20:25]} == {"M"}
    assert minutes[20].values["w01018"]["Flag"] == "N"
    assert {p.values["w01018"]["Flag"] for p in minutes[:10]} == {"N"}


def test_flatline_freezes_values_with_normal_flags() -> None:
    device = _device("cement_kiln_tail")
    minutes = _packets(_run(device, 20, f"flatline@{device.mn}+5m/10m"), "2051")
    frozen = {p.values["a21002"]["Avg"] for p in minutes[5:15]}
    assert len(frozen) == 1
    assert {p.values["a21002"]["Flag"] for p in minutes[5:15]} == {"N"}
    assert len({p.values["a21002"]["Avg"] for p in minutes[15:]}) > 1


def test_outage_sends_nothing_and_storm_reconnects() -> None:
    device = _device("potline_fume")
    outputs = _run(device, 10, f"outage@{device.mn}+2m/3m;reconnect_storm@{device.mn}+6m/2m")
    assert [o.online for o in outputs[1:6]] == [True, False, False, False, True]
    assert outputs[2].frames == ()
    assert [o.reconnect for o in outputs[5:9]] == [False, True, True, False]


def test_clock_skew_shifts_qn_and_data_time() -> None:
    device = _device("submerged_arc_furnace")
    minutes = _packets(_run(device, 3, f"clock_skew@{device.mn}+1m/1m:+3600"), "2051")
    assert minutes[1].data_time == START + timedelta(hours=1, minutes=1)
    assert minutes[2].data_time == START + timedelta(minutes=2)


def test_corrupted_frames_are_rejected_by_the_codec_or_carry_line_noise() -> None:
    device = _device("industrial_boiler")
    outputs = _run(device, 60, f"corrupt@{device.mn}+0s/1h:1")
    damaged = [f for o in outputs for f in o.frames]
    assert {f.corruption for f in damaged} == {"bad_crc", "lost_characters", "line_noise"}
    for frame in damaged:
        if frame.corruption == "line_noise":
            assert decode(frame.data[frame.data.index(b"##") :]).mn == device.mn
        else:
            try:
                decode(frame.data)
            except DecodeError as error:
                assert error.reason.value in {"bad_crc", "length_mismatch"}
            else:
                raise AssertionError(f"{frame.corruption} frame decoded")


def test_bad_password_episode_sends_a_wrong_pw() -> None:
    device = _device("industrial_wastewater")
    packets = _packets(_run(device, 2, f"bad_password@{device.mn}+1m/1m"), "2051")
    assert packets[0].pw == device.password
    assert packets[1].pw != device.password


def _resent(outputs: list[MinuteOutput]) -> list[Outgoing]:
    return [f for o in outputs for f in o.frames if f.backfill]


def test_comm_loss_resends_exactly_the_lost_minute_and_hourly_frames_after_live_data() -> None:
    device = next(d for d in PROVINCE.devices if d.realtime)  # 2011 too: never re-sent
    spec = f"comm_loss@{device.mn}+90m/2h"  # 01:30–03:30: hours 01, 02 end inside the loss
    lost = range(90, 210)
    outputs = _run(device, 240, spec)
    uninterrupted = _run(device, 240)
    assert [o.online for o in outputs[89:211]] == [True] + [False] * 120 + [True]
    assert all(o.frames == () for o in outputs[90:210])
    expected = [f.data for m in lost for f in uninterrupted[m].frames if f.cn != "2011"]
    resent = _resent(outputs)
    assert [f.data for f in resent] == expected  # same values, DataTime and QN, same order
    assert len(resent) == 120 + 2
    assert {f.cn for f in resent} == {"2051", "2061"}
    reconnect = outputs[210].frames
    assert [f.data for f in reconnect[: len(uninterrupted[210].frames)]] == [
        f.data for f in uninterrupted[210].frames
    ]  # the live minute first, then the back-fill
    assert [o.frames for o in outputs[215:]] == [o.frames for o in uninterrupted[215:]]


def test_comm_loss_backfill_is_in_data_time_order_and_paced() -> None:
    device = _device("cement_kiln_tail")
    outputs = _run(device, 300, f"comm_loss@{device.mn}+30m/2h", backfill_per_minute=20)
    per_minute = [sum(f.backfill for f in o.frames) for o in outputs]
    assert max(per_minute) == 20
    assert per_minute[150:157] == [20, 20, 20, 20, 20, 20, 2]  # 122 frames over 7 minutes
    packets = [decode(f.data) for f in _resent(outputs)]
    minutes = [p.data_time for p in packets if p.cn == "2051"]
    hours = [p.data_time for p in packets if p.cn == "2061"]
    assert minutes == [START + timedelta(minutes=m) for m in range(30, 150)]
    assert hours == [START, START + timedelta(hours=1)]  # the hours that ended in the loss
    assert packets.index(next(p for p in packets if p.cn == "2061")) == 30  # after 00:59


def test_outage_resends_nothing() -> None:
    device = _device("coal_unit_stack")
    outputs = _run(device, 240, f"outage@{device.mn}+90m/2h")
    assert _resent(outputs) == []
    minutes = {p.data_time for p in _packets(outputs, "2051")}
    assert START + timedelta(minutes=100) not in minutes
    assert len(minutes) == 240 - 120


def test_rewrite_sends_an_exceedance_then_resends_the_same_minutes_lower() -> None:
    """The rewrite trick (issue 13 item 8): exceeding minutes live, the same DataTime re-sent
    below the limit 30 minutes after the episode."""
    device = _device("coal_unit_stack")
    outputs = _run(device, 240, f"rewrite@{device.mn}+60m/60m:a21026x3")
    limit = device.limits["a21026"]
    live = [p for o in outputs for f in o.frames if not f.backfill for p in [decode(f.data)]]
    minutes = [p for p in live if p.cn == "2051"]
    assert min(float(p.values["a21026"]["ZsAvg"]) for p in minutes[60:120]) > limit
    resent = [decode(f.data) for f in _resent(outputs)]
    assert [p.data_time for p in resent] == [START + timedelta(minutes=m) for m in range(60, 120)]
    assert max(float(p.values["a21026"]["ZsAvg"]) for p in resent) < limit
    first_resend = next(i for i, o in enumerate(outputs) if any(f.backfill for f in o.frames))
    assert first_resend == 150  # 30 minutes after the episode ended at minute 120
