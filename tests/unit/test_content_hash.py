"""What a revision's content hash covers, and that it is canonical."""

from __future__ import annotations

import hashlib

from workspace.domain import Meta, Packet
from workspace.hashing import canonical_json, content_hash

META = Meta(actor="ann")


def packet_with_one_of_everything() -> Packet:
    packet = Packet.open(
        META,
        kind="entitlement-clarification",
        title="PSE entitlement",
        release_owner="dir",
        authors=["ann"],
        reviewers=["rev"],
    )
    packet.add_section(META, heading="Scope", text="Sovereign rider", max_bytes=1000)
    packet.cite_source(
        META,
        kind="order-form",
        title="Signed order form",
        reference="OF-7",
        digest="sha256:aa",
        precedence=1,
        valid_until=None,
    )
    packet.declare_prerequisite(
        META,
        title="Named-contact register current",
        satisfied=False,
        valid_until=None,
    )
    return packet


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1.0, "é"]}) == b'{"a":[1,"\xc3\xa9"],"b":1}'


def test_content_hash_is_sha256_of_rfc8785_json() -> None:
    content = {"title": "t", "sections": []}
    expected = hashlib.sha256(b'{"sections":[],"title":"t"}').hexdigest()
    assert content_hash(content) == "sha256:" + expected


def test_content_covers_sections_sources_and_prerequisite_state() -> None:
    packet = packet_with_one_of_everything()
    before = content_hash(packet.content())
    packet.satisfy_prerequisite(META, "pre-1", evidence="attested", valid_until=None)
    assert content_hash(packet.content()) != before
    after_satisfy = content_hash(packet.content())
    packet.refresh_source(META, "src-1", digest="sha256:bb", material=True)
    assert content_hash(packet.content()) != after_satisfy


def test_objections_do_not_change_the_content_hash() -> None:
    packet = packet_with_one_of_everything()
    before = content_hash(packet.content())
    oid = packet.raise_objection(META, target={"section_id": "sec-1"}, text="why?")
    packet.resolve_objection(META, oid, "answered")
    assert content_hash(packet.content()) == before


def test_a_cut_revision_records_the_hash_of_its_exact_content() -> None:
    packet = packet_with_one_of_everything()
    number = packet.cut_revision(META, "PSE-Entitlement-Clarification-Packet-v1")
    revision = packet.revision(number)
    assert revision["content_hash"] == content_hash(packet.content())
    assert revision["source_digests"] == {"src-1": "sha256:aa"}
