// The recovery-plan editor (seed 004): structured editors for the plan's five
// tables (add, remove and edit rows), the server's checks shown inline at the
// row at fault, and a printable view of plan.md. Shown on packets of kind
// `recovery-plan`; the inputs are editable only when the server's role table
// allows `edit` (co-authors and the release owner). The server parses and
// checks everything again (POST /v1/packets/{id}/plan: 422 with a stable code).

import { api, errorBox } from "../core/api.js";
import { flash, flashError } from "../core/dialogs.js";
import { h } from "../core/dom.js";
import { session } from "../core/state.js";
import { registerEditor } from "./index.js";

const KINDS = ["acknowledgment", "update", "resolution", "post_incident_summary"];

// Columns several tables share.
const SEVERITY = ["severity", "Severity", "text"];
const AT_MINUTES = ["at_minutes", "At T+ (min)", "num"];
const OWNER = ["owner", "Owner", "text"];

// One table per part: each column's key (dots reach into `criteria`), label
// and type: text, opttext (empty = null), num, optnum, pct, tri (any / yes /
// no), bool, list (comma-separated), or a list of choices.
const TABLES = [
  {
    part: "severities",
    title: "Severity classification",
    columns: [
      ["level", "Severity", "text"],
      ["criteria.min_duration_minutes", "At least (min)", "optnum"],
      ["criteria.min_customers_pct", "Customers affected at least (%)", "pct"],
      ["criteria.core_feature", "Core feature", "tri"],
      ["notify_within_minutes", "Notify within (min)", "num"],
      ["expected_customer_contact_minutes", "Customers expected to contact at T+ (min)", "num"],
      OWNER,
    ],
  },
  {
    part: "communications",
    title: "Customer communication sequence",
    columns: [
      SEVERITY,
      AT_MINUTES,
      ["audience", "Audience", ["customer", "internal"]],
      ["kind", "Kind", KINDS],
      ["channel", "Channel", "text"],
      ["content", "Content", "text"],
      OWNER,
    ],
  },
  {
    part: "remediation",
    title: "Remediation matrix",
    columns: [
      ["tier", "Tier", "text"],
      SEVERITY,
      ["offer", "Offer", "text"],
      ["eligibility", "Eligibility", "opttext"],
      ["approver", "Named approver (Quire user)", "opttext"],
    ],
  },
  {
    part: "escalation",
    title: "Internal escalation",
    columns: [
      SEVERITY,
      AT_MINUTES,
      ["notify", "Notify (comma-separated)", "list"],
      ["info", "With", "text"],
    ],
  },
  {
    part: "review",
    title: "Post-incident review",
    columns: [
      ["within_days", "Within (days)", "num"],
      ["what", "What", "text"],
      ["participants", "Participants (comma-separated)", "list"],
      ["customer_facing", "Customer-facing", "bool"],
    ],
  },
];

function getPath(row, key) {
  return key.split(".").reduce((v, k) => (v == null ? undefined : v[k]), row);
}

function setPath(row, key, value) {
  const keys = key.split(".");
  let at = row;
  for (const k of keys.slice(0, -1)) at = at[k] = at[k] || {};
  at[keys[keys.length - 1]] = value;
}

// An input for one cell; `read()` gives the value the server expects.
function cell(type, value, label, readOnly) {
  let el;
  let read;
  if (Array.isArray(type)) {
    el = h("select", { "aria-label": label, disabled: readOnly }, ...type.map((o) => h("option", { value: o, selected: o === value }, o)));
    read = () => el.value;
  } else if (type === "tri") {
    const now = value === true ? "yes" : value === false ? "no" : "any";
    el = h("select", { "aria-label": label, disabled: readOnly }, ...["any", "yes", "no"].map((o) => h("option", { value: o, selected: o === now }, o)));
    read = () => (el.value === "any" ? null : el.value === "yes");
  } else if (type === "bool") {
    el = h("input", { type: "checkbox", "aria-label": label, checked: Boolean(value), disabled: readOnly });
    read = () => el.checked;
  } else {
    const shown = type === "list" ? (value || []).join(", ") : value == null ? "" : String(value);
    const numeric = type === "num" || type === "optnum";
    el = h("input", { type: numeric ? "number" : "text", "aria-label": label, value: shown, readOnly, min: numeric ? 0 : undefined, step: numeric ? 1 : undefined });
    read = () => {
      const raw = el.value.trim();
      if (type === "list") return raw ? raw.split(",").map((s) => s.trim()).filter(Boolean) : [];
      if (numeric) return raw === "" ? (type === "optnum" ? null : raw) : Number(raw);
      if (type === "opttext" || type === "pct") return raw === "" ? null : raw;
      return raw;
    };
  }
  return { el, read };
}

export class PlanEditor {
  mountPlan(column) {
    if (!this.packet || this.packet.kind !== "recovery-plan") return;
    this.planEl = h("section", { class: "plan-editor card", "data-testid": "plan-editor", "aria-labelledby": "plan-heading" });
    column.append(this.planEl);
    this.loadPlan();
  }

  refreshPlan() {
    if (this.planEl && !this.planDirty) this.loadPlan();
  }

  async loadPlan() {
    let answer = null;
    try {
      answer = await api("GET", `${this.base}/plan`);
    } catch (err) {
      if (err.code !== "PLAN_NOT_FOUND") {
        this.planEl.replaceChildren(errorBox(err));
        return;
      }
    }
    const empty = { severities: [], communications: [], remediation: [], escalation: [], review: [] };
    this.renderPlan(answer ? answer.plan : empty, answer ? answer.checks : [], Boolean(answer));
  }

