import { api, errorBox } from "../core/api.js";
import { h, view } from "../core/dom.js";
import { loadIdentity } from "../core/identity.js";
import { hooks, session, TOKEN_KEY } from "../core/state.js";

export function renderSignIn(error) {
  const input = h("input", {
    id: "token",
    type: "password",
    placeholder: "qt_…",
    autocomplete: "off",
    "aria-label": "Bearer token",
    required: true,
  });
  const errSlot = h("div");
  if (error) errSlot.append(errorBox(error));
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (ev) => {
        ev.preventDefault();
        session.token = input.value.trim();
        try {
          await loadIdentity();
          sessionStorage.setItem(TOKEN_KEY, session.token);
          hooks.route(); // the hash, or this person's home
        } catch (err) {
          session.token = "";
          errSlot.replaceChildren(errorBox(err));
        }
      },
    },
    h("h1", {}, "Sign in to Quire"),
    h(
      "p",
      { class: "muted" },
      "Paste your bearer token. An admin creates it with ",
      h("code", {}, "quire users add USER_ID --name NAME"),
      " (or on the Admin page), or issues a new one with ",
      h("code", {}, "quire users token USER_ID"),
      ". It is kept in this tab only.",
    ),
    h("label", { for: "token" }, "Bearer token"),
    input,
    errSlot,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Sign in")),
  );
  view().replaceChildren(form);
  demoPeople(form);
  input.focus();
}

// On a demo server (`quire serve --demo` on this machine) the demo's people
// are offered with the part each plays; one click signs in as them.
async function demoPeople(card) {
  let config;
  try {
    config = await api("GET", "/v1/ui-config");
  } catch {
    return;
  }
  if (!config || !config.demo || !(config.people || []).length) return;
  card.after(
    h(
      "section",
      { class: "card demo", "data-testid": "demo-people" },
      h("h2", {}, "Demo: sign in as"),
      h("p", { class: "muted" }, "This server runs the demo. Pick a person to see Quire as they do."),
      h(
        "ul",
        { class: "demo-people" },
        config.people.map((p) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "ghost",
                "data-user": p.user_id,
                onclick: async () => {
                  const answer = await api("POST", "/v1/demo/sign-in", { user_id: p.user_id });
                  session.token = answer.token;
                  await loadIdentity();
                  sessionStorage.setItem(TOKEN_KEY, session.token);
                  hooks.route();
                },
              },
              h("strong", {}, p.name),
              h("span", { class: "muted small" }, ` ${p.user_id}`),
            ),
            h("div", { class: "muted small" }, (p.parts || []).join(" · ") || "no part yet"),
          ),
        ),
      ),
    ),
  );
}
