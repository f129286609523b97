"""Two alert services on one broker, each on its own topic prefix, each logged in as the
``alerts`` principal: each joins its prefix's consumer group (``<prefix>-alerts``) alone.
Before (issue 11) both joined ``greenwatch-alerts`` and rebalanced each other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from deploy import kafka_provision
from deploy.migrate import migrate
from schemas.topics import consumer_group

REGISTRY = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"


def test_two_prefixes_on_one_broker_do_not_share_a_group(
    services: Any, pg_schema: Any, tmp_path: Path
) -> None:
    if services.origin != "local":
        pytest.skip("the alerts principal's ACLs are the local stack's")
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
    prefixes = [f"grp{uuid.uuid4().hex[:6]}", f"grp{uuid.uuid4().hex[:6]}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENWATCH_KAFKA_USER")}
    env = {k: v for k, v in env.items() if k != "GREENWATCH_KAFKA_PASSWORD"}
    env |= {"GREENWATCH_DATABASE_URL": pg_schema.dsn, "GREENWATCH_STATE_DIR":
            str(services.settings.state_dir)}  # fmt: skip
    processes = []
    admin = KafkaAdminClient(**services.kafka.client_config())
    try:
        for prefix in prefixes:
            kafka_provision.provision(services.settings, prefix, users=False)
            log = (tmp_path / f"{prefix}.log").open("w")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "greenwatch",
                        "alerts",
                        "run",
                        "--registry",
                        str(REGISTRY),
                        "--no-notify",
                    ],
                    env=env | {"GREENWATCH_TOPIC_PREFIX": prefix},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        wanted = {consumer_group(prefix, "alerts") for prefix in prefixes}
        members: dict[str, int] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                described = admin.describe_groups(sorted(wanted))
            except KafkaError:  # the group coordinator is not there yet: ask again
                time.sleep(1)
                continue
            members = {
                group: len(about["members"])
                for group, about in described.items()
                if about["group_state"] == "Stable"
            }
            if set(members) == wanted:
                break
            assert all(p.poll() is None for p in processes), _logs(tmp_path)
            time.sleep(1)
        assert members == dict.fromkeys(wanted, 1), _logs(tmp_path)
        shared = admin.describe_groups(["greenwatch-alerts"])["greenwatch-alerts"]
        assert not shared["members"]
    finally:
        admin.close()
        for process in processes:
            process.terminate()
            process.wait(30)


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text() for p in tmp_path.glob("*.log"))
