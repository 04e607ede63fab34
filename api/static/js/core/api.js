// The HTTP client: JSON under /v1 with the session's bearer token; errors
// come back as ApiError with the server's stable code.

import { h, holdReasons } from "./dom.js";
import { hooks, session } from "./state.js";

export class ApiError extends Error {
  constructor(status, code, message, details, method, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.method = method;
    this.path = path;
  }

  // A route the server does not have yet (as opposed to an unknown packet,
  // which comes with a domain code such as PACKET_NOT_FOUND).
  get missingRoute() {
    return (
      (this.status === 404 && this.code === "NOT_FOUND" && this.message === "Not Found") ||
      this.status === 405
    );
  }

  describe() {
    if (this.missingRoute) {
      return `Not available on this server yet: ${this.method} ${this.path} is not implemented.`;
    }
    return `${this.code}: ${this.message}`;
  }
}
// Numbers as their exact digits (JSON.rawJSON: "99.428763", "2400.00"),
// for figures that must not pass through a float (worksheets, manifests).
export function exactReviver(key, value, context) {
  if (typeof value === "number" && context && typeof context.source === "string" && typeof JSON.rawJSON === "function") {
    return JSON.rawJSON(context.source);
  }
  return value;
}

export function parseExact(text) {
  return JSON.parse(text, exactReviver);
}

// How a value read with parseExact is written: its exact digits.
export function exact(value) {
  if (value && typeof value === "object" && "rawJSON" in value) return value.rawJSON;
  return value == null ? "" : String(value);
}

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "NETWORK", `the server did not answer (${err.message})`, {}, method, path);
  }
  const raw = await response.text();
  let data = null;
  try {
    data = raw ? (opts.exact ? parseExact(raw) : JSON.parse(raw)) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(
      response.status,
      e.code || `HTTP_${response.status}`,
      e.message || response.statusText || "request failed",
      e.details,
      method,
      path,
    );
    if (response.status === 401 && path !== "/v1/me") hooks.signOut(err.describe());
    throw err;
  }
  return data;
}

export function errorText(err) {
  return err instanceof ApiError ? err.describe() : String(err && err.message ? err.message : err);
}

export function errorBox(err) {
  const box = h("div", { class: "error", role: "alert", "data-testid": "error" });
  if (err instanceof ApiError && !err.missingRoute) {
    box.append(h("strong", { class: "code" }, err.code), " ", err.message);
    const reasons = err.details && err.details.hold_reasons;
    if (Array.isArray(reasons) && reasons.length) box.append(holdReasons(reasons));
    if (err.details && err.details.conflict_id) {
      box.append(h("div", {}, "Conflict id: ", h("code", {}, err.details.conflict_id)));
    }
  } else {
    box.append(errorText(err));
  }
  return box;
}
