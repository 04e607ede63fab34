"""Prerequisite commands: declare (the result is its id), satisfy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workspace.commands.base import PacketCall


@dataclass(frozen=True)
class DeclarePrerequisite(
    PacketCall, action="declare_prerequisite", method="declare_prerequisite"
):
    title: str
    satisfied: bool
    valid_until: datetime | None = None


@dataclass(frozen=True)
class SatisfyPrerequisite(
    PacketCall, action="satisfy_prerequisite", method="satisfy_prerequisite"
):
    prerequisite_id: str
    evidence: str
    valid_until: datetime | None = None
