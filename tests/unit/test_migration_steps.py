"""How the migration runner assembles a step from its files (deploy/migrate.py,
``discover_steps``): a flavorless file alone runs everywhere; a flavored step is the flavor's
file followed by its shared file of the same number and name, if it has one."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.migrate import Flavor, MigrationError, discover_steps

# The checksums migration 011 was recorded with (schema_migrations.checksum) before its views
# moved from the two flavor files into 011_energy_regions.sql: databases migrated earlier keep
# them, so the step's text must stay what it was, byte for byte.
RECORDED_011 = {Flavor.PLAIN: "f3a9a8ad21da8812", Flavor.TIMESCALEDB: "49e153801ffde4c6"}


def _write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text, "utf-8")
    return directory


@pytest.mark.parametrize("flavor", list(Flavor), ids=str)
def test_a_flavored_step_runs_its_flavor_file_then_its_shared_file(
    tmp_path: Path, flavor: Flavor
) -> None:
    source = _write(
        tmp_path,
        {
            "001_base.sql": "CREATE TABLE a (x int);\n",
            "002_series.plain.sql": "CREATE TABLE s (t timestamptz);\n",
            "002_series.timescaledb.sql": "CREATE TABLE s (t timestamptz); -- hypertable\n",
            "002_series.sql": "CREATE VIEW v AS SELECT * FROM s;\n",
            "003_more.plain.sql": "SELECT 'plain';\n",
            "003_more.timescaledb.sql": "SELECT 'timescaledb';\n",
            "README": "not a step",
        },
    )
    steps = discover_steps(flavor, source)
    assert [(s.version, s.name, s.flavor) for s in steps] == [
        (1, "base", None),
        (2, "series", flavor),
        (3, "more", flavor),
    ]
    own = (tmp_path / f"002_series.{flavor}.sql").read_text("utf-8")
    assert steps[1].text == own + "CREATE VIEW v AS SELECT * FROM s;\n"
    assert steps[2].text == f"SELECT '{flavor}';\n"


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"004_x.plain.sql": "", "004_x.sql": ""}, "no .timescaledb.sql"),
        ({"004_x.sql": "", "004_y.sql": ""}, "two files for version 004"),
        ({"004_x.plain.sql": "", "004_x.timescaledb.sql": "", "004_y.sql": ""}, "two names"),
    ],
)
def test_an_inconsistent_file_set_is_refused(
    tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    source = _write(tmp_path, files)
    for flavor in Flavor:
        with pytest.raises(MigrationError, match=reason):
            discover_steps(flavor, source)


@pytest.mark.parametrize("flavor", list(Flavor), ids=str)
def test_migration_011_means_what_it_meant_when_it_was_applied(flavor: Flavor) -> None:
    (step,) = [s for s in discover_steps(flavor) if s.version == 11]
    assert step.checksum == RECORDED_011[flavor]
    assert "CREATE OR REPLACE VIEW energy_region_monthly" in step.text
