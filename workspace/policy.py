"""Who may do what to a packet: the role table of DESIGN.md, in one place.

Commands name an action; `require` raises NotAllowedError with a stable code
when the principal's role on the packet does not allow it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workspace.accounts import Principal
from workspace.errors import NotAllowedError


def is_owner(p: Principal, packet: Any) -> bool:
    return bool(p.user_id == packet.release_owner and not p.is_agent)


def is_author(p: Principal, packet: Any) -> bool:
    return p.user_id in packet.authors or is_owner(p, packet)


def is_human_author(p: Principal, packet: Any) -> bool:
    return is_author(p, packet) and not p.is_agent


def is_reviewer(p: Principal, packet: Any) -> bool:
    return p.user_id in packet.reviewers and not p.is_agent


def is_member(p: Principal, packet: Any) -> bool:
    return is_author(p, packet) or is_reviewer(p, packet)


def can_read(p: Principal, packet: Any) -> bool:
    return is_member(p, packet) or p.is_auditor


Rule = Callable[[Principal, Any], bool]

#: action -> (rule, what the refusal says). Agents propose but never sign,
#: resolve or accept residuals; auditors and admins write nothing here.
RULES: dict[str, tuple[Rule, str]] = {
    "read": (can_read, "only packet members and auditors may read this packet"),
    "edit": (is_human_author, "only co-authors and the release owner edit sections"),
    "suggest": (
        lambda p, k: p.is_agent and is_author(p, k),
        "only agents listed as authors propose suggestions",
    ),
    "accept_suggestion": (
        is_human_author,
        "a co-author or the release owner must accept an agent's suggestion",
    ),
    "cite_source": (is_human_author, "only co-authors cite sources"),
    "refresh_source": (is_author, "only co-authors and their agents refresh sources"),
    "declare_prerequisite": (is_human_author, "only co-authors declare prerequisites"),
    "satisfy_prerequisite": (is_human_author, "only co-authors satisfy prerequisites"),
    "raise_objection": (is_member, "only packet members raise objections"),
    "answer_objection": (is_member, "only packet members answer objections"),
    "cut_revision": (is_human_author, "only co-authors cut revisions"),
    "resolve_conflict": (is_human_author, "only co-authors resolve edit conflicts"),
    "change_members": (
        lambda p, k: is_owner(p, k) or p.is_admin,
        "only the release owner or an admin changes packet members",
    ),
    "request_release": (is_human_author, "only co-authors request a release"),
    "release_owner": (is_owner, "only the named release owner may do this"),
}


def allowed(p: Principal, action: str, packet: Any) -> bool:
    rule, _ = RULES[action]
    return rule(p, packet)


def require(p: Principal, action: str, packet: Any) -> None:
    rule, message = RULES[action]
    if not rule(p, packet):
        code = "AGENT_NOT_ALLOWED" if p.is_agent else "ROLE_NOT_ALLOWED"
        raise NotAllowedError(code, message, {"action": action, "user": p.user_id})


def require_objection_owner_or(
    p: Principal, packet: Any, objection: dict[str, Any], action: str
) -> None:
    """Objections are resolved or withdrawn by whoever raised them (a human), or
    resolved by the release owner; agents never resolve."""
    if p.is_agent:
        raise NotAllowedError(
            "AGENT_NOT_ALLOWED", f"agents may not {action} objections", {}
        )
    if objection["raised_by"] == p.user_id and is_member(p, packet):
        return
    if action == "resolve" and is_owner(p, packet):
        return
    who = " or the release owner" if action == "resolve" else ""
    raise NotAllowedError(
        "ROLE_NOT_ALLOWED",
        f"only the objection's raiser{who} may {action} it",
        {"action": f"{action}_objection", "user": p.user_id},
    )
