"""The pure stream domain core: no Kafka, faust, psycopg or HTTP (design.md, style.md).

Driven by ``streams.replay`` (offline) and by the faust worker, the same code both ways::

    normalize.normalize_packet(packet, received_at, registry) -> list[Measurement]
    engine.Engine(registry)
        .missing_hours(ms) / .hydrate(device_hour, stored)
        .hydration_plan(ms) / .hydrate_watermark(device, stored) / .hydrate_closed(dh, hourly)
        .expect(devices, since) / .forget(devices)
        .missing_years(ms) / .hydrate_year(outlet_id, factor, year, ytd)
        .ingest(ms) / .close_all() / .tick(now) -> list[AggregateValue | Verdict | QualitySignal]
        .prepare_frames(frames, store) / .ingest_frames(frames): the same, one ``frames.Frame``
            (a decoded packet's measurements) at a time: what the worker and the replay call

The calculations are plain functions in their own modules: ``minutes`` (minute values and
their validity), ``hourly`` (hour validity, O2 correction, rates and loads), ``daily``,
``evaluate`` (verdicts), ``o2``, ``flow``, ``quality``. Rules and sources: docs/processing.md.
Errors: ``errors.StreamsDomainError`` ← ``NormalizeError``.
"""
