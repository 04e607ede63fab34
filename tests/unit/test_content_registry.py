"""Content modules as plug-ins: the content hash, the gate, the stale check,
the manifest and revision diffs ask every registered module, so a module
declared in a file of its own reaches all of them without any of them
naming it; a packet that does not use it hashes exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from projections.revisions import diff
from release import gate
from tests.unit.test_content_hash import META, packet_with_one_of_everything
from workspace.content import ContentModule, Hold, modules, register
from workspace.content.registry import MODULES
from workspace.domain import Packet
from workspace.hashing import content_hash

NOW = datetime(2025, 6, 11, tzinfo=UTC)


class Checklist(ContentModule):
    """A module of the kind issue 10 makes room for: its state under
    `packet.parts`, absent (None) from packets that never used it."""

    name = "checklist"
    key = "checklist"
    dependency = True

    def content(self, packet: Any) -> Any | None:
        return vars(packet).get("parts", {}).get("checklist", {}).get("items")

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        items = self.content(packet) or []
        return [Hold("CHECK_OPEN", f"{i} is open", {"item": i}) for i in items]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        return {"checklist": content.get("checklist")}

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        return {"from": old.get("checklist"), "to": new.get("checklist")}


@pytest.fixture
def checklist() -> Iterator[ContentModule]:
    module = register(Checklist())
    yield module
    MODULES.remove(module)


def test_the_existing_content_is_registered_in_a_fixed_order() -> None:
    keys = [m.key for m in modules()]
    assert keys[:3] == ["sections", "sources", "prerequisites"]
    assert "worksheets" in keys[3:]  # modules added later come after


def test_a_module_a_packet_does_not_use_leaves_its_hash_unchanged(
    checklist: ContentModule,
) -> None:
    packet = packet_with_one_of_everything()
    assert "checklist" not in packet.content()
    MODULES.remove(checklist)
    before = content_hash(packet.content())
    MODULES.append(checklist)
    assert content_hash(packet.content()) == before


def test_a_registered_module_reaches_the_hash_the_gate_stale_and_diff(
    checklist: ContentModule,
) -> None:
    packet: Packet = packet_with_one_of_everything()
    packet.part("checklist")["items"] = ["legal sign-off"]
    content = packet.content()
    assert content["checklist"] == ["legal sign-off"]
    packet.cut_revision(META, "v1")
    holds = gate.evaluate(
        packet, revision=1, lane=None, lane_id="x", now=NOW, content=content
    )
    codes = [h.code for h in holds]
    assert "CHECK_OPEN" in codes
    # after the existing modules' holds, before the lane's
    assert codes.index("PREREQUISITE_UNMET") < codes.index("CHECK_OPEN")
    assert codes.index("CHECK_OPEN") < codes.index("LANE_UNKNOWN")
    packet.part("checklist")["items"] = ["legal sign-off", "billing"]
    stale = gate.stale_holds(packet, packet.revision(1), content)
    assert [h.as_dict() for h in stale] == [
        {
            "code": "REVISION_STALE",
            "detail": "the packet's checklist changed after revision 1 was cut",
            "part": "checklist",
        }
    ]
    changed = diff(content, packet.content(), 1, 2)
    assert changed["checklist"] == {
        "from": ["legal sign-off"],
        "to": ["legal sign-off", "billing"],
    }
    assert list(changed)[:4] == ["from", "to", "title", "sections"]
