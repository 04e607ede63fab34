// Readable documents for records the server keeps as JSON: event types in
// words, the objection ledger, an event's data (manifests: approval.js). The raw JSON
// stays one click away (a closed <details>), never the first thing shown.

import { asList, badge, h, hashEl, jsonBlock, when } from "./dom.js";

// "quire.packet.SectionTextEdited" -> "Section text edited".
export function eventWords(topic) {
  const name = String(topic || "").split(/[.:]/).pop();
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  const lower = words.toLowerCase();
  return lower ? lower[0].toUpperCase() + lower.slice(1) : "";
}

// "content_hash" -> "Content hash".
export function keyWords(key) {
  const s = String(key).replace(/_/g, " ");
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

const HASHY = /(^|_)(hash|digest|leaf)$|^leaf_hash$|^signature$/;
const TIMEY = /(_at|^at|timestamp|valid_until|^since|^until)$/;

// Any value as a definition list (objects), a list (arrays) or text.
export function docValue(value, key = "") {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "none");
    if (value.every((x) => x === null || typeof x !== "object")) return value.map(String).join(", ");
    return h("ol", { class: "doc-list" }, value.map((x) => h("li", {}, docValue(x))));
  }
  if (typeof value === "object") {
    // Fields an event leaves empty say nothing: left out.
    const entries = Object.entries(value).filter(([, v]) => v !== null && v !== undefined && v !== "");
    if (!entries.length) return h("span", { class: "muted" }, "none");
    return h(
      "dl",
      { class: "doc-fields" },
      entries.map(([k, v]) => [h("dt", {}, keyWords(k)), h("dd", {}, docValue(v, k))]),
    );
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (HASHY.test(key)) return hashEl(value);
  if (TIMEY.test(key) && typeof value === "string") return h("time", { datetime: String(value) }, when(value));
  return String(value);
}

export function rawJson(data) {
  return h("details", { class: "raw" }, h("summary", {}, "As stored (JSON)"), jsonBlock(data));
}

const ACTION_WORDS = {
  raised: "raised it",
  answered: "answered",
  resolved: "resolved it",
  withdrawn: "withdrew it",
  reopened: "reopened it",
  accepted_residual: "accepted it as residual",
};

function target(t) {
  if (!t || (!t.section_id && !t.source_id)) return "the packet as a whole";
  return t.section_id ? `section ${t.section_id}` : `source ${t.source_id}`;
}

// The objection ledger: every objection and everything that happened to it.
export function ledgerDocument(data) {
  const items = asList(data && data.items);
  if (!items.length) return h("p", { class: "empty" }, "No objections were ever raised on this packet.");
  return h(
    "div",
    { class: "doc-page", "data-testid": "ledger-document" },
    items.map((o) =>
      h(
        "article",
        { class: "ledger-entry", "data-testid": "ledger-entry" },
        h("h3", {}, `Objection ${o.id} `, badge(o.state)),
        h("p", { class: "muted" }, `On ${target(o.target)}, raised by ${o.raised_by || "?"} on ${when(o.raised_at)} (packet version ${o.version ?? "?"}).`),
        h("blockquote", {}, o.text),
        o.resolution ? h("p", {}, h("strong", {}, "Resolution: "), o.resolution) : null,
        asList(o.history).length
          ? h(
              "ol",
              { class: "ledger-history" },
              asList(o.history).map((e) => {
                const { action, by, actor_kind: kind, at, version, ...rest } = e;
                const extra = Object.entries(rest).filter(([, v]) => v !== null && v !== undefined && v !== "");
                return h(
                  "li",
                  {},
                  h("time", { datetime: String(at || "") }, when(at)),
                  " ",
                  h("strong", {}, by || "?"),
                  kind === "agent" ? " (agent)" : "",
                  ` ${ACTION_WORDS[action] || keyWords(action || "").toLowerCase()}`,
                  version !== undefined ? h("span", { class: "muted" }, ` · packet version ${version}`) : null,
                  extra.map(([k, v]) => h("div", { class: "ledger-detail" }, h("span", { class: "muted" }, `${keyWords(k)}: `), typeof v === "object" ? docValue(v, k) : String(v))),
                );
              }),
            )
          : null,
      ),
    ),
    rawJson(data),
  );
}
