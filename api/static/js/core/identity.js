// Who is signed in: loaded from GET /v1/me, shown in the header.

import { api } from "./api.js";
import { flash } from "./dialogs.js";
import { $, h } from "./dom.js";
import { hooks, session, TOKEN_KEY } from "./state.js";

export function signOut(message) {
  session.token = "";
  session.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showIdentity();
  if (message) flash(message);
  hooks.route();
}

export function showIdentity() {
  const me = session.me;
  $("#whoami").hidden = !me;
  $("#topnav").hidden = !me;
  if (!me) return;
  $("#who-name").textContent = me.name ? `${me.name} (${me.user_id})` : me.user_id;
  $("#who-roles").replaceChildren(
    ...(me.roles && me.roles.length ? me.roles : ["member"]).map((r) => h("span", { class: "role" }, r)),
  );
}

export async function loadIdentity() {
  try {
    session.me = await api("GET", "/v1/me");
  } catch (err) {
    session.me = null;
    throw err;
  }
  showIdentity();
}
