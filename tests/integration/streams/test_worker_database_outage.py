"""PostgreSQL unreachable for 30 s: the worker keeps running, commits no offset while it cannot
commit rows (consumption pauses), and after the database returns it stores everything, once.

The shared PostgreSQL cannot be stopped (other tests use it), so the worker reaches it through
a TCP proxy that the test cuts: open connections drop and new ones are refused, which is what
a client sees when the server stops."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from conftest import StackFactory
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from stream_dataset import dataset
from tcp_proxy import TcpProxy
from test_worker_crash import assert_exactly_the_dataset
from worker_harness import count

OUTAGE_S = 30.0


@pytest.mark.integration
def test_worker_pauses_while_postgres_is_down_and_loses_nothing(
    stream_stack_factory: StackFactory, services: Any
) -> None:
    server = conninfo_to_dict(services.database_url)
    host = str(server.get("host") or "127.0.0.1")
    proxy = TcpProxy(host, int(server.get("port") or 5432)).start()
    stack = stream_stack_factory(lambda dsn: make_conninfo(dsn, host="127.0.0.1",
                                                           port=str(proxy.port)))  # fmt: skip
    inputs = dataset()
    half = len(inputs) // 2
    worker = stack.start_worker("--tick-interval", "1", "--batch-size", "50")
    stack.produce((i.key, i.value, i.partition) for i in inputs[:half])
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        stack.wait_for("the first half's rows", lambda: count(conn, "measurements") > 0,
                       deadline_s=60)  # fmt: skip
        proxy.cut()
        stack.produce((i.key, i.value, i.partition) for i in inputs[half:])
        time.sleep(3)  # a commit of a batch flushed just before the cut may still land
        rows, offsets = count(conn, "measurements"), stack.committed_offsets()
        deadline = time.monotonic() + OUTAGE_S - 3
        while time.monotonic() < deadline:
            assert worker.alive(), stack.logs()
            assert (count(conn, "measurements"), stack.committed_offsets()) == (rows, offsets)
            time.sleep(1)
        assert worker.metric("greenwatch_streams_flush_retries_total") > 0
        assert offsets < len(inputs)
    proxy.restore()
    try:
        assert_exactly_the_dataset(stack, inputs)
        stack.wait_for("every offset to be committed",
                       lambda: stack.committed_offsets() == len(inputs), deadline_s=30)  # fmt: skip
    finally:
        proxy.cut()
