"""Reference data of the alerts package (message texts, factor names)."""
