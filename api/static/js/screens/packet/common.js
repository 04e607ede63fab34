// Small readings of a packet shared by its panels.

import { asList } from "../../core/dom.js";

export const shortType = (t) => String(t || "").split(/[.:]/).pop();

export function revNumber(r) {
  return r.revision ?? r.number;
}

export function packetStatus(p) {
  if (p.status) return p.status;
  const statuses = asList(p.releases).map((r) => r.status);
  for (const s of ["released", "held", "pending", "superseded"]) if (statuses.includes(s)) return s;
  return "draft";
}

