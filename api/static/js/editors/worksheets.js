// The worksheets editor (issue 11, part 5): each worksheet's facts with the
// sources they are cited from, its interpretations side by side as columns
// with the differences highlighted, the derivation steps on demand and the
// flags. Live: a worksheet event on the packet's live channel re-reads it.
//
// Figures are shown with their exact digits (api(..., {exact: true}) keeps
// JSON numbers as written: "99.428763", "2400.00"), never through a float.
// Quire computes under each reading; it decides no credit.

import { api, exact, parseExact } from "../core/api.js";
import { openForm } from "../core/dialogs.js";
import { asList, h, hashEl } from "../core/dom.js";
import { registerEditor } from "./index.js";

// The result rows, in the order a reader checks them.
const MEASURES = [
  ["eligible_downtime_minutes", "Eligible downtime"],
  ["denominator_minutes", "Denominator"],
  ["uptime_exact_fraction", "Uptime (exact fraction)"],
  ["uptime_pct", "Uptime %"],
  ["band", "Band / tier"],
  ["credit_pct", "Credit %"],
  ["credit_amount", "Credit amount"],
];

const FACT_LABELS = {
  period: "Period",
  outages: "Outage windows",
  maintenance: "Maintenance windows",
  fee_amount: "Fee amount",
  fee_per_minute: "Fee per minute",
  cap_base_amount: "Cap base amount",
  service_start: "Service start",
  licensed_users: "Licensed users",
};

const text = (value) => {
  if (value == null) return "—";
  if (typeof value === "object" && "rawJSON" in value) return value.rawJSON;
  if (typeof value === "object") return JSON.stringify(value, null, 0);
  return String(value);
};

function bandText(band) {
  if (!band) return "none";
  const parts = [`#${exact(band.index)}`];
  if (band.below_pct != null) parts.push(`below ${exact(band.below_pct)}%`);
  if (band.min != null || band.max != null) parts.push(`${exact(band.min ?? "")}…${exact(band.max ?? "")}`);
  parts.push(`→ ${exact(band.credit_pct)}%`);
  return parts.join(" ");
}

function measureText(key, result) {
  const v = result[key];
  if (key === "band") return bandText(v);
  if (key === "eligible_downtime_minutes" || key === "denominator_minutes") return `${text(v)} ${result.units || "minutes"}`;
  if (key === "uptime_pct" || key === "credit_pct") return `${text(v)}%`;
  return text(v);
}

function windowsView(list) {
  const items = asList(list);
  if (!items.length) return h("span", { class: "muted" }, "none");
  return h(
    "ul",
    { class: "windows" },
    items.map((w) => h("li", {}, `${text(w.start)} → ${text(w.end)}`, w.users_impacted != null ? ` (${text(w.users_impacted)} users)` : "")),
  );
}

function factValue(key, value) {
  if (key === "outages" || key === "maintenance") return windowsView(value);
  if (value && typeof value === "object" && !("rawJSON" in value)) return h("code", {}, JSON.stringify(value));
  return h("span", { class: "num" }, text(value));
}

export class WorksheetsEditor {
  mountWorksheets() {
    this.worksheetsEl = h("div", { class: "worksheets", "data-testid": "worksheets" });
    this.worksheetsBox = h(
      "section",
      { class: "worksheets-box", "aria-labelledby": "worksheets-title" },
      h(
        "div",
        { class: "col-head" },
        h("h2", { id: "worksheets-title" }, "Worksheets"),
        this.may("edit") && !this.isAgent
          ? h("button", { type: "button", class: "ghost", "data-testid": "new-worksheet", onclick: () => this.newWorksheetDialog() }, "New worksheet")
          : null,
      ),
      this.worksheetsEl,
    );
    this.worksheetsOpen = new Set(); // worksheet ids whose steps are open
    this.loadWorksheets();
    return this.worksheetsBox;
  }

  worksheetEvent(type) {
    // A worksheet changed, or a source it cites did (staleness).
    if (type.startsWith("Worksheet") || type.startsWith("Source")) {
      clearTimeout(this.worksheetTimer);
      this.worksheetTimer = setTimeout(() => this.loadWorksheets(), 120);
    }
  }