  renderPlan(plan, checks, saved) {
    // A re-read that finds what is shown (the live echo of one's own save)
    // leaves the editor alone: an open printable view stays open.
    const shown = JSON.stringify([plan, checks, saved]);
    if (shown === this.planShown && this.planEl.firstChild) return;
    this.planShown = shown;
    const mayEdit = this.may("edit");
    this.planDirty = false;
    this.planRows = {};
    const tables = TABLES.map((spec) => this.planTable(spec, plan[spec.part] || [], checks, mayEdit));
    const status = !saved
      ? h("p", { class: "muted", "data-testid": "plan-status" }, "No plan yet.")
      : checks.length
        ? h("p", { class: "plan-status plan-bad", "data-testid": "plan-status" }, `${checks.length} check(s) hold the release: see the rows marked below.`)
        : h("p", { class: "plan-status plan-ok", "data-testid": "plan-status" }, "Every check passes.");
    this.planEl.replaceChildren(
      h(
        "div",
        { class: "col-head" },
        h("h2", { id: "plan-heading" }, "Recovery plan"),
        h(
          "div",
          { class: "plan-actions" },
          saved ? h("button", { type: "button", "data-testid": "plan-print", onclick: () => this.printPlan() }, "Printable view") : null,
          mayEdit ? h("button", { type: "button", class: "primary", "data-testid": "plan-save", onclick: () => this.savePlan() }, "Save plan") : null,
        ),
      ),
      status,
      h("p", { class: "muted small" }, "Quire checks and classifies the plan; it never declares an incident, grants a credit or contacts a customer."),
      ...tables,
      (this.planPrint = h("div", { class: "plan-print", "data-testid": "plan-print-view", hidden: true })),
    );
  }

  planTable(spec, rows, checks, mayEdit) {
    const body = h("tbody");
    const state = (this.planRows[spec.part] = []);
    const addRow = (row, index) => {
      const cells = spec.columns.map(([key, label, type]) => ({ key, ...cell(type, getPath(row, key), `${spec.title} row ${index + 1}: ${label}`, !mayEdit) }));
      const faults = checks.filter((c) => c.part === spec.part && c.row === index);
      const tr = h(
        "tr",
        { class: faults.length ? "row-fault" : "", "data-testid": `plan-row-${spec.part}`, dataset: { row: String(index) } },
        ...cells.map((c) => h("td", {}, c.el)),
        h(
          "td",
          {},
          mayEdit
            ? h("button", { type: "button", class: "link", "aria-label": `Remove ${spec.title} row ${index + 1}`, onclick: () => { tr.remove(); faultTr && faultTr.remove(); entry.removed = true; this.planDirty = true; } }, "Remove")
            : null,
        ),
      );
      const faultTr = faults.length
        ? h("tr", { class: "fault-note", "data-testid": "plan-check" }, h("td", { colspan: spec.columns.length + 1 }, ...faults.map((f) => h("div", {}, h("strong", {}, f.code), ` ${f.detail}`))))
        : null;
      const entry = { cells, removed: false };
      state.push(entry);
      body.append(tr);
      if (faultTr) body.append(faultTr);
      tr.addEventListener("input", () => (this.planDirty = true));
      tr.addEventListener("change", () => (this.planDirty = true));
    };
    rows.forEach(addRow);
    const partFaults = checks.filter((c) => c.part === spec.part && c.row == null);
    return h(
      "div",
      { class: "plan-table", "data-testid": `plan-table-${spec.part}` },
      h("h3", {}, spec.title),
      ...partFaults.map((f) => h("p", { class: "fault-note", "data-testid": "plan-check" }, h("strong", {}, f.code), ` ${f.detail}`)),
      h(
        "div",
        { class: "table-scroll" },
        h("table", {}, h("thead", {}, h("tr", {}, ...spec.columns.map(([, label]) => h("th", { scope: "col" }, label)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))), body),
      ),
      mayEdit
        ? h("button", { type: "button", "data-testid": `plan-add-${spec.part}`, onclick: () => { addRow({}, state.length); this.planDirty = true; } }, `Add ${spec.title.toLowerCase()} row`)
        : null,
    );
  }

  collectPlan() {
    const plan = {};
    for (const spec of TABLES) {
      plan[spec.part] = this.planRows[spec.part]
        .filter((entry) => !entry.removed)
        .map((entry) => {
          const row = {};
          for (const c of entry.cells) setPath(row, c.key, c.read());
          return row;
        });
    }
    return plan;
  }

  async savePlan() {
    try {
      const answer = await this.act("POST", `${this.base}/plan`, this.collectPlan());
      this.renderPlan(answer.plan, answer.checks, true);
      flash(answer.checks.length ? `Plan saved; ${answer.checks.length} check(s) hold a release.` : "Plan saved; every check passes.", "ok");
    } catch (err) {
      flashError(err);
    }
  }

  async printPlan() {
    const response = await fetch(`${this.base}/plan.md`, { headers: { Authorization: `Bearer ${session.token}` } });
    if (!response.ok) {
      flash(`The printable plan is not available (${response.status}).`);
      return;
    }
    const text = await response.text();
    this.planPrint.hidden = false;
    this.planPrint.replaceChildren(
      h("div", { class: "col-head" }, h("h3", {}, "plan.md"), h("button", { type: "button", onclick: () => window.print() }, "Print")),
      h("pre", { class: "plan-md", "data-testid": "plan-md" }, text),
    );
    this.planPrint.scrollIntoView({ block: "nearest" });
  }
}

registerEditor({ id: "plan", title: "Recovery plan", methods: PlanEditor, mount: "mountPlan", refresh: "refreshPlan" });
