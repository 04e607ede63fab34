// The recommendation editor (seeds 000, 001): the options checked against the
// delegated-authority matrix (classification with every reason), the release
// owner's ranking by buttons with a required "because", its history, the
// blocked-path register with counts and the drift flag, precedents compared
// with the case, and the escalation action. Controls follow the server's
// permissions; Quire classifies, it decides no concession.

import { api } from "../core/api.js";
import { flashError, openForm } from "../core/dialogs.js";
import { h } from "../core/dom.js";
import { lanes as laneDirectory } from "../core/directory.js";
import { registerEditor } from "./index.js";

const DIMENSIONS = ["outage_minutes", "support_tier", "segment", "renewal_posture", "exception_basis"];

function verdict(c) {
  return h("span", { class: `badge verdict verdict-${c}`, "data-testid": "classification" }, c.replace("_", " "));
}

function reasons(o) {
  const items = [
    ...o.breaches.map((f) => ["breach", f]),
    ...o.escalations.map((f) => ["escalation", f]),
    ...o.conditions.map((f) => ["condition", f]),
  ];
  if (!items.length) return h("span", { class: "muted" }, "within the matrix");
  return h("ul", { class: "reasons" }, items.map(([kind, f]) => h("li", { class: `reason reason-${kind}` }, h("code", {}, f.code), " ", f.detail)));
}

function components(o) {
  return o.components
    .map((c) => [c.type, c.name, c.percent && `${c.percent}%`, c.amount && `amount ${c.amount}`, c.months !== undefined && `${c.months} mo`].filter(Boolean).join(" · "))
    .join("; ");
}

export class RecommendationEditor {
  async renderRecommendation(box) {
    if (box) this.recEl = box;
    if (!this.recEl) return;
    let rec;
    try {
      rec = await api("GET", `${this.base}/recommendation`);
    } catch (err) {
      this.recEl.replaceChildren();
      return;
    }
    this.rec = rec;
    const matrixSources = (this.packet.sources || []).filter((s) => s.kind === "concession-matrix");
    if (!rec.authority && !rec.escalated_from && !matrixSources.length) {
      this.recEl.replaceChildren();
      return;
    }
    if (!this.rankDraft || this.rankDraft.packetVersion !== this.version) {
      const inBand = rec.options.filter((o) => o.in_band && o.state === "accepted").map((o) => o.id);
      this.rankDraft = { order: rec.ranking ? [...rec.ranking.order] : inBand, packetVersion: this.version };
    }
    this.recEl.replaceChildren(
      h(
        "section",
        { class: "recommendation", "data-testid": "recommendation" },
        h("div", { class: "col-head" }, h("h2", {}, "Recommendation")),
        h("p", { class: "muted note" }, rec.note),
        rec.escalated_from ? h("p", { "data-testid": "escalated-from" }, "Escalation packet assembled from ", h("a", { href: `#/packets/${rec.escalated_from}` }, "its recommendation"), ".") : null,
        this.recAuthority(rec, matrixSources),
        rec.authority ? this.recOptions(rec) : null,
        rec.authority ? this.recRanking(rec) : null,
        rec.authority ? this.recRegister(rec) : null,
        rec.authority ? this.recPrecedents(rec) : null,
        rec.authority ? this.recEscalation(rec) : null,
      ),
    );
    await this.recHistory();
  }

  async recDo(method, path, body) {
    try {
      const out = await this.act(method, `${this.base}${path}`, body);
      this.rankDraft = null;
      await this.renderRecommendation();
      return out;
    } catch (err) {
      flashError(err);
      throw err;
    }
  }

  recAuthority(rec, matrixSources) {
    const a = rec.authority;
    return h(
      "div",
      { class: "rec-block", "data-testid": "authority" },
      h("h3", {}, "Delegated-authority matrix"),
      a ? h("p", {}, `From source ${a.source_id} (digest `, h("code", {}, a.digest), `), set by ${a.set_by}.`) : h("p", { class: "muted" }, "No matrix set yet."),
      this.may("cite_source") && matrixSources.length
        ? h("button", {
            type: "button",
            "data-testid": "set-matrix",
            onclick: () =>
              openForm({
                title: "Set the delegated-authority matrix",
                fields: [
                  { name: "source_id", label: "Concession-matrix source", type: "select", options: matrixSources.map((s) => ({ value: s.id, label: `${s.id} ${s.title}` })) },
                  { name: "matrix", label: "Matrix (JSON)", type: "textarea", rows: 10, value: a ? JSON.stringify(a.matrix, null, 2) : "{\n  \"caps\": {}\n}" },
                ],
                onSubmit: async (v) => this.recDo("POST", "/authority", { source_id: v.source_id, matrix: JSON.parse(v.matrix) }),
              }),
          }, a ? "Replace matrix" : "Set matrix")
        : null,
    );
  }

