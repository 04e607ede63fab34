import { api, errorBox } from "../core/api.js";
import { openForm } from "../core/dialogs.js";
import { badge, h, view } from "../core/dom.js";
import { session } from "../core/state.js";

export async function renderPacketList() {
  const body = h("div", { class: "page" });
  const header = h(
    "div",
    { class: "page-head" },
    h("h1", {}, "Packets"),
    h("button", { class: "primary", type: "button", onclick: newPacketDialog, "data-testid": "new-packet" }, "New packet"),
  );
  body.append(header);
  view().replaceChildren(body);
  try {
    const data = await api("GET", "/v1/packets");
    const items = (data && data.items) || [];
    if (!items.length) {
      body.append(h("p", { class: "empty" }, "No packets you may see yet. Open one with “New packet”."));
      return;
    }
    body.append(
      h(
        "table",
        { class: "table", "data-testid": "packet-list" },
        h("thead", {}, h("tr", {}, h("th", {}, "Title"), h("th", {}, "Kind"), h("th", {}, "Release owner"), h("th", {}, "Version"), h("th", {}, "Status"))),
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
              h("td", { class: "num" }, p.version),
              h("td", {}, p.status ? badge(p.status) : h("span", { class: "muted", title: "this server does not report a packet status" }, "—")),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    body.append(errorBox(err));
  }
}

function splitUsers(value) {
  return String(value || "")
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function newPacketDialog() {
  openForm({
    title: "New packet",
    submitLabel: "Create packet",
    fields: [
      { name: "title", label: "Title", required: true, placeholder: "Service-credit calculation clarification packet" },
      { name: "kind", label: "Kind", required: true, value: "clarification", hint: "The lane must accept this kind." },
      { name: "release_owner", label: "Release owner", required: true, value: session.me ? session.me.user_id : "" },
      { name: "authors", label: "Co-authors", placeholder: "user ids, comma separated" },
      { name: "reviewers", label: "Reviewers", placeholder: "user ids, comma separated" },
    ],
    onSubmit: async (v) => {
      const created = await api("POST", "/v1/packets", {
        kind: v.kind.trim(),
        title: v.title.trim(),
        release_owner: v.release_owner.trim(),
        authors: splitUsers(v.authors),
        reviewers: splitUsers(v.reviewers),
      });
      location.hash = `#/packets/${encodeURIComponent(created.id)}`;
    },
  });
}
