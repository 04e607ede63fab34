// What an auditor reads on the packet screen: a timeline over packet versions
// (the packet as it stood), the event log with each event's detail, the
// objection ledger and manifests as documents, and the audit export with its
// verification. Methods of the packet page.
//
// Words: a packet *version* counts every event (1, 2, 3...); a *revision*
// (r1, r2...) is a cut a co-author made on purpose. "packet version 63 ·
// revision r5" means: after event 63, the latest cut was r5.

import { api, ApiError, errorBox } from "../../core/api.js";
import { openInfo } from "../../core/dialogs.js";
import { asList, badge, h, hashEl, supersessionView, when } from "../../core/dom.js";
import { docValue, eventWords, ledgerDocument, rawJson } from "../../core/readable.js";
import { session } from "../../core/state.js";
import { wordDiffView } from "../../core/worddiff.js";
import { manifestDocument } from "./approval.js";

// The latest revision cut at or before packet version `version`.
export function revisionAt(revisions, version) {
  let found = null;
  for (const r of asList(revisions)) if ((r.version ?? 0) <= version) found = r;
  return found;
}

export function versionLabel(version, revisions) {
  const r = revisionAt(revisions, version);
  return `packet version ${version} · ${r ? `revision r${r.revision ?? r.number}` : "no revision cut yet"}`;
}

async function fetchText(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
  const text = await response.text();
  if (!response.ok) {
    let e = {};
    try {
      e = JSON.parse(text).error || {};
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, e.code || `HTTP_${response.status}`, e.message || response.statusText, e.details, "GET", path);
  }
  return text;
}

