"""The two terminals wsctl writes to. Everything meant for people goes through rich.

stdout carries results (and nothing but JSON under ``--json``); stderr carries progress,
warnings and errors. Both resolve ``sys.stdout``/``sys.stderr`` when they write, so tests
that redirect those streams capture everything without patching.
"""

from __future__ import annotations

import os

from rich.console import Console

_no_color = bool(os.environ.get("NO_COLOR"))

out = Console(highlight=False, no_color=_no_color, soft_wrap=True)
err = Console(stderr=True, highlight=False, no_color=_no_color, soft_wrap=True)
