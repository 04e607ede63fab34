// The packet screen's side panels (sources, prerequisites, objections,
// revisions, history) and their dialogs; methods of the packet page.

import { api, errorBox } from "../../core/api.js";
import { flash, openForm, openInfo } from "../../core/dialogs.js";
import { diffView, wordDiffSections } from "../../core/diff.js";
import { asList, badge, h, hashEl, itemList, shortHash, when } from "../../core/dom.js";
import { revNumber } from "./common.js";
import { hooks, session } from "../../core/state.js";
import { userOption, users } from "../../core/directory.js";

const objectionPath = (o, action) => `/objections/${encodeURIComponent(o.id)}/${action}`;

// The releases a change superseded (its answer's `superseded_releases`), if any.
function flashSuperseded(what, answer) {
  const gone = (answer && answer.superseded_releases) || [];
  if (gone.length) flash(`${what}: ${gone.join(", ")}`, "warn");
}

export class Panels {
  raiseObjectionDialog(target) {
    const sections = [...this.sections.values()];
    const sources = asList(this.packet.sources);
    const options = [
      { value: "", label: "The packet as a whole" },
      ...sections.map((s) => ({ value: `section:${s.id}`, label: `Section ${s.id}: ${s.heading}` })),
      ...sources.map((s) => ({ value: `source:${s.id}`, label: `Source ${s.id}: ${s.title}` })),
    ];
    const initial = target && target.section_id ? `section:${target.section_id}` : "";
    openForm({
      title: "Raise an objection",
      submitLabel: "Raise objection",
      fields: [
        { name: "target", label: "On", type: "select", options, value: initial },
        { name: "text", label: "Objection", type: "textarea", required: true },
      ],
      onSubmit: async (v) => {
        const [kind, id] = v.target ? v.target.split(":") : [null, null];
        const body = { target: kind ? { [`${kind}_id`]: id } : {}, text: v.text };
        await this.act("POST", `${this.base}/objections`, body);
      },
    });
  }

  sourcesPanel(p) {
    const sources = asList(p.sources).slice().sort((a, b) => (a.precedence ?? 0) - (b.precedence ?? 0));
    const add = this.may("cite_source") ? h("button", { type: "button", class: "ghost small", onclick: () => this.citeSourceDialog() }, "Cite") : null;
    const list = itemList(sources, "No sources cited.", (s) =>
      h(
        "li",
        { class: `item status-${s.status || "current"}` },
        h("div", { class: "item-head" }, h("span", { class: "prec", title: "precedence (lower outranks higher)" }, `#${s.precedence}`), h("strong", {}, s.title), badge(s.status || "current")),
        h("div", { class: "item-sub" }, h("span", { class: "muted" }, `${s.kind} · ${s.id} · `), s.reference),
        h(
          "div",
          { class: "item-sub" },
          h("span", { class: "muted" }, "digest "),
          hashEl(s.digest),
          s.valid_until ? h("span", { class: "muted" }, ` · valid until ${when(s.valid_until)}`) : null,
          s.refreshes ? h("span", { class: "muted" }, ` · refreshed ${s.refreshes}×`) : null,
        ),
        h(
          "div",
          { class: "item-actions" },
          this.may("refresh_source") ? h("button", { type: "button", class: "ghost small", onclick: () => this.refreshSourceDialog(s) }, "Refresh") : null,
          this.may("cite_source") && s.status !== "withdrawn"
            ? h("button", { type: "button", class: "ghost small", "data-testid": "source-withdraw", onclick: () => this.withdrawSourceDialog(s) }, "Withdraw")
            : null,
          this.may("raise_objection") ? h("button", { type: "button", class: "ghost small", onclick: () => this.raiseObjectionDialog({ source_id: s.id }) }, "Object") : null,
        ),
      ),
    );
    return this.panel("Sources", "panel-sources", add, list);
  }

  citeSourceDialog() {
    openForm({
      title: "Cite a source",
      submitLabel: "Cite source",
      note: "Precedence: a lower number outranks a higher one (signed contract terms, then policy matrices, then impact ledgers, then CRM notes).",
      fields: [
        { name: "title", label: "Title", required: true, placeholder: "Signed premium-support order form" },
        { name: "kind", label: "Kind", required: true, placeholder: "order_form" },
        { name: "reference", label: "Reference", required: true, placeholder: "crm://contracts/ORD-2291" },
        { name: "digest", label: "Digest", required: true, placeholder: "sha256:…" },
        { name: "precedence", label: "Precedence", type: "number", required: true, value: "1" },
        { name: "valid_until", label: "Valid until (optional)", type: "datetime-local" },
      ],
      onSubmit: async (v) => {
        const body = {
          kind: v.kind.trim(),
          title: v.title.trim(),
          reference: v.reference.trim(),
          digest: v.digest.trim(),
          precedence: Number.parseInt(v.precedence, 10),
        };
        if (v.valid_until) body.valid_until = new Date(v.valid_until).toISOString();
        await this.act("POST", `${this.base}/sources`, body);
      },
    });
  }

