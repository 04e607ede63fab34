// Quire web UI: ES modules, no build step. This file is the router.
//
// Talks only to the public contract (shared/API.md): HTTP JSON under /v1 with a
// bearer token, and the websocket /v1/packets/{id}/live. Where a route is not on
// the server yet, the page says so instead of breaking.
//
// Where things are: core/ (session state, API client, live channel, dialogs,
// text ops, diffs), screens/ (one file, or one folder, per screen), editors/
// (the packet's content editors; sections is the first).

import { $ } from "./core/dom.js";
import { loadIdentity, signOut } from "./core/identity.js";
import { applyOps, diffOps, mapCaret, touchInput, transformOps, userOps } from "./core/ops.js";
import { hooks, session, TOKEN_KEY } from "./core/state.js";
import { renderAdmin } from "./screens/admin.js";
import { renderInbox } from "./screens/lane.js";
import { PacketPage } from "./screens/packet/page.js";
import { renderPacketList } from "./screens/packets.js";
import { renderSignIn } from "./screens/signin.js";

let current = null; // the open packet page, closed on navigation

function route() {
  if (current) {
    current.close();
    current = null;
  }
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("[data-nav]")) {
    const here = parts[0] || (session.me && session.me.is_admin ? "admin" : "packets");
    a.classList.toggle("active", a.dataset.nav === here);
    if (a.dataset.nav === here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!session.token) return renderSignIn();
  if (parts[0] === "packets" && parts[1]) {
    current = new PacketPage(parts[1]);
    return current.open();
  }
  if (parts[0] === "inbox") return renderInbox(parts[1] || "", parts[2] || "");
  if (parts[0] === "admin" && session.me && session.me.is_admin) return renderAdmin();
  if (!parts.length && session.me && session.me.is_admin) return renderAdmin(); // the admin's home
  return renderPacketList();
}

async function start() {
  hooks.route = route;
  hooks.signOut = signOut;
  $("#sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  if (session.token) {
    try {
      await loadIdentity();
    } catch (err) {
      session.token = "";
      sessionStorage.removeItem(TOKEN_KEY);
      renderSignIn(err);
      return;
    }
  }
  route();
}

// Exposed for the end-to-end test and for debugging in the console.
window.quire = { transformOps, applyOps, diffOps, mapCaret, userOps, touchInput };

start();
