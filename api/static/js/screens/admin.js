// The admin's home: people (add one; the token is shown once) and intake
// lanes (create one with members and kinds; change its members).

import { api, errorBox } from "../core/api.js";
import { flash, openForm, openInfo } from "../core/dialogs.js";
import { lanes, userOption, users } from "../core/directory.js";
import { h, view } from "../core/dom.js";

const ROLE_OPTIONS = [
  { value: "admin", label: "admin" },
  { value: "auditor", label: "auditor" },
  { value: "agent", label: "agent (a service account)" },
];

export async function renderAdmin() {
  const body = h("div", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, "Users and lanes")));
  view().replaceChildren(body);
  let people;
  let laneItems;
  try {
    [people, laneItems] = await Promise.all([users(), lanes()]);
  } catch (err) {
    body.append(errorBox(err));
    return;
  }
  body.append(
    h(
      "section",
      { class: "group", "data-testid": "admin-users" },
      h("div", { class: "col-head" }, h("h2", { class: "sub" }, "Users"), h("button", { type: "button", class: "primary", "data-testid": "add-user", onclick: () => addUserDialog() }, "Add user")),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table", "data-testid": "user-list" },
          h("thead", {}, h("tr", {}, h("th", {}, "User id"), h("th", {}, "Name"), h("th", {}, "Roles"))),
          h("tbody", {}, people.map((u) => h("tr", {}, h("td", {}, u.user_id), h("td", {}, u.name), h("td", {}, (u.roles || []).join(", ") || "—")))),
        ),
      ),
    ),
    h(
      "section",
      { class: "group", "data-testid": "admin-lanes" },
      h("div", { class: "col-head" }, h("h2", { class: "sub" }, "Intake lanes"), h("button", { type: "button", class: "primary", "data-testid": "create-lane", onclick: () => createLaneDialog(people) }, "Create lane")),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table", "data-testid": "lane-list" },
          h("thead", {}, h("tr", {}, h("th", {}, "Lane"), h("th", {}, "Accepts kinds"), h("th", {}, "Members"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
          h(
            "tbody",
            {},
            laneItems.map((l) =>
              h(
                "tr",
                {},
                h("td", {}, h("strong", {}, l.title), h("div", { class: "muted small" }, l.id)),
                h("td", {}, (l.accepts_kinds || []).join(", ")),
                h("td", {}, (l.members || []).join(", ") || "—"),
                h("td", {}, h("button", { type: "button", class: "ghost small", onclick: () => membersDialog(l, people) }, "Change members")),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function addUserDialog() {
  openForm({
    title: "Add a user",
    note: "Their bearer token is shown once, here: hand it over privately. A signing passphrase is set with `quire users add --passphrase-stdin`.",
    submitLabel: "Add user",
    fields: [
      { name: "user_id", label: "User id", required: true, placeholder: "maya.chen" },
      { name: "name", label: "Name", required: true, placeholder: "Maya Chen" },
      { name: "roles", label: "Roles (none: a member who works on packets and lanes)", type: "multiselect", options: ROLE_OPTIONS },
    ],
    onSubmit: async (v) => {
      const created = await api("POST", "/v1/users", { user_id: v.user_id.trim(), name: v.name.trim(), roles: v.roles });
      setTimeout(() => {
        openInfo(
          `Token of ${created.user_id}`,
          h("div", {}, h("p", {}, "Shown once. Copy it now:"), h("code", { class: "hash-full", "data-testid": "new-token" }, created.token)),
        );
        document.querySelector("#form-dialog").addEventListener("close", () => renderAdmin(), { once: true });
      }, 0);
    },
  });
}

function createLaneDialog(people) {
  openForm({
    title: "Create an intake lane",
    submitLabel: "Create lane",
    fields: [
      { name: "id", label: "Lane id", required: true, placeholder: "account-governance-review" },
      { name: "title", label: "Title", required: true },
      { name: "accepts_kinds", label: "Accepted packet kinds (comma separated)", required: true, placeholder: "service-credit-clarification" },
      { name: "members", label: "Members", type: "multiselect", options: people.filter((u) => u.kind === "human").map(userOption) },
    ],
    onSubmit: async (v) => {
      await api("POST", "/v1/lanes", {
        id: v.id.trim(),
        title: v.title.trim(),
        members: v.members,
        accepts_kinds: v.accepts_kinds.split(",").map((k) => k.trim()).filter(Boolean),
      });
      flash(`Lane ${v.id.trim()} created`, "ok");
      renderAdmin();
    },
  });
}

function membersDialog(lane, people) {
  openForm({
    title: `Members of ${lane.title}`,
    note: "A new audience supersedes every release in force in this lane.",
    submitLabel: "Change members",
    fields: [{ name: "members", label: "Members", type: "multiselect", options: people.filter((u) => u.kind === "human").map(userOption), value: lane.members || [] }],
    onSubmit: async (v) => {
      await api("POST", `/v1/lanes/${encodeURIComponent(lane.id)}/members`, { members: v.members });
      flash(`Members of ${lane.id} changed`, "ok");
      renderAdmin();
    },
  });
}
