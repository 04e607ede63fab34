"""The packet's domain: the `Packet` aggregate and its events, split by area.

`base` holds what every area shares; one module per area (sections,
suggestions, sources, prerequisites, objections, revisions, releases,
approvals) holds its event classes and a mixin of its commands; `packet`
combines them. Every name importers used from the single `workspace.domain`
module is re-exported here.
"""

from workspace.domain import (
    approvals,
    objections,
    prerequisites,
    releases,
    revisions,
    sections,
    signatures,
    sources,
    suggestions,
)
from workspace.domain.base import (
    CLIENT_RESULTS_KEPT,
    CLIENTS_KEPT,
    LANE_DECISIONS,
    REJECTION_CATEGORIES,
    RETURN_CATEGORIES,
    SUPERSESSION_CAUSES,
    TEXT_FIELD_MAX,
    TITLE_MAX,
    ActorKind,
    Meta,
    PacketBase,
    PacketEvent,
    RejectionCategory,
    client_key,
    iso,
    parse_time,
    require_text,
    text_fault,
    text_hash,
    utcnow,
)
from workspace.domain.packet import Packet, all_event_classes

__all__ = [
    "CLIENTS_KEPT",
    "CLIENT_RESULTS_KEPT",
    "LANE_DECISIONS",
    "REJECTION_CATEGORIES",
    "RETURN_CATEGORIES",
    "SUPERSESSION_CAUSES",
    "TEXT_FIELD_MAX",
    "TITLE_MAX",
    "ActorKind",
    "Meta",
    "Packet",
    "PacketBase",
    "PacketEvent",
    "RejectionCategory",
    "all_event_classes",
    "approvals",
    "client_key",
    "iso",
    "objections",
    "parse_time",
    "prerequisites",
    "releases",
    "require_text",
    "revisions",
    "sections",
    "signatures",
    "sources",
    "suggestions",
    "text_fault",
    "text_hash",
    "utcnow",
]