  async loadWorksheets() {
    let list;
    try {
      list = await api("GET", `${this.base}/worksheets`);
    } catch (err) {
      if (err.missingRoute) {
        this.worksheetsBox.hidden = true;
        return;
      }
      this.worksheetsEl.replaceChildren(h("p", { class: "error" }, `Worksheets could not be read: ${err.message}`));
      return;
    }
    const items = asList(list && list.worksheets);
    if (!items.length) {
      this.worksheetsEl.replaceChildren(h("p", { class: "empty" }, "No worksheets."));
      return;
    }
    const views = await Promise.all(
      items.map((w) => api("GET", `${this.base}/worksheets/${encodeURIComponent(w.worksheet_id)}`, undefined, { exact: true }).catch((err) => ({ error: err, ...w }))),
    );
    if (this.closed) return;
    this.worksheets = new Map(views.map((v) => [v.worksheet_id, v]));
    this.worksheetsEl.replaceChildren(...views.map((v) => this.worksheetView(v)));
  }

  worksheetView(w) {
    if (w.error) return h("article", { class: "card worksheet" }, h("h3", {}, w.title), h("p", { class: "error" }, w.error.message));
    const wid = w.worksheet_id;
    const interps = asList(w.interpretations);
    const stale = asList(w.stale);
    const staleFacts = new Set(stale.map((s) => s.fact));
    const mayEdit = this.may("edit") && !this.isAgent;
    return h(
      "article",
      { class: "card worksheet", "data-testid": "worksheet", "data-worksheet-id": wid },
      h(
        "header",
        { class: "worksheet-head" },
        h("h3", {}, w.title),
        h("code", { class: "sid" }, wid),
        stale.length ? h("span", { class: "badge badge-held", "data-testid": "worksheet-stale" }, "stale cites") : null,
        h("span", { class: "spacer" }),
        mayEdit ? h("button", { type: "button", class: "ghost small", "data-testid": "edit-facts", onclick: () => this.factsDialog(w) }, "Edit facts") : null,
        mayEdit ? h("button", { type: "button", class: "ghost small", "data-testid": "add-interpretation", onclick: () => this.interpretationDialog(w) }, "Add interpretation") : null,
      ),
      h("p", { class: "note worksheet-note", "data-testid": "worksheet-note" }, w.note || "Quire computes under each reading; it decides no credit."),
      stale.length
        ? h(
            "div",
            { class: "warn-box", role: "status" },
            h("strong", {}, "Cited source changed since these facts were set: "),
            stale.map((s) => `${s.fact} (${s.source_id})`).join(", "),
            ". The gate holds WORKSHEET_SOURCE_STALE until the facts are set again.",
          )
        : null,
      this.factsTable(w, staleFacts),
      interps.length ? this.resultsTable(w, interps) : h("p", { class: "empty" }, "No interpretations yet."),
      this.differencesList(w),
      interps.length ? this.stepsView(wid, interps) : null,
    );
  }

