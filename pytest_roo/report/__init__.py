"""Reports: the session store, the terminal table, the JSON file. No pytest import."""

from __future__ import annotations
