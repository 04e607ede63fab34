// Revision diffs (GET /v1/packets/{id}/revisions/{a}/diff/{b}) as a view.

import { asList, badge, h, jsonBlock } from "./dom.js";
import { wordDiffView } from "./worddiff.js";

export function fromTo(value) {
  if (value && typeof value === "object" && ("from" in value || "to" in value)) {
    if (value.from === value.to || value.from == null) return String(value.to ?? "");
    if (value.to == null) return String(value.from);
    return `${value.from} → ${value.to}`;
  }
  return value == null ? "" : String(value);
}

export function diffView(data) {
  const items = asList((data && (data.sections || data.items)) || []);
  if (!items.length) return jsonBlock(data);
  const lineClass = (line) => {
    if (line.startsWith("+++") || line.startsWith("---")) return "meta";
    if (line.startsWith("@@")) return "hunk";
    if (line.startsWith("+")) return "add";
    if (line.startsWith("-")) return "del";
    return "";
  };
  const listed = (label, group) => {
    if (!group || typeof group !== "object") return null;
    const parts = ["added", "removed", "changed"]
      .filter((k) => asList(group[k]).length)
      .map((k) => `${k}: ${asList(group[k]).map((x) => (typeof x === "object" ? x.id || x.source_id || x.prerequisite_id || JSON.stringify(x) : x)).join(", ")}`);
    return parts.length ? h("p", {}, h("strong", {}, `${label} `), parts.join(" · ")) : null;
  };
  const title = data.title ? fromTo(data.title) : "";
  return h(
    "div",
    { class: "diff" },
    title && data.title.from !== data.title.to ? h("p", {}, h("strong", {}, "Title "), title) : null,
    items.map((s) => {
      const text = s.diff || s.unified || s.patch || "";
      return h(
        "section",
        { class: "diff-section" },
        h("h3", {}, fromTo(s.heading) || s.section_id || s.id || "", " ", h("code", { class: "sid" }, s.section_id || s.id || ""), " ", badge(s.change || (text ? "changed" : "unchanged"))),
        text ? h("pre", { class: "unified" }, String(text).split("\n").map((line) => h("span", { class: lineClass(line) }, `${line}\n`))) : null,
      );
    }),
    listed("Sources", data.sources),
    listed("Prerequisites", data.prerequisites),
  );
}

// Sections of two packet states word by word: `before` and `after` are
// packets (or revision contents) with `sections: [{id, heading, text}]`;
// `changes` (optional) is the server's per-section classification from the
// revision diff, whose order and `change` are kept.
export function wordDiffSections(before, after, changes) {
  const old = new Map(asList(before && before.sections).map((s) => [s.id, s]));
  const now = new Map(asList(after && after.sections).map((s) => [s.id, s]));
  const order = changes
    ? asList(changes).map((c) => ({ id: c.section_id || c.id, change: c.change }))
    : [...now.keys(), ...[...old.keys()].filter((id) => !now.has(id))].map((id) => {
        const a = old.get(id);
        const b = now.get(id);
        const change = !a ? "added" : !b ? "removed" : a.text !== b.text || a.heading !== b.heading ? "changed" : "unchanged";
        return { id, change };
      });
  const shown = order.filter((x) => x.change !== "unchanged");
  if (!shown.length) return h("p", { class: "empty", "data-testid": "no-changes" }, "No section changed.");
  return h(
    "div",
    { class: "diff" },
    shown.map(({ id, change }) => {
      const a = old.get(id);
      const b = now.get(id);
      const heading = a && b && a.heading !== b.heading ? `${a.heading} → ${b.heading}` : (b || a || {}).heading || id;
      return h(
        "section",
        { class: "diff-section", "data-testid": "diff-section" },
        h("h3", {}, heading, " ", h("code", { class: "sid" }, id), " ", badge(change)),
        wordDiffView(a ? a.text : "", b ? b.text : ""),
      );
    }),
  );
}
