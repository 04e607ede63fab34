// The packets screen: each person's home for packet work. Co-authors see
// their packets; reviewers what awaits their review; release owners what
// awaits their signature (open releases of packets they own); auditors every
// packet, searchable. A lane member with no packets is sent to their inbox.

import { api, errorBox } from "../core/api.js";
import { openForm } from "../core/dialogs.js";
import { lanes, mayOpenPackets, userOption, users } from "../core/directory.js";
import { badge, h, view } from "../core/dom.js";
import { session } from "../core/state.js";

const OPEN_RELEASE = new Set(["pending", "held"]);

function roleOn(p, me) {
  if (p.release_owner === me.user_id) return "owner";
  if ((p.authors || []).includes(me.user_id)) return me.is_agent ? "agent" : "co-author";
  if ((p.reviewers || []).includes(me.user_id)) return "reviewer";
  return me.is_auditor ? "auditor" : "";
}

function packetTable(items, testid, me) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table", "data-testid": testid },
      h("thead", {}, h("tr", {}, h("th", {}, "Title"), h("th", {}, "Kind"), h("th", {}, "Release owner"), h("th", {}, "Your role"), h("th", {}, "Version"), h("th", {}, "Status"))),
      h(
        "tbody",
        {},
        items.map((p) =>
          h(
            "tr",
            { class: "row-link", onclick: () => (location.hash = `#/packets/${encodeURIComponent(p.id)}`) },
            h("td", {}, h("a", { href: `#/packets/${encodeURIComponent(p.id)}` }, p.title)),
            h("td", {}, p.kind),
            h("td", {}, p.release_owner),
            h("td", {}, roleOn(p, me)),
            h("td", { class: "num" }, p.version),
            h("td", {}, p.status ? badge(p.status) : h("span", { class: "muted", title: "this server does not report a packet status" }, "—")),
          ),
        ),
      ),
    ),
  );
}

function group(title, testid, items, me, empty) {
  return h(
    "section",
    { class: "group", "data-testid": testid },
    h("h2", { class: "sub" }, title, " ", h("span", { class: "count" }, String(items.length))),
    items.length ? packetTable(items, "packet-list", me) : h("p", { class: "empty" }, empty),
  );
}

export async function renderPacketList() {
  const me = session.me || {};
  // The route this render is for: once the user has gone elsewhere while
  // the list was read, this render neither redirects nor shows anything.
  const route = location.hash;
  const body = h("div", { class: "page" });
  const header = h(
    "div",
    { class: "page-head" },
    h("h1", {}, "Packets"),
    mayOpenPackets(me)
      ? h("button", { class: "primary", type: "button", onclick: newPacketDialog, "data-testid": "new-packet" }, "New packet")
      : null,
  );
  body.append(header);
  view().replaceChildren(body);
  let items;
  try {
    const data = await api("GET", "/v1/packets");
    items = (data && data.items) || [];
  } catch (err) {
    body.append(errorBox(err));
    return;
  }
  if (location.hash !== route) return;
  const mine = items.filter((p) => roleOn(p, me) && roleOn(p, me) !== "auditor");
  if (!mine.length && !me.is_auditor && (me.lanes || []).length) {
    // A lane member's work is their inbox.
    location.replace(`#/inbox/${encodeURIComponent(me.lanes[0])}`);
    return;
  }
  if (me.is_auditor) {
    body.append(auditorHistory(items, me));
    return;
  }
  if (!items.length) {
    body.append(
      h(
        "p",
        { class: "empty" },
        mayOpenPackets(me) ? "No packets you may see yet. Open one with “New packet”." : "No packets you may see yet.",
      ),
    );
    return;
  }
  const sign = items.filter((p) => roleOn(p, me) === "owner" && OPEN_RELEASE.has(p.status));
  const review = items.filter((p) => roleOn(p, me) === "reviewer");
  const authoring = items.filter((p) => ["owner", "co-author", "agent"].includes(roleOn(p, me)));
  if (sign.length) body.append(group("Awaiting your signature", "awaiting-signature", sign, me, ""));
  if (review.length) body.append(group("Awaiting your review", "awaiting-review", review, me, ""));
  if (authoring.length || !review.length) {
    body.append(group("Your packets", "your-packets", authoring, me, "You co-author no packet yet."));
  }
}

// Every packet, with a search over title, kind, owner, people and status.
function auditorHistory(items, me) {
  const search = h("input", { id: "packet-search", type: "search", placeholder: "title, kind, person, status…", "data-testid": "packet-search" });
  const slot = h("div");
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const hits = items.filter((p) =>
      !q ||
      [p.title, p.kind, p.release_owner, p.status, p.id, ...(p.authors || []), ...(p.reviewers || [])]
        .filter(Boolean)
        .some((x) => String(x).toLowerCase().includes(q)),
    );
    slot.replaceChildren(hits.length ? packetTable(hits, "packet-list", me) : h("p", { class: "empty" }, "No packet matches."));
  };
  search.addEventListener("input", show);
  show();
  return h(
    "section",
    { class: "group", "data-testid": "audit-history" },
    h("h2", { class: "sub" }, "Every packet (read only: your reads are recorded)"),
    h("div", { class: "field" }, h("label", { for: "packet-search" }, "Search packets"), search),
    slot,
  );
}

async function newPacketDialog() {
  let everyone = [];
  let kinds = [];
  try {
    everyone = await users();
    kinds = [...new Set((await lanes()).flatMap((l) => l.accepts_kinds || []))].sort();
  } catch {
    // The pickers stay empty; the server still checks every name.
  }
  const people = everyone.filter((u) => u.kind === "human");
  const me = session.me ? session.me.user_id : "";
  openForm({
    title: "New packet",
    submitLabel: "Create packet",
    fields: [
      { name: "title", label: "Title", required: true, placeholder: "Service-credit calculation clarification packet" },
      kinds.length
        ? { name: "kind", label: "Kind", type: "select", options: kinds.map((k) => ({ value: k, label: k })), value: kinds[0], hint: "The kinds the lanes accept." }
        : { name: "kind", label: "Kind", required: true, value: "clarification", hint: "The lane must accept this kind." },
      { name: "release_owner", label: "Release owner", type: "select", options: people.map(userOption), value: me },
      { name: "authors", label: "Co-authors", type: "multiselect", options: everyone.map(userOption).filter((o) => o.value !== me), hint: "Agents listed here may propose suggestions." },
      { name: "reviewers", label: "Reviewers", type: "multiselect", options: people.map(userOption).filter((o) => o.value !== me) },
    ],
    onSubmit: async (v) => {
      const created = await api("POST", "/v1/packets", {
        kind: v.kind.trim(),
        title: v.title.trim(),
        release_owner: v.release_owner,
        authors: v.authors,
        reviewers: v.reviewers,
      });
      location.hash = `#/packets/${encodeURIComponent(created.id)}`;
    },
  });
}