  recOptions(rec) {
    const mayAdd = this.may("edit") || this.may("suggest");
    return h(
      "div",
      { class: "rec-block" },
      h("h3", {}, "Options"),
      h(
        "table",
        { class: "rec-table", "data-testid": "options" },
        h("thead", {}, h("tr", {}, ["Option", "Components", "Classification", "Why", "Precedent fit", ""].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          rec.options.map((o) =>
            h(
              "tr",
              { "data-option": o.id },
              h("td", {}, h("strong", {}, o.id), " ", o.title, o.state === "proposed" ? h("span", { class: "badge badge-proposed" }, `proposed by ${o.added_by}`) : null),
              h("td", {}, components(o)),
              h("td", {}, verdict(o.classification)),
              h("td", {}, reasons(o)),
              h("td", { "data-testid": "precedent-fit" }, o.precedents.length ? o.precedents.map((p) => h("div", {}, `${p.case_ref}: `, p.case_missing ? "case dimensions not recorded" : [h("span", { class: "match" }, `matches ${p.matched.join(", ") || "nothing"}`), "; ", h("span", { class: "differ" }, `differs on ${p.differ.join(", ") || "nothing"}`)])) : h("span", { class: "muted" }, "none cited")),
              h("td", {}, o.state === "proposed" && this.may("accept_suggestion") ? h("button", { type: "button", "data-testid": "accept-option", onclick: () => this.recDo("POST", `/options/${o.id}/accept`, {}) }, "Accept") : null),
            ),
          ),
        ),
      ),
      mayAdd
        ? h("button", {
            type: "button",
            "data-testid": "add-option",
            onclick: () =>
              openForm({
                title: this.may("edit") ? "Add an option" : "Propose an option",
                note: "Components as JSON: [{type, percent?, amount?, months?, name?}]; numbers as strings. Quire classifies the option; it decides nothing.",
                fields: [
                  { name: "title", label: "Title", required: true },
                  { name: "components", label: "Components (JSON)", type: "textarea", value: '[{"type": "service_credit", "percent": "5", "months": 1}]' },
                  { name: "rationale", label: "Rationale", type: "textarea", required: true },
                  { name: "evidence", label: "Evidence", type: "multiselect", options: (this.packet.sources || []).map((s) => ({ value: s.id, label: `${s.id} ${s.title}` })) },
                  { name: "precedent_ids", label: "Precedents relied on", type: "multiselect", options: rec.precedents.map((p) => ({ value: p.id, label: `${p.id} ${p.case_ref}` })) },
                ],
                onSubmit: async (v) => this.recDo("POST", "/options", { title: v.title, components: JSON.parse(v.components), rationale: v.rationale, evidence: v.evidence, precedent_ids: v.precedent_ids }),
              }),
          }, this.may("edit") ? "Add option" : "Propose option")
        : null,
    );
  }

  recRanking(rec) {
    const owner = this.may("release_owner");
    const draft = this.rankDraft.order;
    const byId = new Map(rec.options.map((o) => [o.id, o]));
    const move = (i, d) => {
      const j = i + d;
      if (j < 0 || j >= draft.length) return;
      [draft[i], draft[j]] = [draft[j], draft[i]];
      this.renderRecommendation();
    };
    const unranked = rec.options.filter((o) => o.in_band && o.state === "accepted" && !draft.includes(o.id));
    const because = h("input", { type: "text", id: "rank-because", "data-testid": "rank-because", placeholder: "Why this order (required)" });
    const objections = (this.packet.objections || []).map((o) => ({ value: o.id, label: `${o.id}: ${o.text.slice(0, 60)}` }));
    const objectionSel = h("select", { "data-testid": "rank-objection", "aria-label": "Because of objection" }, h("option", { value: "" }, "— or because of an objection —"), objections.map((o) => h("option", { value: o.value }, o.label)));
    const save = h("button", { type: "button", class: "primary", "data-testid": "save-ranking", disabled: true }, "Save ranking");
    const check = () => (save.disabled = !(because.value.trim() || objectionSel.value) || !draft.length);
    because.addEventListener("input", check);
    objectionSel.addEventListener("change", check);
    save.addEventListener("click", () =>
      this.recDo("POST", "/ranking", { order: draft, because: objectionSel.value ? { objection_id: objectionSel.value } : { comment: because.value.trim() } }).catch(() => {}),
    );
    return h(
      "div",
      { class: "rec-block", "data-testid": "ranking" },
      h("h3", {}, "Ranking"),
      rec.ranking ? h("p", { class: "muted" }, `Ranked by ${rec.ranking.by}: `, rec.ranking.because.comment || `objection ${rec.ranking.because.objection_id}`) : h("p", { class: "muted" }, "Not ranked yet. Only in-band, accepted options are ranked; the release owner ranks."),
      h(
        "ol",
        { class: "rank-list" },
        draft.map((id, i) =>
          h(
            "li",
            { "data-rank": id },
            h("strong", {}, id), " ", byId.get(id)?.title || "", " ", byId.get(id) ? verdict(byId.get(id).classification) : null,
            owner ? h("span", { class: "rank-buttons" },
              h("button", { type: "button", "aria-label": `Move ${id} up`, "data-testid": "rank-up", onclick: () => move(i, -1) }, "↑"),
              h("button", { type: "button", "aria-label": `Move ${id} down`, "data-testid": "rank-down", onclick: () => move(i, 1) }, "↓"),
              h("button", { type: "button", "aria-label": `Remove ${id} from the ranking`, "data-testid": "rank-remove", onclick: () => { draft.splice(i, 1); this.renderRecommendation(); } }, "✕"),
            ) : null,
          ),
        ),
      ),
      owner && unranked.length ? h("p", {}, "Not ranked: ", unranked.map((o) => h("button", { type: "button", "data-testid": "rank-add", onclick: () => { draft.push(o.id); this.renderRecommendation(); } }, `+ ${o.id}`))) : null,
      owner ? h("div", { class: "rank-save" }, h("label", { for: "rank-because" }, "Because"), because, objectionSel, save) : null,
      h("details", { class: "rank-history" }, h("summary", {}, "Ranking history"), h("ol", { "data-testid": "ranking-history" })),
    );
  }

  async recHistory() {
    const list = this.recEl.querySelector('[data-testid="ranking-history"]');
    if (!list) return;
    const { items } = await api("GET", `${this.base}/ranking/history`);
    list.replaceChildren(
      ...items.map((e) =>
        e.kind === "ranked"
          ? h("li", {}, `v${e.version} ${e.by} ranked ${e.order.join(" > ")}`, e.preferred_changed ? ` (preferred ${e.preferred_before || "none"} → ${e.preferred_after})` : "", e.downgraded.length ? `; downgraded ${e.downgraded.join(", ")}` : "", e.removed.length ? `; removed ${e.removed.join(", ")}` : "", " because ", e.because.comment || `objection ${e.because.objection_id}: ${e.because.text}`)
          : h("li", {}, `v${e.version} ${e.option_id} reclassified ${e.from} → ${e.to} (${e.cause})`),
      ),
    );
  }

  recRegister(rec) {
    const r = rec.register;
    const types = [...new Set([...(rec.authority.matrix.blocked_types || []), ...(rec.authority.matrix.escalation_only_types || []), ...Object.keys(rec.authority.matrix.caps || {})])];
    return h(
      "div",
      { class: "rec-block", "data-testid": "register" },
      h("h3", {}, "Blocked-path register"),
      r.drifting_beyond_scope ? h("p", { class: "drift", role: "status", "data-testid": "drift" }, `Drifting beyond delegated scope: ${r.out_of_band_asks} out-of-band asks`, r.repeated_out_of_band.length ? `; asked again: ${r.repeated_out_of_band.join(", ")}` : "") : null,
      h(
        "table",
        { class: "rec-table" },
        h("thead", {}, h("tr", {}, ["Ask", "Classification", "Times asked", "By"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, r.items.map((row) => h("tr", { "data-ask-type": row.type }, h("td", {}, row.type), h("td", {}, verdict(row.classification)), h("td", { "data-testid": "ask-count" }, String(row.count)), h("td", {}, [...new Set(row.asks.map((a) => a.requested_by))].join(", "))))),
      ),
      r.proposed.length ? h("ul", {}, r.proposed.map((a) => h("li", {}, `${a.id} ${a.type} (proposed by ${a.recorded_by}) `, this.may("accept_suggestion") ? h("button", { type: "button", onclick: () => this.recDo("POST", `/asks/${a.id}/accept`, {}) }, "Accept") : null))) : null,
      this.may("edit") || this.may("suggest")
        ? h("button", {
            type: "button",
            "data-testid": "record-ask",
            onclick: () =>
              openForm({
                title: "Record an ask",
                fields: [
                  { name: "type", label: "Type", type: "select", options: types.map((t) => ({ value: t, label: t })) },
                  { name: "requested_by", label: "Requested by", required: true },
                  { name: "text", label: "What was asked", type: "textarea", required: true },
                ],
                onSubmit: async (v) => this.recDo("POST", "/asks", v),
              }),
          }, "Record ask")
        : null,
    );
  }

  recPrecedents(rec) {
    const dimsFields = (value = {}) => [
      { name: "outage_minutes", label: "Outage minutes", type: "number", value: value.outage_minutes ?? "" },
      ...DIMENSIONS.slice(1).map((d) => ({ name: d, label: d.replace("_", " "), value: value[d] ?? "" })),
    ];
    const dims = (v) => Object.fromEntries(DIMENSIONS.map((d) => [d, d === "outage_minutes" ? Number(v[d]) : v[d]]));
    return h(
      "div",
      { class: "rec-block", "data-testid": "precedents" },
      h("h3", {}, "Case and precedents"),
      rec.case ? h("p", { "data-testid": "case" }, "This case: ", DIMENSIONS.map((d) => `${d} ${rec.case[d]}`).join(" · ")) : h("p", { class: "muted" }, "The case's own dimensions are not recorded."),
      h("ul", {}, rec.precedents.map((p) => h("li", {}, h("strong", {}, p.id), ` ${p.case_ref}: ${p.granted} (`, DIMENSIONS.map((d) => `${d} ${p.dimensions[d]}`).join(" · "), ")"))),
      this.may("edit")
        ? [
            h("button", { type: "button", "data-testid": "set-case", onclick: () => openForm({ title: "The case's dimensions", fields: dimsFields(rec.case || {}), onSubmit: async (v) => this.recDo("POST", "/case", { dimensions: dims(v) }) }) }, "Set case"),
            " ",
            h("button", { type: "button", "data-testid": "add-precedent", onclick: () => openForm({ title: "Record a precedent", fields: [{ name: "case_ref", label: "Case reference", required: true }, { name: "granted", label: "What was granted", required: true }, ...dimsFields()], onSubmit: async (v) => this.recDo("POST", "/precedents", { case_ref: v.case_ref, granted: v.granted, dimensions: dims(v) }) }) }, "Record precedent"),
          ]
        : null,
    );
  }

  recEscalation(rec) {
    const e = rec.escalation;
    const noneInBand = !rec.options.some((o) => o.in_band && o.state === "accepted");
    return h(
      "div",
      { class: "rec-block", "data-testid": "escalation" },
      h("h3", {}, "Escalation"),
      e
        ? h("p", {}, `Escalated by ${e.by} to ${e.lane_id}: `, h("a", { href: `#/packets/${e.packet_id}`, "data-testid": "escalation-link" }, "the escalation packet"))
        : h("p", { class: "muted" }, noneInBand ? "No accepted option is inside delegated authority: a local release is held (NO_IN_BAND_OPTION)." : "An in-band option remains; escalating needs a reason."),
      !e && this.may("release_owner")
        ? h("button", {
            type: "button",
            "data-testid": "escalate",
            onclick: async () => {
              const all = await laneDirectory().catch(() => []);
              const board = all.filter((l) => (l.accepts_kinds || []).includes("escalation"));
              openForm({
                title: "Package an escalation for the board",
                note: "Assembles the evidence, breaches, unresolved trade-offs, the register and you as owner into a linked packet. It approves nothing.",
                fields: [
                  { name: "lane", label: "Board lane", type: "select", options: (board.length ? board : all).map((l) => ({ value: l.id, label: l.title || l.id })) },
                  { name: "reason", label: noneInBand ? "Reason (optional)" : "Why no in-band option is defensible", type: "textarea" },
                ],
                onSubmit: async (v) => {
                  const out = await this.recDo("POST", "/escalation", { lane: v.lane, ...(v.reason.trim() ? { reason: v.reason.trim() } : {}) });
                  location.hash = `#/packets/${out.packet_id}`;
                },
              });
            },
          }, "Package escalation")
        : null,
    );
  }
}

registerEditor({ id: "recommendation", title: "Recommendation", methods: RecommendationEditor, render: "renderRecommendation" });
