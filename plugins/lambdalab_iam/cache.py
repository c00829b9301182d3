"""Answers of IAM read once and kept in memory: what enforcement asks on every request.

The cache is the toolkit's :class:`~lambdalab.plugin.Answers` (kept until IAM's tables
may have changed: at once when this process writes them, within a millisecond when
another connection commits); this module keeps its old name for the plugin's imports.
"""

from __future__ import annotations

from lambdalab.plugin import Answers

__all__ = ["Answers"]
