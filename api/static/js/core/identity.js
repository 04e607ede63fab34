// Who is signed in: loaded from GET /v1/me, shown in the header.

import { api } from "./api.js";
import { accountRoles } from "./directory.js";
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
  // The account's roles (admin, auditor, agent, lane member); a packet's own
  // role (owner, co-author, reviewer) is shown on the packet.
  const roles = accountRoles(me);
  $("#who-roles").replaceChildren(...roles.map((r) => h("span", { class: "role", "data-testid": "account-role" }, r)));
  $("#nav-admin").hidden = !me.is_admin;
  $("#nav-inbox").hidden = !(me.lanes || []).length && !me.is_admin;
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