export class Audit {
  historyPanel() {
    const auditor = Boolean(session.me && session.me.is_auditor);
    return this.panel(
      "History",
      "panel-history",
      null,
      h("p", { class: "muted small" }, "Every change is an event and moves the packet version on; a revision (r1, r2…) is a cut made on purpose. Scrub through the versions, or read every event."),
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", class: "ghost small", "data-testid": "open-timeline", onclick: () => this.timelineDialog() }, "Timeline"),
        h("button", { type: "button", class: "ghost small", "data-testid": "open-events", onclick: () => this.eventsDialog() }, "Event log"),
        auditor ? h("button", { type: "button", class: "ghost small", "data-testid": "open-audit-export", onclick: () => this.exportDialog() }, "Export & verify") : null,
      ),
    );
  }

  // ------------------------------------------------------------ timeline
  timelineDialog() {
    const last = this.version;
    const slider = h("input", { type: "range", id: "timeline-slider", min: "1", max: String(last), value: String(last), step: "1", "data-testid": "timeline-slider", "aria-describedby": "timeline-label" });
    const label = h("output", { id: "timeline-label", for: "timeline-slider", "data-testid": "timeline-label" }, "");
    const body = h("div", { class: "timeline-body", "data-testid": "timeline-packet", "aria-live": "polite" });
    let seq = 0;
    let previous = null; // the packet one version earlier, for the word diff
    const show = async () => {
      const n = Number(slider.value);
      const mine = ++seq;
      label.textContent = `loading packet version ${n}…`;
      try {
        const [p, before] = await Promise.all([
          api("GET", `${this.base}?version=${n}`),
          n > 1 ? api("GET", `${this.base}?version=${n - 1}`).catch(() => null) : Promise.resolve(null),
        ]);
        if (mine !== seq) return;
        previous = before;
        label.textContent = `${versionLabel(p.version, p.revisions)} (of ${last})`;
        body.replaceChildren(this.packetAsItStood(p, previous));
      } catch (err) {
        if (mine === seq) body.replaceChildren(errorBox(err));
      }
    };
    let timer = null;
    slider.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(show, 120);
    });
    const step = (d) => {
      slider.value = String(Math.min(last, Math.max(1, Number(slider.value) + d)));
      show();
    };
    openInfo(
      "Timeline",
      h(
        "div",
        { class: "timeline" },
        h("label", { for: "timeline-slider" }, `Packet version (1 to ${last})`),
        h(
          "div",
          { class: "timeline-row" },
          h("button", { type: "button", class: "ghost small", "data-testid": "timeline-back", onclick: () => step(-1) }, "◀ earlier"),
          slider,
          h("button", { type: "button", class: "ghost small", "data-testid": "timeline-forward", onclick: () => step(1) }, "later ▶"),
        ),
        label,
        body,
      ),
    );
    show();
  }

  packetAsItStood(p, before) {
    const old = new Map(asList(before && before.sections).map((s) => [s.id, s]));
    return h(
      "div",
      { class: "snapshot" },
      h("h3", {}, p.title),
      asList(p.sections).length
        ? asList(p.sections).map((s) => {
            const was = old.get(s.id);
            const changed = before && (!was || was.text !== s.text);
            return h(
              "section",
              { class: "released-section", "data-testid": "timeline-section" },
              h("h4", {}, s.heading, " ", h("code", { class: "sid" }, s.id), changed ? h("span", { class: "muted small" }, was ? " · changed by this version" : " · added by this version") : null),
              changed && was ? wordDiffView(was.text, s.text) : h("p", { class: "released-text" }, s.text),
            );
          })
        : h("p", { class: "empty" }, "No sections at this version."),
      asList(p.sources).length ? [h("h4", {}, "Sources"), h("ul", { class: "doc-list" }, asList(p.sources).map((s) => h("li", {}, `#${s.precedence} ${s.title} `, badge(s.status || "current"))))] : null,
      asList(p.objections).length ? [h("h4", {}, "Objections"), h("ul", { class: "doc-list" }, asList(p.objections).map((o) => h("li", {}, h("code", {}, o.id), ` ${o.text} `, badge(o.state))))] : null,
      asList(p.releases).length ? [h("h4", {}, "Releases"), h("ul", { class: "doc-list" }, asList(p.releases).map((r) => h("li", {}, h("code", {}, r.release_id || r.id), ` revision r${r.revision} → ${r.lane_id || r.lane || "?"} `, badge(r.status))))] : null,
    );
  }

  // ------------------------------------------------------------ events
  async eventsDialog() {
    let items;
    try {
      const data = await api("GET", `${this.base}/events`);
      items = asList((data && data.items) || []);
    } catch (err) {
      openInfo("Event log", errorBox(err));
      return;
    }
    const detail = h("section", { class: "event-detail", "data-testid": "event-detail", "aria-live": "polite" }, h("p", { class: "muted" }, "Choose an event to read it in full."));
    const revisions = asList(this.packet.revisions);
    const choose = (e, button) => {
      for (const b of table.querySelectorAll("button[aria-pressed]")) b.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-pressed", "true");
      const { actor, actor_kind: kind, timestamp, originator_id: _o, originator_version: _v, ...data } = e.data || {};
      detail.replaceChildren(
        h("h3", {}, eventWords(e.type)),
        h(
          "dl",
          { class: "doc-fields" },
          h("dt", {}, "When"),
          h("dd", {}, when(e.at || timestamp)),
          h("dt", {}, "Who"),
          h("dd", {}, `${e.actor || actor || "?"}${(e.actor_kind || kind) === "agent" ? " (agent)" : ""}`),
          h("dt", {}, "Packet version"),
          h("dd", {}, versionLabel(e.version, revisions)),
          h("dt", {}, "Stored type"),
          h("dd", {}, h("code", {}, e.type)),
          h("dt", {}, "Audit log"),
          h("dd", {}, e.leaf_hash ? ["leaf ", String(e.leaf_index), " · ", hashEl(e.leaf_hash)] : "not in the audit log yet"),
        ),
        h("h4", {}, "What it recorded"),
        docValue(data),
        rawJson(e.data || {}),
      );
    };
    const table = h(
      "table",
      { class: "table compact events" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Event"))),
      h(
        "tbody",
        {},
        items.map((e) => {
          const button = h("button", { type: "button", class: "link", "aria-pressed": "false", "data-testid": "event-row", onclick: () => choose(e, button) }, eventWords(e.type));
          return h("tr", {}, h("td", { class: "num" }, String(e.version)), h("td", {}, when(e.at)), h("td", {}, e.actor || "", e.actor_kind === "agent" ? h("span", { class: "muted" }, " (agent)") : null), h("td", {}, button));
        }),
      ),
    );
    openInfo("Event log", items.length ? h("div", { class: "event-log" }, h("div", { class: "event-table" }, table), detail) : h("p", { class: "empty" }, "No events."));
  }

  // ------------------------------------------------------------ documents
  async ledgerDialog() {
    try {
      openInfo("Objection ledger", ledgerDocument(await api("GET", `${this.base}/objections`)));
    } catch (err) {
      openInfo("Objection ledger", errorBox(err));
    }
  }

  async manifestDialog(rid) {
    try {
      const data = await api("GET", `${this.base}/releases/${encodeURIComponent(rid)}/manifest`);
      const m = data.manifest || {};
      openInfo(
        `Manifest of ${rid}`,
        h(
          "article",
          { class: "manifest doc-page", "data-testid": "manifest-document" },
          h("p", {}, badge(data.status), " ", h("span", { class: "muted" }, "manifest hash "), h("code", { class: "hash-full" }, data.manifest_hash || "")),
          data.supersession ? supersessionView(data.supersession) : null,
          h(
            "dl",
            { class: "doc-fields" },
            h("dt", {}, "Signed"),
            h("dd", {}, m.signed_at ? when(m.signed_at) : "not yet"),
            h("dt", {}, "Meaning of the signature"),
            h("dd", {}, m.meaning || "—"),
            h("dt", {}, "Scope"),
            h("dd", {}, docValue(m.scope)),
            h("dt", {}, "Rollback"),
            h("dd", {}, m.rollback ? "yes" : "no"),
          ),
          manifestDocument(m),
          rawJson(data),
        ),
      );
    } catch (err) {
      openInfo(`Manifest of ${rid}`, errorBox(err));
    }
  }

  // ------------------------------------------------------------ export
  exportDialog() {
    const status = h("div", { class: "export-status", "data-testid": "export-status", "aria-live": "polite" });
    const verdict = h("div", { class: "verdict", "data-testid": "verdict", "aria-live": "polite" });
    const lines = h("textarea", { id: "export-lines", rows: 6, spellcheck: "false", "data-testid": "export-lines" });
    const file = h("input", { id: "export-file", type: "file", accept: ".jsonl,.json,.txt,application/x-ndjson" });
    const key = h("input", { id: "export-key", type: "text", autocomplete: "off", placeholder: "hex or base64, 32 bytes", "data-testid": "export-key" });
    let url = null;
    const exportNow = async () => {
      status.replaceChildren(h("p", { class: "muted" }, "Exporting…"));
      try {
        const text = await fetchText(`${this.base}/audit/export`);
        lines.value = text;
        const rows = text.split("\n").filter((x) => x.trim()).map((x) => JSON.parse(x));
        const events = rows.filter((r) => r.type === "event").length;
        const cp = rows.find((r) => r.type === "checkpoint") || {};
        if (url) URL.revokeObjectURL(url);
        url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
        status.replaceChildren(
          h(
            "p",
            { "data-testid": "export-summary" },
            `Exported ${events} events of this packet, with inclusion proofs against the signed checkpoint`,
            cp.tree_size !== undefined ? ` (tree size ${cp.tree_size})` : "",
            ". ",
            h("a", { href: url, download: `quire-audit-${this.id}.jsonl`, "data-testid": "export-download" }, "Download the export (JSON Lines)"),
          ),
        );
      } catch (err) {
        status.replaceChildren(errorBox(err));
      }
    };
    file.addEventListener("change", async () => {
      if (file.files && file.files[0]) lines.value = await file.files[0].text();
    });
    const verify = async () => {
      verdict.replaceChildren(h("p", { class: "muted" }, "Verifying…"));
      try {
        const body = { lines: lines.value.split("\n").filter((x) => x.trim()) };
        if (key.value.trim()) body.public_key = key.value.trim();
        const v = await api("POST", "/v1/audit/verify", body);
        verdict.replaceChildren(
          h(
            "div",
            { class: v.ok ? "verdict-ok" : "error", role: v.ok ? "status" : "alert" },
            h("strong", {}, v.ok ? "Intact" : "NOT INTACT"),
            `: ${v.message}`,
            v.ok && !v.pinned ? h("p", { class: "small" }, "The key inside the file was trusted: paste the log's public key to pin it.") : null,
          ),
        );
      } catch (err) {
        verdict.replaceChildren(errorBox(err));
      }
    };
    openInfo(
      "Audit export and verification",
      h(
        "div",
        { class: "audit-export", "data-testid": "audit-export" },
        h("p", {}, "The export is this packet's history as JSON Lines: every event recomputed and checked against the audit log and its signed checkpoints, as ", h("code", {}, "quire audit export"), " writes it. Verification is what ", h("code", {}, "quire audit verify"), " says of the lines below (an altered, removed or reordered line is named)."),
        h("button", { type: "button", class: "primary small", "data-testid": "export-now", onclick: exportNow }, "Export this packet's history"),
        status,
        h("div", { class: "field" }, h("label", { for: "export-lines" }, "Export lines to verify"), lines),
        h("div", { class: "field" }, h("label", { for: "export-file" }, "…or a file"), file),
        h("div", { class: "field" }, h("label", { for: "export-key" }, "The log's public key (optional, pins it)"), key),
        h("button", { type: "button", class: "primary small", "data-testid": "verify-now", onclick: verify }, "Verify"),
        verdict,
      ),
    );
  }
}
