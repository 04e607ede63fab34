// What the pickers offer, from the API (GET /v1/users, GET /v1/directory/lanes),
// and what the signed-in user may do (GET /v1/packets/{id}/permissions).

import { api } from "./api.js";
import { session } from "./state.js";

export async function users() {
  const data = await api("GET", "/v1/users");
  return (data && data.items) || [];
}

export async function lanes() {
  const data = await api("GET", "/v1/directory/lanes");
  return (data && data.items) || [];
}

export const userOption = (u) => ({ value: u.user_id, label: `${u.name} (${u.user_id})${u.kind === "agent" ? " · agent" : ""}` });

// {role, actions: {action: bool}} for one packet: every key of the server's
// role table (workspace/policy.py RULES), decided by the server.
export async function permissions(packetId) {
  return api("GET", `/v1/packets/${encodeURIComponent(packetId)}/permissions`);
}

// Opening a packet is not a per-packet rule: the server refuses agents and
// auditors (workspace/application.py open_packet).
export function mayOpenPackets(me = session.me) {
  return Boolean(me && !me.is_agent && !me.is_auditor);
}

// The part the signed-in user plays, for the header badge.
export function accountRoles(me = session.me) {
  if (!me) return [];
  const roles = [...(me.roles || [])];
  if ((me.lanes || []).length) roles.push("lane member");
  return roles;
}
