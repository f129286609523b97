"""Chinese notification texts: the outlet, factor, value, limit, standard and what the law
requires next (texts in ``alerts/reference/messages.yaml``, a data file a regulator can
correct). Pure: ``render_alert`` and ``render_order`` only format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from alerts.ladder import Basis
from alerts.model import NoticeKind, NotificationIntent, OrderAction, RegulatorOrder
from alerts.routing import CHINA_TIME
from schemas.registry import Registry

_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered notice: a one-line ``title`` and a multi-line ``body``."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The texts of ``messages.yaml``, with folded lines re-joined without spaces."""

    document: Mapping[str, Any]

    def text(self, *path: str | int) -> str:
        node: Any = self.document
        for part in path:
            node = node[part]
        return _CJK_SPACE.sub("", str(node))

    def get(self, section: str, key: str | int, default: str) -> str:
        node = self.document.get(section, {})
        return _CJK_SPACE.sub("", str(node[key])) if key in node else default


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The packaged message catalogue (read once)."""
    text = resources.files("alerts.reference").joinpath("messages.yaml").read_text("utf-8")
    return Catalogue(yaml.safe_load(text))


def china_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class _Names:
    enterprise: str
    outlet: str
    medium: str


def _names(registry: Registry, enterprise_id: str, outlet_id: str | None) -> _Names:
    found = registry.outlet(outlet_id) if outlet_id else None
    if found is not None:
        enterprise, outlet = found
        return _Names(enterprise.name, f"{outlet.name}（{outlet.id}）", outlet.medium.value)
    name = next((e.name for e in registry.enterprises if e.id == enterprise_id), enterprise_id)
    return _Names(name, outlet_id or "全厂", "gas")


def _art7_facility(registry: Registry, enterprise_id: str) -> bool:
    """Order No. 30 Art. 7: penalised instead of suspended (the registry's flag)."""
    return any(e.art7_facility for e in registry.enterprises if e.id == enterprise_id)


def _standard_name(registry: Registry, standard: str | None) -> str:
    if not standard:
        return "—"
    if standard.startswith("permit:"):
        return f"排污许可证（{standard.removeprefix('permit:')}）"
    try:
        return f"{registry.standards.by_id(standard).name}（{standard}）"
    except KeyError:
        return standard


def _number(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def next_step(basis: str, medium: str, evidence: Mapping[str, Any], registry: Registry) -> str:
    """What the law requires next for an alert at ``basis`` (Chinese)."""
    cat = catalogue()
    value, limit = evidence.get("value"), evidence.get("limit")
    excess = (
        value - limit if isinstance(value, int | float) and isinstance(limit, int | float) else None
    )
    fields = {
        "medium_law": cat.get("medium_law", medium, cat.text("medium_law", "gas")),
        "streak": evidence.get("streak", ""),
        "warning_pct": round(registry.policy.warning_fraction * 100),
        "energy_warning_pct": round(registry.policy.energy_quota_warning_fraction * 100),
        "completeness_pct": round(registry.policy.energy_completeness_min * 100),
        "consistency_pct": round(registry.policy.energy_consistency_max_deviation * 100),
        "limit": _number(limit),
        "excess": _number(excess),
        "unit": dict(evidence.get("verdict_evidence") or {}).get("unit", ""),
        "surcharge": surcharge_text(dict(evidence.get("verdict_evidence") or {})),
        **plan_fields(dict(evidence.get("verdict_evidence") or {})),
    }
    text = cat.get("next_step", basis, cat.text("next_step", Basis.EXCEEDANCE.value))
    if evidence.get("capped_from"):
        # The facts of the case only: an Art. 7 facility is not quoted Art. 6's suspension.
        case = cat.get("capped_cases", str(evidence["capped_from"]), "")
        text = f"{case}\n{text}" if case else text
    return text.format(**fields)


def plan_fields(verdict_evidence: Mapping[str, Any]) -> dict[str, str]:
    """What a plan verdict's notice quotes: the barometer's reason, the target's clause and
    who the recommendation is for (a region's regulator)."""
    return {
        "plan_reason": str(verdict_evidence.get("reason", "")),
        "plan_clause": str(verdict_evidence.get("clause", "")),
        "plan_addressee": str(verdict_evidence.get("addressee") or "主管部门"),
    }


def surcharge_text(verdict_evidence: Mapping[str, Any]) -> str:
    """The surcharge estimate an energy quota verdict carries (``streams.domain.
    surcharge_estimate``), as a sentence; '' when it carries none."""
    estimate = verdict_evidence.get("surcharge")
    if not isinstance(estimate, Mapping):
        return ""
    parts = []
    punitive = estimate.get("punitive")
    if isinstance(punitive, Mapping):
        parts.append(
            f"按本窗口数据估算，惩罚性电价加价 {punitive.get('rate_yuan_per_kwh')} 元/kWh，计费电量"
            f" {punitive.get('billed_kwh')} kWh，约 {punitive.get('amount_yuan')} 元"
            f"（{punitive.get('rule')}）"
        )
    tiered = estimate.get("tiered_next_year")
    if isinstance(tiered, Mapping):
        parts.append(
            f"若全年保持当前单耗，{tiered.get('pricing_year')} 年电解铝阶梯电价加价"
            f" {tiered.get('rate_yuan_per_kwh')} 元/kWh（{tiered.get('rule')}）"
        )
    if not parts:
        return ""
    return "；".join(parts) + "（系统估算，以价格主管部门核定为准）。"


def energy_unit(factor: str) -> str:
    """The unit of an energy verdict's factor (``kWh/t@30d`` → ``kWh/t``); '' otherwise."""
    return factor.split("@")[0] if "@" in factor else ""


def _period_line(evidence: Mapping[str, Any], unit: str, energy: bool = False) -> list[str]:
    start = evidence.get("period_start")
    if not start:
        return []
    label = {"hour": "小时均值", "day": "日排放量"}.get(str(evidence.get("period")), "累计值")
    if energy:
        label = "截至当日的滚动窗口值"
    lines = [f"时段：{china_time(datetime.fromisoformat(str(start)))} 起（北京时间）{label}"]
    ratio = evidence.get("ratio")
    over = f"；为限值的 {ratio:.2f} 倍" if isinstance(ratio, int | float) else ""
    lines.append(
        f"监测值：{_number(evidence.get('value'))} {unit}；限值：{_number(evidence.get('limit'))}"
        f" {unit}{over}"
    )
    return lines


def _detail_line(evidence: Mapping[str, Any]) -> list[str]:
    """Data-quality details (flags, silence, skew) as the streams reported them."""
    detail = evidence.get("detail")
    if not detail:
        return []
    observed = evidence.get("observed_at")
    when = f"（{china_time(datetime.fromisoformat(str(observed)))} 发现）" if observed else ""
    return [f"异常详情：{json.dumps(detail, ensure_ascii=False, default=str)}{when}"]


def resolved_line(evidence: Mapping[str, Any]) -> str:
    """The last line of a resolved notice: the compliant streak that ended a judged alert,
    or, for a data-quality alert (no streak in its evidence), that the condition ended."""
    streak = evidence.get("streak")
    if isinstance(streak, int) and not isinstance(streak, bool) and streak > 0:
        return catalogue().text("resolved").format(streak=streak)
    return catalogue().text("resolved_quality")


def render_alert(intent: NotificationIntent, registry: Registry) -> Message:
    """Render a notice about an alert (opened, escalated, repeat, resolved)."""
    cat = catalogue()
    alert = intent.alert
    evidence = alert.evidence
    names = _names(registry, alert.enterprise_id, alert.outlet_id)
    factor = alert.key.factor
    factor_name = f"{cat.get('factors', factor, factor)}（{factor}）" if factor else "全部因子"
    if factor and "@" in factor:
        window = factor.split("@")[1]
        factor_name = f"单位产品能耗·{cat.get('energy_windows', window, window)}（{factor}）"
    level_name = cat.text("levels", int(alert.level))
    notice = cat.text("notices", intent.kind.value)
    title = f"【{notice}·{level_name}】{names.enterprise} {names.outlet} {factor_name}"
    rule_name = cat.get("rules", alert.key.rule, alert.key.rule)
    energy = alert.key.rule.startswith("energy_")
    if energy:
        unit = energy_unit(factor or "") or "（完整率）"
    else:
        unit = cat.text("units", "load" if "load" in alert.key.rule else names.medium)
    subject = "对象" if energy else "排放口"
    lines = [
        f"企业：{names.enterprise}（{alert.enterprise_id}）",
        f"{subject}：{names.outlet}" + (f"；设备：{alert.device_id}" if alert.device_id else ""),
        f"监测因子：{factor_name}；判定规则：{rule_name}",
        *_period_line(evidence, unit, energy),
        *_detail_line(evidence),
        f"执行标准：{_standard_name(registry, evidence.get('standard'))}",
        f"告警级别：{level_name}；状态：{cat.text('states', alert.state.value)}",
    ]
    if intent.kind is NoticeKind.RESOLVED:
        lines.append(resolved_line(evidence))
    else:
        lines.append("依法要求：" + next_step(alert.basis, names.medium, evidence, registry))
    lines.append(
        f"告警编号：{alert.alert_id}（第 {alert.episode} 次）；时间：{china_time(intent.at)}"
    )
    return Message(title, "\n".join(lines))


def render_order(order: RegulatorOrder, registry: Registry, lifted: bool) -> Message:
    """Render a notice of a regulator's order (or its lifting) to the enterprise."""
    cat = catalogue()
    names = _names(registry, order.enterprise_id, order.outlet_id)
    order_name = cat.text("order_names", order.action.value)
    rectification = cat.text("rectification", "text")
    if lifted:
        text = cat.text("orders", "lift").format(order_name=order_name)
        title = f"【{cat.text('notices', 'order')}·解除{order_name}】{names.enterprise}"
    else:
        key = order.action.value
        if order.action is OrderAction.RESTRICT and _art7_facility(registry, order.enterprise_id):
            key = "restrict_art7"
        text = cat.text("orders", key).format(rectification=rectification)
        title = f"【{cat.text('notices', 'order')}·{order_name}】{names.enterprise}"
    lines = [
        f"企业：{names.enterprise}（{order.enterprise_id}）",
        f"范围：{names.outlet if order.outlet_id else '全厂'}",
        f"生效时间：{china_time(order.effective_from)}（北京时间）；决定人：{order.issued_by}",
        *(
            [f"解除时间：{china_time(order.lifted_at)}；解除人：{order.lifted_by or '—'}"]
            if lifted and order.lifted_at
            else []
        ),
        *([f"事由：{order.reason}"] if order.reason else []),
        text,
        f"决定编号：{order.order_id}",
    ]
    return Message(title + (f" {names.outlet}" if order.outlet_id else ""), "\n".join(lines))