  refreshSourceDialog(s) {
    openForm({
      title: `Refresh source ${s.id}`,
      note: h("span", {}, "Current digest ", hashEl(s.digest), ". A material refresh is drift: it supersedes every release that relied on this source."),
      submitLabel: "Refresh",
      fields: [
        { name: "digest", label: "New digest", required: true },
        { name: "material", label: "Material change (drift)", type: "checkbox", value: true },
        { name: "reason", label: "Reason", required: true },
      ],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/sources/${encodeURIComponent(s.id)}/refresh`, {
          digest: v.digest.trim(),
          material: v.material,
          reason: v.reason,
        });
        flashSuperseded("Superseded by this refresh", r);
      },
    });
  }

  // Who owns, writes and reviews the packet (the release owner or an admin).
  async membersDialog() {
    const p = this.packet;
    const people = await users().catch(() => []);
    const known = new Set(people.map((u) => u.user_id));
    // Members the directory does not list still show (and stay unless taken out).
    const extra = [p.release_owner, ...(p.authors || []), ...(p.reviewers || [])].filter((u) => u && !known.has(u));
    const options = [...people.map(userOption), ...extra.map((u) => ({ value: u, label: u }))];
    const humans = options.filter((o) => !people.some((u) => u.user_id === o.value && u.kind === "agent"));
    openForm({
      title: "Packet members",
      note: "Only the release owner or an admin changes who owns, writes and reviews this packet.",
      submitLabel: "Save members",
      fields: [
        { name: "release_owner", label: "Release owner", type: "select", options: humans, value: p.release_owner },
        { name: "authors", label: "Co-authors (and agents)", type: "multiselect", options, value: p.authors || [] },
        { name: "reviewers", label: "Reviewers", type: "multiselect", options: humans, value: p.reviewers || [] },
      ],
      onSubmit: async (v) => {
        await this.act("POST", `${this.base}/members`, {
          release_owner: v.release_owner,
          authors: v.authors,
          reviewers: v.reviewers,
          expected_version: this.version,
        });
        // What the caller may do has changed with the members: open the
        // packet afresh (router in main.js), with its new permissions.
        hooks.route();
      },
    });
  }

  withdrawSourceDialog(s) {
    this.actDialog(`/sources/${encodeURIComponent(s.id)}/withdraw`, {
      title: `Withdraw source ${s.id}`,
      note: `${s.title} (${s.reference}) stays in the history and in every revision already cut; from now on the packet no longer relies on it.`,
      submitLabel: "Withdraw source",
      field: "reason",
    });
  }

  prerequisitesPanel(p) {
    const items = asList(p.prerequisites);
    const add = this.may("declare_prerequisite") ? h("button", { type: "button", class: "ghost small", onclick: () => this.declarePrerequisiteDialog() }, "Declare") : null;
    const list = itemList(items, "No prerequisites declared.", (x) =>
      h(
        "li",
        { class: "item" },
        h("div", { class: "item-head" }, h("strong", {}, x.title), badge(x.state)),
        h(
          "div",
          { class: "item-sub muted" },
          x.id,
          x.valid_until ? ` · valid until ${when(x.valid_until)}` : "",
          x.evidence ? ` · evidence: ${x.evidence}` : "",
        ),
        x.state !== "satisfied" && this.may("satisfy_prerequisite")
          ? h("div", { class: "item-actions" }, h("button", { type: "button", class: "ghost small", onclick: () => this.satisfyDialog(x) }, "Satisfy"))
          : null,
      ),
    );
    return this.panel("Prerequisites", "panel-prerequisites", add, list);
  }

  declarePrerequisiteDialog() {
    openForm({
      title: "Declare a prerequisite",
      submitLabel: "Declare",
      fields: [
        { name: "title", label: "Condition", required: true, placeholder: "Named-contact register current" },
        { name: "satisfied", label: "Already satisfied", type: "checkbox" },
        { name: "valid_until", label: "Valid until (optional)", type: "datetime-local" },
      ],
      onSubmit: async (v) => {
        const body = { title: v.title.trim(), satisfied: v.satisfied };
        if (v.valid_until) body.valid_until = new Date(v.valid_until).toISOString();
        await this.act("POST", `${this.base}/prerequisites`, body);
      },
    });
  }

  satisfyDialog(x) {
    openForm({
      title: `Satisfy: ${x.title}`,
      submitLabel: "Mark satisfied",
      fields: [
        { name: "evidence", label: "Evidence", type: "textarea", required: true },
        { name: "valid_until", label: "Valid until (optional)", type: "datetime-local" },
      ],
      onSubmit: async (v) => {
        const body = { evidence: v.evidence };
        if (v.valid_until) body.valid_until = new Date(v.valid_until).toISOString();
        await this.act("POST", `${this.base}/prerequisites/${encodeURIComponent(x.id)}/satisfy`, body);
      },
    });
  }

  objectionsPanel(p) {
    const items = asList(p.objections);
    const add = this.may("raise_objection") ? h("button", { type: "button", class: "ghost small", onclick: () => this.raiseObjectionDialog({}) }, "Raise") : null;
    // Resolved or withdrawn by whoever raised it, or resolved by the release
    // owner; agents never (workspace/policy.py require_objection_owner_or).
    const me = session.me ? session.me.user_id : "";
    const mayResolve = (o) => !this.isAgent && ((o.raised_by === me && this.may("answer_objection")) || this.may("release_owner"));
    const target = (t) => {
      if (!t || (!t.section_id && !t.source_id)) return "whole packet";
      return t.section_id ? `section ${t.section_id}` : `source ${t.source_id}`;
    };
    const list = itemList(items, "No objections.", (o) =>
      h(
        "li",
        { class: "item", "data-testid": "objection" },
        h("div", { class: "item-head" }, h("code", {}, o.id), h("span", { class: "muted" }, ` on ${target(o.target)} by ${o.raised_by || "?"}`), badge(o.state)),
        h("p", { class: "item-text" }, o.text),
        asList(o.answers).map((a) => h("p", { class: "answer" }, h("strong", {}, a.by), ` ${a.text}`)),
        o.resolution ? h("p", { class: "answer" }, h("span", { class: "muted" }, "Resolution: "), o.resolution) : null,
        h(
          "div",
          { class: "item-actions" },
          o.state === "open" && this.may("answer_objection")
            ? h("button", { type: "button", class: "ghost small", "data-testid": "objection-reply", onclick: () => this.replyDialog(o) }, "Reply")
            : null,
          o.state === "open" && o.raised_by === me && !this.isAgent && this.may("answer_objection")
            ? h("button", { type: "button", class: "ghost small", "data-testid": "objection-withdraw", onclick: () => this.withdrawObjectionDialog(o) }, "Withdraw")
            : null,
          o.state === "open"
            ? mayResolve(o) && h("button", { type: "button", class: "ghost small", onclick: () => this.resolveDialog(o) }, "Resolve")
            : this.may("answer_objection") && !this.isAgent && h("button", { type: "button", class: "ghost small", onclick: () => this.reopenDialog(o) }, "Reopen"),
        ),
      ),
    );
    const ledger = h("button", { type: "button", class: "link small", onclick: () => this.ledgerDialog() }, "Full objection ledger");
    return this.panel("Objections", "panel-objections", add, list, ledger);
  }

  replyDialog(o) {
    this.actDialog(objectionPath(o, "answer"), { title: `Reply to ${o.id}`, note: o.text, submitLabel: "Reply", field: "answer", label: "Reply" });
  }

  withdrawObjectionDialog(o) {
    this.actDialog(objectionPath(o, "withdraw"), {
      title: `Withdraw ${o.id}`,
      note: `You raised it: "${o.text}". Withdrawn, it no longer holds a release; the ledger keeps it.`,
      submitLabel: "Withdraw",
    });
  }

  resolveDialog(o) {
    this.actDialog(objectionPath(o, "resolve"), { title: `Resolve ${o.id}`, note: o.text, submitLabel: "Resolve", field: "resolution", label: "Resolution" });
  }

  reopenDialog(o) {
    this.actDialog(objectionPath(o, "reopen"), {
      title: `Reopen ${o.id}`,
      note: "Reopening an objection accepted as residual supersedes the releases that accepted it.",
      submitLabel: "Reopen",
      field: "reason",
      then: (r) => flashSuperseded("Superseded", r),
    });
  }

  revisionsPanel(p) {
    const revisions = asList(p.revisions);
    const add = this.may("cut_revision") ? h("button", { type: "button", class: "ghost small", "data-testid": "cut-revision", onclick: () => this.cutRevisionDialog() }, "Cut revision") : null;
    const list = itemList(revisions.slice().reverse(), "No revisions cut yet.", (r) =>
      h(
        "li",
        { class: "item" },
        h("div", { class: "item-head" }, h("strong", {}, `r${revNumber(r)}`), r.label ? h("span", {}, r.label) : h("span", { class: "muted" }, "(no label)")),
        h("div", { class: "item-sub" }, h("span", { class: "muted" }, "content hash "), hashEl(r.content_hash)),
        h("div", { class: "item-sub muted" }, [r.cut_by ? `cut by ${r.cut_by}` : "", r.cut_at ? ` · ${when(r.cut_at)}` : ""].join("")),
      ),
    );
    const tools = h(
      "div",
      { class: "item-actions" },
      revisions.length >= 2 ? h("button", { type: "button", class: "ghost small", "data-testid": "diff-revisions", onclick: () => this.diffDialog(revisions) }, "Diff two revisions") : null,
      this.lastRelease() ? h("button", { type: "button", class: "ghost small", "data-testid": "open-changes-since-release", onclick: () => this.changesSinceReleaseDialog() }, "Changes since the last release") : null,
      h("button", { type: "button", class: "link small", onclick: () => this.historyDialog() }, "Revision history"),
    );
    return this.panel("Revisions", "panel-revisions", add, list, tools);
  }

  cutRevisionDialog() {
    openForm({
      title: "Cut a revision",
      note: "A revision is an exact, immutable cut of the packet, identified by its content hash.",
      submitLabel: "Cut revision",
      fields: [{ name: "label", label: "Label (optional)", placeholder: "Clarification-Packet-v1" }],
      onSubmit: async (v) => {
        const body = v.label.trim() ? { label: v.label.trim() } : {};
        const r = await this.act("POST", `${this.base}/revisions`, body);
        flash(`Revision ${r.revision} cut: ${shortHash(r.content_hash)}`, "ok");
      },
    });
  }

  diffDialog(revisions) {
    const options = revisions.map((r) => ({ value: String(revNumber(r)), label: `r${revNumber(r)}${r.label ? ` ${r.label}` : ""}` }));
    openForm({
      title: "Diff two revisions",
      submitLabel: "Show diff",
      fields: [
        { name: "a", label: "From", type: "select", options, value: options[options.length - 2].value },
        { name: "b", label: "To", type: "select", options, value: options[options.length - 1].value },
      ],
      onSubmit: async (v) => {
        const data = await api("GET", `${this.base}/revisions/${encodeURIComponent(v.a)}/diff/${encodeURIComponent(v.b)}`);
        const at = (n) => revisions.find((r) => String(revNumber(r)) === String(n));
        // A revision is the packet as it stood when it was cut: its texts,
        // word by word (the server's unified diff stays below).
        const [before, after] = await Promise.all([this.packetAt(at(v.a)), this.packetAt(at(v.b))]);
        const body = h(
          "div",
          { "data-testid": "revision-diff" },
          before && after ? wordDiffSections(before, after, data.sections) : null,
          h("details", { class: "raw" }, h("summary", {}, "Line by line (unified diff), sources and prerequisites"), diffView(data)),
        );
        setTimeout(() => openInfo(`Changes from revision r${v.a} to revision r${v.b}`, body), 0);
      },
    });
  }

  // The packet as it stood when revision `r` was cut (null if unreadable).
  async packetAt(r) {
    if (!r || typeof r.version !== "number") return null;
    return api("GET", `${this.base}?version=${r.version}`).catch(() => null);
  }

  // The last release handed to a lane, and what changed in the packet since.
  lastRelease() {
    const released = asList(this.packet.releases).filter((r) => ["released", "superseded"].includes(r.status) && r.approved_at);
    released.sort((a, b) => String(a.approved_at).localeCompare(String(b.approved_at)));
    return released.length ? released[released.length - 1] : null;
  }

  async changesSinceReleaseDialog() {
    const last = this.lastRelease();
    if (!last) return;
    const r = asList(this.packet.revisions).find((x) => revNumber(x) === last.revision);
    const [before, now] = await Promise.all([this.packetAt(r), api("GET", this.base).catch(() => this.packet)]);
    const rid = last.release_id || last.id;
    openInfo(
      `Changes since the last release (${rid}, revision r${last.revision})`,
      h(
        "div",
        { "data-testid": "changes-since-release" },
        h("p", { class: "muted" }, `The packet now (packet version ${now.version}) against revision r${last.revision}, released to ${last.lane_id || last.lane || "?"} ${last.status === "superseded" ? "(since superseded)" : ""}.`),
        before ? wordDiffSections(before, now) : h("p", { class: "error" }, "The released revision could not be read."),
      ),
    );
  }

  async historyDialog() {
    try {
      const data = await api("GET", `${this.base}/revisions`);
      const items = (data && data.items) || [];
      openInfo(
        "Revision history",
        items.length
          ? h(
              "table",
              { class: "table compact" },
              h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Label"), h("th", {}, "Content hash"), h("th", {}, "Cut by"), h("th", {}, "Contributors"))),
              h(
                "tbody",
                {},
                items.map((r) =>
                  h("tr", {}, h("td", {}, revNumber(r)), h("td", {}, r.label || ""), h("td", {}, hashEl(r.content_hash)), h("td", {}, r.cut_by || ""), h("td", {}, asList(r.contributors).join(", "))),
                ),
              ),
            )
          : h("p", { class: "empty" }, "No revisions."),
      );
    } catch (err) {
      openInfo("Revision history", errorBox(err));
    }
  }

}
