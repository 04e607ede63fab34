// Agents' suggestions: each one's word diff against the section as it stood
// when the agent wrote it, its boundary flags, and (for co-authors and the
// release owner) accept and reject. An agent sees its own pending ones, so
// its text never disappears on reload. Methods of the packet page.

import { api, ApiError, errorBox } from "../../core/api.js";
import { flash, flashError, openForm } from "../../core/dialogs.js";
import { asList, badge, h, itemList } from "../../core/dom.js";
import { applyOps } from "../../core/ops.js";
import { session } from "../../core/state.js";
import { wordDiffView } from "../../core/worddiff.js";

// shared/API.md v2: why a human rejects an agent's suggestion.
export const REJECTION_CATEGORIES = [
  ["concession_recommendation", "Recommends a concession or credit"],
  ["customer_communication", "Customer communication"],
  ["billing_execution", "Changes billing"],
  ["entitlement_adjudication", "Adjudicates an entitlement"],
  ["staffing_commitment", "Commits staffing"],
  ["incident_classification", "Classifies an incident"],
  ["live_diagnostics", "Triggers live diagnostics"],
  ["factual_error", "Factual error"],
  ["other", "Other"],
];

const categoryLabel = (c) => (REJECTION_CATEGORIES.find(([k]) => k === c) || [c, c])[1];

export class Suggestions {
  suggestionsPanel(p) {
    const all = asList(p.suggestions);
    if (!all.length && !this.isAgent) return null;
    const me = session.me ? session.me.user_id : "";
    const pending = all.filter((s) => s.state === "proposed");
    const done = all.filter((s) => s.state !== "proposed");
    const title = this.isAgent ? "Your suggestions" : "Agent suggestions";
    const mine = (s) => !this.isAgent || s.proposed_by === me;
    const list = pending.filter(mine);
    return this.panel(
      title,
      "panel-suggestions",
      pending.length ? h("span", { class: "badge badge-pending", "data-testid": "suggestions-pending" }, `${pending.length} pending`) : null,
      itemList(list, this.isAgent ? "No pending suggestions. Edit a section and propose it." : "No pending suggestions.", (s) => this.suggestionItem(s)),
      done.length
        ? h(
            "details",
            { class: "suggestion-history" },
            h("summary", {}, `Decided (${done.length})`),
            h("ul", { class: "items" }, done.filter(mine).map((s) => this.suggestionItem(s))),
          )
        : null,
    );
  }

  suggestionItem(s) {
    const section = this.sections.get(s.section_id);
    const flags = asList(s.boundary_flags);
    const diffBox = h("div", { class: "suggestion-diff" }, h("span", { class: "muted small" }, "Loading the change…"));
    this.suggestionDiff(s).then(
      ([before, after]) => diffBox.replaceChildren(wordDiffView(before, after)),
      (err) => diffBox.replaceChildren(errorBox(err)),
    );
    const mayDecide = s.state === "proposed" && !this.isAgent && this.may("accept_suggestion");
    return h(
      "li",
      { class: `item suggestion${flags.length ? " flagged" : ""}`, "data-testid": "suggestion", "data-suggestion-id": s.id },
      h(
        "div",
        { class: "item-head" },
        h("code", {}, s.id),
        h("span", { class: "muted" }, ` on ${section ? section.heading : s.section_id} by ${s.proposed_by}`),
        badge(s.state),
      ),
      flags.length
        ? h(
            "div",
            { class: "warn-box", "data-testid": "boundary-flags" },
            h("strong", {}, "Crosses a boundary Quire never crosses: "),
            h("ul", { class: "flags" }, flags.map((f) => h("li", {}, h("strong", {}, categoryLabel(f.category)), ": “", f.phrase, "”"))),
            "Accepting it needs an override reason.",
          )
        : null,
      diffBox,
      s.rejection
        ? h("p", { class: "answer" }, h("span", { class: "muted" }, `Rejected by ${s.rejection.by}: `), s.rejection.category ? h("strong", {}, `${categoryLabel(s.rejection.category)}. `) : null, s.rejection.reason || "")
        : null,
      s.accepted_by ? h("p", { class: "answer muted" }, `Accepted by ${s.accepted_by}`) : null,
      mayDecide
        ? h(
            "div",
            { class: "item-actions" },
            h("button", { type: "button", class: "primary small", "data-testid": "accept-suggestion", onclick: () => this.acceptSuggestion(s) }, "Accept"),
            h("button", { type: "button", class: "ghost small", "data-testid": "reject-suggestion", onclick: () => this.rejectSuggestionDialog(s) }, "Reject…"),
          )
        : null,
    );
  }

  // The section's text when the agent wrote the suggestion, and with it applied.
  async suggestionDiff(s) {
    this.pastPackets = this.pastPackets || new Map();
    let past = this.pastPackets.get(s.base_version);
    if (!past) {
      past = api("GET", `${this.base}?version=${encodeURIComponent(s.base_version)}`);
      this.pastPackets.set(s.base_version, past);
      past.catch(() => this.pastPackets.delete(s.base_version));
    }
    const packet = await past;
    const section = asList(packet.sections).find((x) => x.id === s.section_id);
    const before = section ? section.text : "";
    return [before, applyOps(before, asList(s.ops))];
  }

  async acceptSuggestion(s, overrideReason) {
    if (asList(s.boundary_flags).length && !overrideReason) return this.overrideDialog(s);
    try {
      await this.act("POST", `${this.base}/suggestions/${encodeURIComponent(s.id)}/accept`, overrideReason ? { override_reason: overrideReason } : {});
      flash(`Suggestion ${s.id} accepted`, "ok");
    } catch (err) {
      // A server that checks boundaries answers 409 BOUNDARY_FLAGGED first.
      if (err instanceof ApiError && err.code === "BOUNDARY_FLAGGED" && !overrideReason) {
        const flags = asList(err.details && err.details.boundary_flags);
        return this.overrideDialog({ ...s, boundary_flags: flags.length ? flags : s.boundary_flags });
      }
      if (overrideReason) throw err;
      flashError(err);
    }
    return null;
  }

  overrideDialog(s) {
    const flags = asList(s.boundary_flags);
    openForm({
      title: `Accept ${s.id} despite its boundary flags`,
      note: h(
        "span",
        {},
        "This suggestion was flagged: ",
        flags.length ? flags.map((f) => `${categoryLabel(f.category)} (“${f.phrase}”)`).join("; ") : "the server flagged it",
        ". Say why accepting it is right; the reason is recorded with the acceptance.",
      ),
      submitLabel: "Accept with override",
      fields: [{ name: "override_reason", label: "Override reason", type: "textarea", required: true }],
      onSubmit: async (v) => {
        if (!v.override_reason.trim()) throw new Error("An override reason is required.");
        await this.acceptSuggestion(s, v.override_reason.trim());
      },
    });
  }

  rejectSuggestionDialog(s) {
    openForm({
      title: `Reject ${s.id}`,
      note: "The reason and category are kept with the rejection (and counted in the governance measures).",
      submitLabel: "Reject",
      fields: [
        { name: "category", label: "Category", type: "select", options: REJECTION_CATEGORIES.map(([value, label]) => ({ value, label })), value: asList(s.boundary_flags)[0]?.category || "factual_error" },
        { name: "reason", label: "Reason", type: "textarea", required: true },
      ],
      onSubmit: async (v) => {
        await this.act("POST", `${this.base}/suggestions/${encodeURIComponent(s.id)}/reject`, { reason: v.reason.trim(), category: v.category });
        flash(`Suggestion ${s.id} rejected`, "ok");
      },
    });
  }
}
