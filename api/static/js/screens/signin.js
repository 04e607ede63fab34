import { errorBox } from "../core/api.js";
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
          if (!location.hash || location.hash === "#/") location.hash = "#/packets";
          else hooks.route();
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
      "Paste the bearer token that ",
      h("code", {}, "quire users add"),
      " printed for you. It is kept in this tab only.",
    ),
    h("label", { for: "token" }, "Bearer token"),
    input,
    errSlot,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Sign in")),
  );
  view().replaceChildren(form);
  input.focus();
}
