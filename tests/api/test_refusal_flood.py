"""A flood of refused writes cannot grow the event log (issue 9, item 16).

Attack: a signed-in reviewer posts the same forbidden edit 200 times; before
the fix each refusal appended its own audit event (500 refusals, 501 events).
Now repeats within a window are counted and recorded as one event with
`count`, and nothing is lost: the counts sum to every refusal.
"""

from __future__ import annotations

from tests.api.conftest import Api

FLOOD = 200


def test_two_hundred_refused_edits_add_a_few_counted_audit_events(
    api: Api, packet_id: str
) -> None:
    path = f"/v1/packets/{packet_id}/sections/sec-1/edits"
    stored_before = api.stored_count()
    refusals_before = len(api.refusals())

    for n in range(FLOOD):
        refused = api.post("rita", path, {"base_version": 2, "text": f"mine {n}"})
        assert refused.status_code == 403, refused.text

    # The first refusal at once (with the day's trail, maybe); the rest counted.
    assert api.stored_count() - stored_before <= 2
    assert api.services.app.pending_refusals() == FLOOD - 1
    api.services.app.flush_refusals()
    assert api.stored_count() - stored_before <= 3
    recorded = api.refusals()[refusals_before:]
    assert [r.count for r in recorded] == [1, FLOOD - 1]
    assert {(r.actor, r.code, r.packet_id) for r in recorded} == {
        ("rita", "ROLE_NOT_ALLOWED", packet_id)
    }
    assert api.services.app.pending_refusals() == 0