  factsTable(w, staleFacts) {
    const facts = w.facts || {};
    const cites = w.cites || {};
    const keys = Object.keys(facts);
    return h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Scrollable table" },
      h(
        "table",
        { class: "table compact facts", "data-testid": "worksheet-facts" },
        h("caption", {}, "Facts, with the source each is cited from", h("span", { class: "muted" }, ` · set by ${w.facts_set_by || "?"} at version ${exact(w.facts_version)} · facts hash `), hashEl(w.facts_hash)),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Fact"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Cited source"))),
        h(
          "tbody",
          {},
          keys.map((k) => {
            const c = cites[k];
            return h(
              "tr",
              { class: staleFacts.has(k) ? "stale" : "", "data-fact": k },
              h("th", { scope: "row" }, FACT_LABELS[k] || k),
              h("td", {}, factValue(k, facts[k])),
              h(
                "td",
                { "data-testid": "fact-cite" },
                c
                  ? [
                      h("strong", {}, c.title),
                      h("span", { class: "muted" }, ` ${c.source_id} · ${c.kind} · digest `),
                      hashEl(c.digest),
                      c.current_digest && c.current_digest !== c.digest
                        ? [h("span", { class: "badge badge-held" }, "source changed"), h("span", { class: "muted" }, " now "), hashEl(c.current_digest)]
                        : null,
                    ]
                  : h("span", { class: "muted" }, "not cited"),
              ),
            );
          }),
        ),
      ),
    );
  }

  // One column per interpretation; a row whose cells differ is highlighted.
  resultsTable(w, interps) {
    const ruleKeys = [...new Set(interps.flatMap((i) => Object.keys(i.rules || {})))];
    const row = (label, cells, kind) => {
      const differs = new Set(cells.map((c) => c.key)).size > 1;
      return h(
        "tr",
        { class: `${kind}${differs ? " differs" : ""}`, "data-testid": differs ? "differs" : null },
        h("th", { scope: "row" }, label, differs ? h("span", { class: "differs-mark", title: "differs between interpretations" }, " ≠ differs") : null),
        cells.map((c) => h("td", { class: "num" }, c.view)),
      );
    };
    const ruleCell = (i, k) => {
      const v = (i.rules || {})[k];
      const shown = v === undefined ? "(default)" : typeof v === "object" && !("rawJSON" in v) ? JSON.stringify(v) : text(v);
      return { key: shown, view: v === undefined ? h("span", { class: "muted" }, shown) : shown };
    };
    const measureCell = (i, k) => {
      const t = measureText(k, i.result || {});
      return { key: t, view: t };
    };
    const flagsCell = (i) => {
      const flags = asList((i.result || {}).flags);
      const key = flags.map((f) => f.code).sort().join(",");
      return {
        key,
        view: flags.length
          ? h("ul", { class: "flags", "data-testid": "worksheet-flags" }, flags.map((f) => h("li", {}, h("code", { class: "code" }, f.code), f.detail ? ` ${f.detail}` : "")))
          : h("span", { class: "muted" }, "no flags"),
      };
    };
    return h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Scrollable table" },
      h(
        "table",
        { class: "table compact readings", "data-testid": "worksheet-results" },
        h("caption", {}, "Interpretations side by side (rows that differ are marked ≠)"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, ""),
            interps.map((i) =>
              h(
                "th",
                { scope: "col", "data-testid": "interpretation" },
                i.name,
                h("div", { class: "muted small" }, i.interpretation_id, i.objection_id ? ` · argued in ${i.objection_id}` : ""),
              ),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          ruleKeys.map((k) => row(`Rule: ${k}`, interps.map((i) => ruleCell(i, k)), "rule")),
          MEASURES.map(([k, label]) => row(label, interps.map((i) => measureCell(i, k)), "measure")),
          row("Flags", interps.map(flagsCell), "flags-row"),
        ),
      ),
    );
  }

  differencesList(w) {
    const diffs = asList(w.differences);
    if (!diffs.length) return null;
    const change = (k, c) => {
      const v = (x) => (k === "band" ? bandText(x) : text(x));
      return h("li", {}, h("strong", {}, k.replace(/_/g, " ")), ` ${v(c.from)} → ${v(c.to)}`, c.by != null ? h("span", { class: "muted" }, ` (by ${text(c.by)})`) : null);
    };
    // Every pair of readings: open when there are few of them.
    return h(
      "details",
      { class: "differences", "data-testid": "worksheet-differences", open: diffs.length <= 3 },
      h("summary", {}, h("h4", {}, `What differs between readings (${diffs.length} pair${diffs.length === 1 ? "" : "s"})`)),
      diffs.map((d) =>
        h(
          "div",
          { class: "difference" },
          h("p", {}, h("strong", {}, d.a_name), " → ", h("strong", {}, d.b_name)),
          h(
            "ul",
            {},
            asList(d.rules).map((r) => h("li", {}, h("span", { class: "muted" }, "rule "), h("code", {}, r.rule), ` ${text(r.a)} → ${text(r.b)}`)),
            Object.entries(d.changes || {}).map(([k, c]) => change(k, c)),
          ),
        ),
      ),
    );
  }

  // The derivation steps, on demand (closed until asked; kept open across re-reads).
  stepsView(wid, interps) {
    return interps.map((i) => {
      const key = `${wid}/${i.interpretation_id}`;
      const box = h(
        "details",
        { class: "steps", "data-testid": "worksheet-steps", open: this.worksheetsOpen.has(key) },
        h("summary", {}, `How “${i.name}” is derived`),
        h(
          "ol",
          {},
          asList((i.result || {}).steps).map((s) => h("li", {}, h("code", {}, s.step), " ", s.detail)),
        ),
      );
      box.addEventListener("toggle", () => (box.open ? this.worksheetsOpen.add(key) : this.worksheetsOpen.delete(key)));
      return box;
    });
  }

  sourceOptions() {
    return [{ value: "", label: "(not cited)" }, ...asList(this.packet.sources).filter((s) => s.status !== "withdrawn").map((s) => ({ value: s.id, label: `${s.id}: ${s.title}` }))];
  }

  newWorksheetDialog() {
    const sources = this.sourceOptions();
    const example = {
      period: "2025-03",
      outages: [{ start: "2025-03-14T01:00:00Z", end: "2025-03-14T05:52:00Z" }],
      maintenance: [],
      fee_amount: "48000.00",
    };
    openForm({
      title: "New worksheet",
      note: "Facts as for the service-credit calculator (exact decimals; timestamps in UTC). Quire computes under each reading; it decides no credit.",
      submitLabel: "Create worksheet",
      fields: [
        { name: "title", label: "Title", required: true, placeholder: "March service-credit worksheet" },
        { name: "facts", label: "Facts (JSON)", type: "textarea", rows: 9, required: true, value: JSON.stringify(example, null, 2) },
        { name: "cite_outages", label: "Outages cited from", type: "select", options: sources, value: "" },
        { name: "cite_maintenance", label: "Maintenance cited from", type: "select", options: sources, value: "" },
        { name: "cite_fee_amount", label: "Fee amount cited from", type: "select", options: sources, value: "" },
      ],
      onSubmit: async (v) => {
        const cites = {};
        for (const k of ["outages", "maintenance", "fee_amount"]) if (v[`cite_${k}`]) cites[k] = v[`cite_${k}`];
        await this.act("POST", `${this.base}/worksheets`, { title: v.title.trim(), facts: readJson(v.facts, "Facts"), cites });
        await this.loadWorksheets();
      },
    });
  }

  factsDialog(w) {
    openForm({
      title: `Facts of ${w.title}`,
      note: "Setting the facts records every cited source's current digest; each interpretation is recomputed.",
      submitLabel: "Set facts",
      fields: [{ name: "facts", label: "Facts (JSON)", type: "textarea", rows: 12, required: true, value: JSON.stringify(w.facts, null, 2) }],
      onSubmit: async (v) => {
        await this.act("POST", `${this.base}/worksheets/${encodeURIComponent(w.worksheet_id)}/facts`, { facts: readJson(v.facts, "Facts") });
        await this.loadWorksheets();
      },
    });
  }

  interpretationDialog(w) {
    const first = asList(w.interpretations)[0];
    const objections = [{ value: "", label: "(none)" }, ...asList(this.packet.objections).map((o) => ({ value: o.id, label: `${o.id}: ${String(o.text).slice(0, 70)}` }))];
    openForm({
      title: `Add an interpretation to ${w.title}`,
      note: "Rules as for the service-credit calculator: bands, tiers or a multiplier, maintenance handling, granularity...",
      submitLabel: "Add interpretation",
      fields: [
        { name: "name", label: "Name", required: true, placeholder: "Maintenance counted" },
        { name: "rules", label: "Rules (JSON)", type: "textarea", rows: 10, required: true, value: first ? JSON.stringify(first.rules, null, 2) : '{\n  "commitment_pct": "99.9",\n  "tiers": [{"below_pct": "99.9", "credit_pct": 5}]\n}' },
        { name: "objection_id", label: "Argued in objection", type: "select", options: objections, value: "" },
      ],
      onSubmit: async (v) => {
        const body = { name: v.name.trim(), rules: readJson(v.rules, "Rules") };
        if (v.objection_id) body.objection_id = v.objection_id;
        await this.act("POST", `${this.base}/worksheets/${encodeURIComponent(w.worksheet_id)}/interpretations`, body);
        await this.loadWorksheets();
      },
    });
  }
}

// The JSON typed in a dialog, numbers kept exact.
function readJson(value, what) {
  try {
    return parseExact(value);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${err.message}`);
  }
}

registerEditor({ id: "worksheets", title: "Worksheets", methods: WorksheetsEditor, mount: "mountWorksheets", onEvent: "worksheetEvent" });
