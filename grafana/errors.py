"""The one root of ``grafana/``'s errors.

Hierarchy::

    GrafanaError                    root; catch this to catch everything grafana/ raises
    ├── MacroError (ValueError)     a panel query cannot be expanded as Grafana would
    ├── LayoutError (ValueError)    a panel does not fit the 24-column grid
    ├── CheckError                  a dashboard cannot be checked against the database
    └── PublishError                publishing by API failed (GrafanaUnreachable,
                                    GrafanaAuthError, FolderError, …)
"""

from __future__ import annotations


class GrafanaError(Exception):
    """Root of the dashboards-as-code errors."""
