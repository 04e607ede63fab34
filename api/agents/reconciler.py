"""The reconciliation agent (`quire agents run reconciler`, issue 16 item 2).

A service account (`quire users add reconciler --agent`, listed among a
packet's authors) using only the public HTTP API with its own bearer token
(`QUIRE_AGENT_TOKEN`). It polls the packets it can read (`GET /v1/packets`,
then `GET /v1/packets/{id}/events` for a packet whose version moved) and,
when a cited telemetry or maintenance source is refreshed, reads the source
(the same connectors and limits as the watcher, from its own settings),
parses its windows (CSV or JSON of `{start, end}`) and proposes:

- a text edit of the chronology section (the first section whose heading
  says "chronology"): the block "<Kind> windows per <source id> ..." is
  replaced, or appended, with the corrected windows. Sent as the agent's
  edit, it becomes a suggestion a human accepts or rejects;
- the corrected facts of every worksheet citing the source, when the server
  has worksheets (`POST .../worksheets/{wid}/facts`); a refusal is logged.

It never signs, ranks, resolves or accepts: the server refuses an agent
those, whatever it sends. Each proposal's `(client_id, client_seq)` is
`("reconciler:<source id>", <refresh version>)`, so a restarted agent's
resend is applied once.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.agents.windows import (
    WindowsUnreadableError,
    as_facts,
    parse_windows,
    z,
)
from release.connectors import Fetched, FetchError, Limits, fetch

log = logging.getLogger(__name__)

REFRESHED = "quire.packet.SourceRefreshed"
WATCHED_KINDS = ("telemetry", "maintenance")
CHRONOLOGY = re.compile(r"chronolog", re.IGNORECASE)


@dataclass(frozen=True)
class Proposal:
    packet_id: str
    source_id: str
    refresh_version: int
    suggestion_id: str | None
    windows: int
    worksheets: list[str] = field(default_factory=list)


def kind_of(source: dict[str, Any]) -> str | None:
    kind = str(source.get("kind", "")).lower()
    return next((k for k in WATCHED_KINDS if k in kind), None)


def block_for(
    source: dict[str, Any], digest: str, windows: list[Any], kind: str
) -> str:
    lines = [
        f"{kind.title()} windows per {source['id']} ({source['title']}, "
        f"{digest[:19]}), as read by the reconciler:"
    ]
    for start, end in windows:
        seconds = int((end - start).total_seconds())
        length = f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
        lines.append(f"- {z(start)} to {z(end)} ({length})")
    if not windows:
        lines.append("- none")
    return "\n".join(lines)


def with_block(text: str, source_id: str, block: str) -> str:
    """`text` with the block for `source_id` replaced (up to the next blank
    line), or appended after a blank line."""
    lines = text.split("\n")
    head = f" windows per {source_id} ("
    for i, line in enumerate(lines):
        if head in line:
            j = i + 1
            while j < len(lines) and lines[j].strip():
                j += 1
            return "\n".join([*lines[:i], block, *lines[j:]])
    if not text.strip():
        return block
    return text.rstrip("\n") + "\n\n" + block


class Reconciler:
    def __init__(
        self,
        client: httpx.Client,
        limits: Limits,
        *,
        from_start: bool = False,
    ) -> None:
        self.client = client
        self.limits = limits
        #: packet id -> the last version looked at (None: not seen yet).
        self.seen: dict[str, int] = {}
        self.from_start = from_start
        self._stop = threading.Event()

    # ----------------------------------------------------------- the loop
    def run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                for proposal in self.run_once():
                    log.info("proposed %s", proposal)
            except httpx.HTTPError:
                log.exception("the server could not be reached; retrying")

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> list[Proposal]:
        proposals: list[Proposal] = []
        listed = self._get("/v1/packets")["items"]
        for summary in listed:
            pid, version = summary["id"], summary["version"]
            seen = self.seen.get(pid)
            if seen is None and not self.from_start:
                self.seen[pid] = version  # history is not news
                continue
            if seen is not None and version <= seen:
                continue
            events = self._get(f"/v1/packets/{pid}/events")["items"]
            for event in events:
                if event["version"] <= (seen or 0) or event["type"] != REFRESHED:
                    continue
                proposal = self.reconcile(pid, event)
                if proposal is not None:
                    proposals.append(proposal)
            self.seen[pid] = max([version, *[e["version"] for e in events]])
        return proposals

    # ------------------------------------------------------------ one refresh
    def reconcile(self, packet_id: str, event: dict[str, Any]) -> Proposal | None:
        data = event["data"]
        source_id = data["source_id"]
        packet = self._get(f"/v1/packets/{packet_id}")
        source = next((s for s in packet["sources"] if s["id"] == source_id), None)
        kind = None if source is None else kind_of(source)
        if source is None or kind is None:
            return None
        try:
            got = fetch(source["reference"], self.limits)
            if not isinstance(got, Fetched):
                return None
            windows = parse_windows(got.body)
        except (FetchError, WindowsUnreadableError) as e:
            log.warning("%s of %s: %s", source_id, packet_id, e)
            return None
        if got.digest != data["digest"]:
            log.info(
                "%s changed again since the refresh; proposing what it says now",
                source_id,
            )
        suggestion_id = self._suggest(packet, source, got.digest, windows, kind, event)
        worksheets = self._worksheet_facts(packet, source_id, as_facts(windows))
        return Proposal(
            packet_id,
            source_id,
            event["version"],
            suggestion_id,
            len(windows),
            worksheets,
        )

    def _suggest(
        self,
        packet: dict[str, Any],
        source: dict[str, Any],
        digest: str,
        windows: list[Any],
        kind: str,
        event: dict[str, Any],
    ) -> str | None:
        section = next(
            (s for s in packet["sections"] if CHRONOLOGY.search(s["heading"])), None
        )
        if section is None:
            log.info("packet %s has no chronology section", packet["id"])
            return None
        text = with_block(
            section["text"], source["id"], block_for(source, digest, windows, kind)
        )
        if text == section["text"]:
            return None
        response = self.client.post(
            f"/v1/packets/{packet['id']}/sections/{section['id']}/edits",
            json={
                "base_version": packet["version"],
                "text": text,
                "client_id": f"reconciler:{source['id']}",
                "client_seq": event["version"],
            },
        )
        response.raise_for_status()
        suggestion_id: str | None = response.json().get("suggestion_id")
        return suggestion_id

    def _worksheet_facts(
        self, packet: dict[str, Any], source_id: str, facts: list[dict[str, str]]
    ) -> list[str]:
        """Corrected facts for the worksheets citing the source (when the
        server has worksheets; they are packet content a human reviews)."""
        done = []
        for worksheet in packet.get("worksheets") or []:
            cites = worksheet.get("cites") or {}
            keys = [k for k, sid in cites.items() if sid == source_id]
            wid = worksheet.get("id") or worksheet.get("worksheet_id")
            if not keys or not wid:
                continue
            new = {**(worksheet.get("facts") or {}), **dict.fromkeys(keys, facts)}
            response = self.client.post(
                f"/v1/packets/{packet['id']}/worksheets/{wid}/facts",
                json={"facts": new},
            )
            if response.status_code >= 400:
                log.warning("worksheet %s facts refused: %s", wid, response.text)
                continue
            done.append(str(wid))
        return done

    def _get(self, path: str) -> Any:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()
