"""The one root of ``deploy/``'s errors.

Hierarchy::

    DeployError                     root; catch this to catch everything deploy/ raises
    ├── StackError                  `greenwatch stack ...` (deploy.stack_errors: its subclasses)
    └── MigrationError              a migration file set is inconsistent or a step failed
"""

from __future__ import annotations


class DeployError(Exception):
    """Root of the errors of the local stack and the migrations."""
