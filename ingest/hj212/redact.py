"""Removing the device password (``PW``) from bytes kept as evidence.

A frame refused at the gateway (a wrong password, an unknown MN, a bad CRC, garbage) is kept in
the dead-letter topic and table. Its ``PW=`` field would leak a device's password or, for a
wrong one, a near miss (``771200…771209`` for the real ``771204``). ``redact_password``
replaces every ``PW=`` value by ``***`` and keeps every other byte, so the letter still shows
what was sent and why it was refused; its length field and CRC no longer match, and it is
evidence, not input to re-send. Pure; never raises.
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = b"***"
_PW: Final = re.compile(rb"(?<![A-Za-z0-9])PW=[^;&\r\n]*")


def redact_password(data: bytes) -> bytes:
    """``data`` with every ``PW=<value>`` (up to ``;``, ``&``, CR or LF) as ``PW=***``."""
    return _PW.sub(b"PW=" + REDACTED, data)
