// Quire web UI: one ES module, no build step.
//
// Talks only to the public contract (shared/API.md): HTTP JSON under /v1 with a
// bearer token, and the websocket /v1/packets/{id}/live. Where a route is not on
// the server yet, the page says so instead of breaking.
//
// Live editing follows the server's rules (workspace/rebase.py): positions are
// Unicode code points; one edit per section is in flight at a time; incoming
// edits of other co-authors are transformed over the local unsent text, so
// typing is never clobbered; an overlap is surfaced, never dropped.

const TOKEN_KEY = "quire.token";
const EDIT_DEBOUNCE_MS = 250;
// Live-channel close codes after which reconnecting cannot help.
const FINAL_CLOSE_CODES = new Set([4400, 4403, 4404]);
const POLL_MS = 4000;
const ACK_GRACE_MS = 3000;
// Presence lapses on the server when a socket stays silent (30 s by default).
const HEARTBEAT_MS = 10000;

// ----------------------------------------------------------------- elements
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

function badge(status) {
  const s = String(status || "draft").toLowerCase();
  return h("span", { class: `badge badge-${s.replace(/[^a-z_-]/g, "")}`, "data-testid": "status" }, s);
}

function shortHash(hash) {
  if (!hash) return "";
  const s = String(hash);
  const bare = s.includes(":") ? s.split(":").pop() : s;
  return bare.length > 14 ? `${bare.slice(0, 12)}…` : bare;
}

function hashEl(hash) {
  return h("code", { class: "hash", title: String(hash || "") }, shortHash(hash));
}

function when(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

function asList(value) {
  if (!value) return [];
  return Array.isArray(value) ? value : Object.values(value);
}

// --------------------------------------------------------------------- API
class ApiError extends Error {
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

const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  me: null,
};

async function api(method, path, body) {
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
    data = raw ? JSON.parse(raw) : null;
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
    if (response.status === 401 && path !== "/ui/me") signOut(err.describe());
    throw err;
  }
  return data;
}

function errorText(err) {
  return err instanceof ApiError ? err.describe() : String(err && err.message ? err.message : err);
}

function errorBox(err) {
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

let flashTimer = null;
function flash(message, kind = "error") {
  const el = $("#flash");
  el.replaceChildren(message instanceof Node ? message : document.createTextNode(message));
  el.className = `flash flash-${kind}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (el.hidden = true), kind === "error" ? 9000 : 3500);
}

function flashError(err) {
  flash(errorText(err), "error");
}

// ------------------------------------------------------------------ dialogs
// One reusable <dialog> with a form built from a field list; the submit
// handler's errors are shown inside it and the dialog stays open.
function openForm({ title, note, fields, submitLabel = "Save", onSubmit }) {
  const dialog = $("#form-dialog");
  const form = $("#form-dialog-form");
  $("#form-dialog-title").textContent = title;
  const noteEl = $("#form-dialog-note");
  noteEl.hidden = !note;
  noteEl.replaceChildren(note ? (note instanceof Node ? note : document.createTextNode(note)) : "");
  const errEl = $("#form-dialog-error");
  errEl.hidden = true;
  errEl.replaceChildren();
  const box = $("#form-dialog-fields");
  box.replaceChildren();
  const inputs = {};
  for (const f of fields) {
    let input;
    const id = `f-${f.name}`;
    if (f.type === "textarea") {
      input = h("textarea", { id, name: f.name, rows: f.rows || 4, placeholder: f.placeholder || "" });
      input.value = f.value ?? "";
    } else if (f.type === "select") {
      input = h(
        "select",
        { id, name: f.name },
        (f.options || []).map((o) => h("option", { value: o.value }, o.label)),
      );
      if (f.value !== undefined) input.value = f.value;
    } else if (f.type === "checkbox") {
      input = h("input", { id, name: f.name, type: "checkbox" });
      input.checked = Boolean(f.value);
    } else {
      input = h("input", {
        id,
        name: f.name,
        type: f.type || "text",
        placeholder: f.placeholder || "",
        autocomplete: f.type === "password" ? "current-password" : "off",
      });
      input.value = f.value ?? "";
    }
    if (f.required) input.required = true;
    inputs[f.name] = input;
    const label = h("label", { for: id }, f.label);
    box.append(
      h("div", { class: `field field-${f.type || "text"}` }, label, input, f.hint ? h("small", {}, f.hint) : null),
    );
  }
  $("#form-dialog-ok").textContent = submitLabel;
  $("#form-dialog-ok").hidden = !onSubmit;
  $("#form-dialog-cancel").textContent = onSubmit ? "Cancel" : "Close";

  const values = () => {
    const out = {};
    for (const f of fields) {
      const input = inputs[f.name];
      out[f.name] = f.type === "checkbox" ? input.checked : input.value;
    }
    return out;
  };
  const close = () => {
    form.onsubmit = null;
    dialog.close();
  };
  $("#form-dialog-cancel").onclick = close;
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (!onSubmit) return close();
    const ok = $("#form-dialog-ok");
    ok.disabled = true;
    errEl.hidden = true;
    try {
      await onSubmit(values());
      close();
    } catch (err) {
      errEl.replaceChildren(errorBox(err));
      errEl.hidden = false;
    } finally {
      ok.disabled = false;
    }
  };
  dialog.showModal();
  const first = fields.length ? inputs[fields[0].name] : $("#form-dialog-cancel");
  first.focus();
}

function openInfo(title, content) {
  openForm({ title, note: content, fields: [] });
}

// ------------------------------------------------------------ text and ops
// Server positions are code points; JS strings are UTF-16. Work on arrays.
const cps = (s) => Array.from(s);
const cpLen = (s) => Array.from(s).length;

function applyOps(text, ops) {
  const chars = cps(text);
  const out = [];
  let cursor = 0;
  for (const op of ops) {
    if (op.at < cursor || op.at + op.delete > chars.length) throw new Error("ops do not fit the text");
    out.push(chars.slice(cursor, op.at).join(""), op.insert);
    cursor = op.at + op.delete;
  }
  out.push(chars.slice(cursor).join(""));
  return out.join("");
}

// The smallest single replacement turning `a` into `b`.
function diffOps(a, b) {
  if (a === b) return [];
  const x = cps(a);
  const y = cps(b);
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let s = 0;
  while (s < x.length - p && s < y.length - p && x[x.length - 1 - s] === y[y.length - 1 - s]) s++;
  return [{ at: p, delete: x.length - p - s, insert: y.slice(p, y.length - s).join("") }];
}

// What the user replaced since `base`, as one op turning `base` into `local`:
// the smallest such replacement, widened to cover every range the user's
// inputs replaced (`touched`: code points kept untouched at the start, and at
// the end). Replacing a word by one that starts or ends like it stays a
// replacement of the whole word, as the user did it: two such replacements of
// the same word overlap, and the server records the second as a conflict
// instead of merging two inserts into a blend.
function userOps(base, local, touched) {
  const ops = diffOps(base, local);
  if (!ops.length || !touched) return ops;
  const [op] = ops;
  const x = cps(base);
  const suffix = x.length - op.at - op.delete;
  const at = Math.min(op.at, touched.start);
  const tail = Math.min(suffix, touched.tail);
  const y = cps(local);
  return [{ at, delete: x.length - at - tail, insert: y.slice(at, y.length - tail).join("") }];
}

// Widens `touched` (see userOps) by one input that turned `before` into
// `after`, with the selection (code points) it replaced.
function touchInput(touched, before, after, selStart, selEnd) {
  const [op] = diffOps(before, after);
  let start = op ? op.at : selStart;
  let end = op ? op.at + op.delete : selStart;
  if (selEnd > selStart) {
    start = Math.min(start, selStart);
    end = Math.max(end, selEnd);
  }
  const tail = cpLen(before) - end;
  if (!touched) return { start, tail };
  return { start: Math.min(touched.start, start), tail: Math.min(touched.tail, tail) };
}

// `ops` and `against` are changesets on the same text; returns `ops` rebased onto
// the text after `against`, or null when they touch the same replaced text.
// With againstFirst, an insert of `against` at our insert's position goes first
// (the server's rule for a later edit); without it, ours goes first.
function transformOps(ops, against, againstFirst) {
  const out = [];
  let j = 0;
  let shift = 0;
  for (const op of ops) {
    if (op.delete === 0 && op.insert === "") continue;
    const start = op.at;
    const end = op.at + op.delete;
    const pureInsert = op.delete === 0;
    while (j < against.length) {
      const t = against[j];
      const tEnd = t.at + t.delete;
      const tieInsert = tEnd === start && t.delete === 0 && pureInsert && t.at === start;
      if (!(tEnd < start || (tEnd === start && (!tieInsert || againstFirst)))) break;
      shift += cpLen(t.insert) - t.delete;
      j++;
    }
    const next = j < against.length ? against[j] : null;
    let at = start + shift;
    if (pureInsert) {
      if (next && next.at < start) return null;
      if (next && next.at === start && againstFirst) at += cpLen(next.insert);
    } else if (next && next.at < end) {
      return null;
    }
    const last = out[out.length - 1];
    if (last && last.delete === 0 && op.delete === 0 && last.at === at) {
      last.insert += op.insert;
      continue;
    }
    out.push({ at, delete: op.delete, insert: op.insert });
  }
  return out;
}

// Moves a caret (code points) through ops applied by someone else.
function mapCaret(pos, ops) {
  let shift = 0;
  for (const op of ops) {
    const end = op.at + op.delete;
    if (end <= pos && !(op.delete === 0 && op.at === pos)) {
      shift += cpLen(op.insert) - op.delete;
    } else if (op.at < pos && pos < end) {
      return op.at + shift + cpLen(op.insert);
    }
  }
  return pos + shift;
}

const toCp = (s, utf16) => cpLen(s.slice(0, utf16));
const toUtf16 = (s, cp) => cps(s).slice(0, cp).join("").length;

function newClientId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// ------------------------------------------------------------------ routing
const view = () => $("#view");
let current = null; // the open packet page, closed on navigation

function route() {
  if (current) {
    current.close();
    current = null;
  }
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (parts[0] || "packets"));
  }
  if (!session.token) return renderSignIn();
  if (parts[0] === "packets" && parts[1]) {
    current = new PacketPage(parts[1]);
    return current.open();
  }
  if (parts[0] === "inbox") return renderInbox(parts[1] || "", parts[2] || "");
  return renderPacketList();
}

// ------------------------------------------------------------------ sign in
function signOut(message) {
  session.token = "";
  session.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showIdentity();
  if (message) flash(message);
  route();
}

function showIdentity() {
  const me = session.me;
  $("#whoami").hidden = !me;
  $("#topnav").hidden = !me;
  if (!me) return;
  $("#who-name").textContent = me.name ? `${me.name} (${me.user_id})` : me.user_id;
  $("#who-roles").replaceChildren(
    ...(me.roles && me.roles.length ? me.roles : ["member"]).map((r) => h("span", { class: "role" }, r)),
  );
}

async function loadIdentity() {
  try {
    session.me = await api("GET", "/ui/me");
  } catch (err) {
    session.me = null;
    throw err;
  }
  showIdentity();
}

function renderSignIn(error) {
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
          else route();
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

// -------------------------------------------------------------- packet list
async function renderPacketList() {
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

// ------------------------------------------------------------- packet page
const shortType = (t) => String(t || "").split(/[.:]/).pop();

class PacketPage {
  constructor(id) {
    this.id = id;
    this.base = `/v1/packets/${encodeURIComponent(id)}`;
    this.packet = null;
    this.version = 0;
    this.sections = new Map(); // id -> section state
    this.clientId = newClientId();
    this.clientSeq = 0;
    this.ws = null;
    this.mode = "connecting"; // connecting | live | http | offline
    this.closed = false;
    this.presence = new Map(); // user -> {section_id, state}
    this.activity = [];
    this.retries = 0;
    this.everLive = false;
    this.pollTimer = null;
    this.panelTimer = null;
    this.reconnectTimer = null;
    this.heartbeat = null;
  }

  // ---------------------------------------------------------- lifecycle
  async open() {
    const root = h("div", { class: "page packet-page", "data-testid": "packet-page" }, h("p", { class: "muted" }, "Loading packet…"));
    view().replaceChildren(root);
    this.root = root;
    let packet;
    try {
      packet = await api("GET", this.base);
    } catch (err) {
      root.replaceChildren(
        h("div", { class: "page-head" }, h("h1", {}, "Packet"), h("a", { href: "#/packets" }, "← All packets")),
        errorBox(err),
      );
      return;
    }
    if (this.closed) return;
    this.packet = packet;
    this.version = packet.version;
    this.build();
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.panelTimer);
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    for (const sec of this.sections.values()) {
      clearTimeout(sec.timer);
      clearTimeout(sec.ackTimer);
    }
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
    }
  }

  // ---------------------------------------------------------- layout
  build() {
    const p = this.packet;
    this.titleEl = h("h1", { "data-testid": "packet-title" }, p.title);
    this.metaEl = h("div", { class: "packet-meta" });
    this.liveEl = h("span", { class: "live live-connecting", "data-testid": "live-status" }, "connecting…");
    this.presenceEl = h("div", { class: "presence-bar", "data-testid": "presence" });
    this.sectionsEl = h("div", { class: "sections", "data-testid": "sections" });
    this.panelsEl = h("aside", { class: "panels" });
    this.activityEl = h("ol", { class: "activity" });
    this.root.replaceChildren(
      h(
        "div",
        { class: "page-head" },
        h("div", {}, h("a", { class: "back", href: "#/packets" }, "← All packets"), this.titleEl, this.metaEl),
        h("div", { class: "head-side" }, this.liveEl, this.presenceEl),
      ),
      h(
        "div",
        { class: "packet-grid" },
        h(
          "section",
          { class: "main-col" },
          h(
            "div",
            { class: "col-head" },
            h("h2", {}, "Sections"),
            h("button", { type: "button", class: "primary", "data-testid": "add-section", onclick: () => this.addSectionDialog() }, "Add section"),
          ),
          this.sectionsEl,
          h("details", { class: "activity-box" }, h("summary", {}, "Live activity"), this.activityEl),
        ),
        this.panelsEl,
      ),
    );
    this.renderMeta();
    for (const s of p.sections || []) this.addSection(s, p.version);
    this.renderEmptySections();
    this.renderPanels();
  }

  renderMeta() {
    const p = this.packet;
    this.titleEl.textContent = p.title;
    const people = (label, list) =>
      h("span", { class: "meta-item" }, h("span", { class: "muted" }, `${label} `), (list || []).join(", ") || "—");
    this.metaEl.replaceChildren(
      h("span", { class: "meta-item" }, badge(packetStatus(p))),
      h("span", { class: "meta-item" }, h("span", { class: "muted" }, "kind "), p.kind),
      h("span", { class: "meta-item", "data-testid": "packet-version" }, h("span", { class: "muted" }, "version "), String(this.version)),
      h("span", { class: "meta-item" }, h("span", { class: "muted" }, "release owner "), h("strong", {}, p.release_owner)),
      people("co-authors", p.authors),
      people("reviewers", p.reviewers),
    );
  }

  setMode(mode, note) {
    this.mode = mode;
    const labels = {
      connecting: "connecting…",
      live: "live",
      http: "not live: saving over HTTP",
      offline: "offline, reconnecting…",
    };
    this.liveEl.className = `live live-${mode}`;
    this.liveEl.textContent = labels[mode] || mode;
    this.liveEl.title = note || "";
  }

  renderEmptySections() {
    const empty = $(".empty", this.sectionsEl);
    if (this.sections.size === 0 && !empty) {
      this.sectionsEl.append(h("p", { class: "empty" }, "No sections yet. Add the first one."));
    } else if (this.sections.size > 0 && empty) {
      empty.remove();
    }
  }

  // ---------------------------------------------------------- sections
  addSection(s, version) {
    if (this.sections.has(s.id)) return this.sections.get(s.id);
    const sec = {
      id: s.id,
      heading: s.heading,
      server: s.text || "",
      version,
      inflight: null,
      timer: null,
      ackTimer: null,
      blocked: null,
      touched: null,
      pre: null,
    };
    sec.textarea = h("textarea", {
      class: "section-text",
      rows: 6,
      "aria-label": `Text of ${s.heading}`,
      "data-testid": "section-text",
      spellcheck: true,
    });
    sec.textarea.value = sec.server;
    // What the user replaces (the selection typed or pasted over), so the
    // edit sent says what they did, not the smallest diff of its result.
    sec.textarea.addEventListener("beforeinput", () => {
      const ta = sec.textarea;
      sec.pre = { value: ta.value, start: toCp(ta.value, ta.selectionStart), end: toCp(ta.value, ta.selectionEnd) };
    });
    sec.textarea.addEventListener("input", () => {
      const pre = sec.pre;
      sec.pre = null;
      if (pre) sec.touched = touchInput(sec.touched, pre.value, sec.textarea.value, pre.start, pre.end);
      this.scheduleFlush(sec);
    });
    sec.textarea.addEventListener("focus", () => this.sendPresence(sec.id, "editing"));
    sec.textarea.addEventListener("blur", () => {
      this.sendPresence(sec.id, "viewing");
      this.flush(sec);
    });
    sec.headingEl = h("h3", { class: "section-heading", "data-testid": "section-heading" }, s.heading);
    sec.stateEl = h("span", { class: "save-state", "data-testid": "save-state" }, "saved");
    sec.presenceEl = h("span", { class: "section-presence" });
    sec.noticeEl = h("div", { class: "section-notice" });
    sec.el = h(
      "article",
      { class: "section card", "data-section-id": s.id, "data-testid": "section" },
      h(
        "header",
        {},
        sec.headingEl,
        h("code", { class: "sid" }, s.id),
        sec.presenceEl,
        h("span", { class: "spacer" }),
        sec.stateEl,
        h(
          "button",
          { type: "button", class: "ghost small", title: "Raise an objection on this section", onclick: () => this.raiseObjectionDialog({ section_id: s.id }) },
          "Object",
        ),
      ),
      sec.noticeEl,
      sec.textarea,
    );
    this.sections.set(s.id, sec);
    this.sectionsEl.append(sec.el);
    this.renderEmptySections();
    this.renderSectionPresence();
    return sec;
  }

  setSaveState(sec, state, text) {
    sec.stateEl.className = `save-state save-${state}`;
    sec.stateEl.textContent = text || state;
  }

  scheduleFlush(sec) {
    this.setSaveState(sec, "pending", "editing…");
    clearTimeout(sec.timer);
    sec.timer = setTimeout(() => this.flush(sec), EDIT_DEBOUNCE_MS);
  }

  // Sends the local unsent change of a section, one edit in flight at a time.
  flush(sec) {
    clearTimeout(sec.timer);
    if (this.closed || sec.inflight || sec.blocked) return;
    const ops = userOps(sec.server, sec.textarea.value, sec.touched);
    if (!ops.length) {
      this.setSaveState(sec, "saved", "saved");
      return;
    }
    const seq = ++this.clientSeq;
    const touched = sec.touched;
    sec.touched = null; // what is typed from here on is the next edit
    // `ops` follow the section's server text as other edits arrive; `sent` is
    // what went out, resent as it was after a reconnect (applied once).
    if (this.mode === "live") {
      // A section added by this page may be newer than the events seen so far.
      const base = Math.max(this.version, sec.version);
      sec.inflight = { seq, ops, sent: { ops, base } };
      this.sendOp(sec);
    } else if (this.mode === "http") {
      sec.inflight = { seq, ops, sent: { ops, base: sec.version } };
      this.sendHttp(sec);
    } else {
      this.clientSeq--;
      sec.touched = touched;
      this.setSaveState(sec, "pending", "waiting for connection…");
    }
  }

  sendOp(sec) {
    const f = sec.inflight;
    this.setSaveState(sec, "saving", "saving…");
    this.ws.send(
      JSON.stringify({
        type: "op",
        section_id: sec.id,
        base_version: f.sent.base,
        ops: f.sent.ops,
        client_id: this.clientId,
        client_seq: f.seq,
      }),
    );
  }

  async sendHttp(sec) {
    const f = sec.inflight;
    this.setSaveState(sec, "saving", "saving…");
    let result;
    try {
      result = await api("POST", `${this.base}/sections/${encodeURIComponent(sec.id)}/edits`, {
        base_version: f.sent.base,
        ops: f.sent.ops,
        client_id: this.clientId,
        client_seq: f.seq,
      });
    } catch (err) {
      sec.inflight = null;
      if (err instanceof ApiError && err.code === "EDIT_CONFLICT") {
        const mine = sec.textarea.value;
        await this.refreshTexts();
        this.block(sec, { conflictId: err.details.conflict_id, mine });
      } else {
        this.setSaveState(sec, "error", "not saved");
        flashError(err);
      }
      return;
    }
    if (this.closed) return;
    // What we expected, and what the server holds now: others' changes are
    // the difference, carried over the local text typed meanwhile.
    const expected = applyOps(sec.server, f.ops);
    sec.inflight = null;
    this.rebaseLocal(sec, expected, result.text, result.version, null);
    this.bumpVersion(result.version);
    this.flush(sec);
  }

  // The server text of a section changed from `before` (plus our in-flight
  // edit) to `after` by `theirs`, ops on `before` (or diffed when unknown).
  rebaseLocal(sec, before, after, version, by) {
    const local = sec.textarea.value;
    const theirs = diffOps(before, after);
    sec.server = after;
    sec.version = Math.max(sec.version, version);
    if (sec.blocked) {
      sec.textarea.value = after;
      return;
    }
    const unsent = userOps(before, local, sec.touched);
    const carried = transformOps(theirs, unsent, false);
    if (carried === null) {
      this.block(sec, { by, mine: local });
      return;
    }
    this.replaceLocal(sec, local, carried);
    if (!sec.inflight && sec.textarea.value === sec.server) this.setSaveState(sec, "saved", "saved");
  }

  // Applies someone else's ops to the textarea, keeping the caret in place.
  replaceLocal(sec, local, ops) {
    if (!ops.length) return;
    const ta = sec.textarea;
    const focused = document.activeElement === ta;
    const selStart = toCp(local, ta.selectionStart);
    const selEnd = toCp(local, ta.selectionEnd);
    const next = applyOps(local, ops);
    ta.value = next;
    if (sec.touched) {
      // The range the user replaced moves with the text around it.
      const end = mapCaret(cpLen(local) - sec.touched.tail, ops);
      sec.touched = { start: mapCaret(sec.touched.start, ops), tail: Math.max(0, cpLen(next) - end) };
    }
    if (focused) {
      ta.setSelectionRange(toUtf16(next, mapCaret(selStart, ops)), toUtf16(next, mapCaret(selEnd, ops)));
    }
    sec.el.classList.remove("remote-edit");
    void sec.el.offsetWidth; // restart the highlight animation
    sec.el.classList.add("remote-edit");
  }

  // Stops sending for a section whose local text overlaps an accepted edit:
  // the server's text is shown, the user's own version is kept beside it.
  block(sec, { conflictId, by, mine }) {
    sec.blocked = { conflictId, mine };
    sec.textarea.value = sec.server;
    sec.touched = null;
    sec.textarea.readOnly = true;
    this.setSaveState(sec, "conflict", conflictId ? `conflict ${conflictId}` : "overlap");
    const kept = h("textarea", { class: "kept", readOnly: true, rows: 4, "aria-label": "Your version" });
    kept.value = mine;
    const unblock = async (useMine) => {
      sec.blocked = null;
      sec.textarea.readOnly = false;
      sec.noticeEl.replaceChildren();
      if (useMine) sec.textarea.value = mine;
      this.flush(sec);
      if (!conflictId) return;
      // The recorded conflict is closed with what the co-author chose.
      const resolution = useMine
        ? "Kept my version: sent again as a new edit on the current text."
        : "Kept the current text; my overlapping change was dropped.";
      try {
        await api("POST", `${this.base}/conflicts/${encodeURIComponent(conflictId)}/resolve`, { resolution });
        flash(`Conflict ${conflictId} resolved`, "ok");
      } catch (err) {
        flashError(err);
      }
    };
    sec.noticeEl.replaceChildren(
      h(
        "div",
        { class: "conflict", role: "alert", "data-testid": "conflict" },
        h(
          "p",
          {},
          conflictId
            ? [h("strong", {}, "Edit conflict "), h("code", { "data-testid": "conflict-id" }, conflictId), ": your change overlapped text another co-author had already replaced. The server recorded it as a conflict and did not apply it."]
            : [h("strong", {}, "Overlapping edit"), `: ${by || "another co-author"} changed the text you were editing. Your unsent change was not applied.`],
          " Nothing is lost: your version is kept below.",
        ),
        kept,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "ghost", onclick: () => unblock(false) }, "Keep the current text"),
          h("button", { type: "button", class: "primary", onclick: () => unblock(true) }, "Use my version"),
        ),
      ),
    );
  }

  async refreshTexts() {
    try {
      const p = await api("GET", this.base);
      this.packet = p;
      for (const s of p.sections || []) {
        const sec = this.sections.get(s.id) || this.addSection(s, p.version);
        if (sec.inflight) continue; // its answer carries the text
        if (s.text === sec.server) {
          sec.version = Math.max(sec.version, p.version);
          continue;
        }
        this.rebaseLocal(sec, sec.server, s.text, p.version, null);
        sec.version = p.version;
      }
      this.bumpVersion(p.version);
      this.renderMeta();
      this.renderPanels();
    } catch (err) {
      flashError(err);
    }
  }

  bumpVersion(version) {
    if (version > this.version) {
      this.version = version;
      if (this.packet) this.renderMeta();
    }
  }

  // ---------------------------------------------------------- live channel
  connect() {
    if (this.closed) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    // The token goes in the first message, so it never appears in a URL or log.
    const url = `${proto}//${location.host}${this.base}/live?since=${this.version}`;
    this.setMode(this.everLive ? "offline" : "connecting");
    let opened = false;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      return this.fallBack(`the live channel could not open (${err.message})`);
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ type: "auth", token: session.token }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      clearInterval(this.heartbeat);
      if (this.closed) return;
      this.ws = null;
      if (ev.code === 4401) return signOut(`The live channel refused the token: ${ev.reason || "unauthenticated"}`);
      if (!opened && !this.everLive) {
        return this.fallBack(`the live channel ${this.base}/live is not available (closed with code ${ev.code})`);
      }
      if (FINAL_CLOSE_CODES.has(ev.code)) {
        return this.fallBack(`the live channel closed: ${ev.reason || `code ${ev.code}`}`);
      }
      this.setMode("offline", `closed with code ${ev.code}${ev.reason ? `: ${ev.reason}` : ""}`);
      const delay = Math.min(10000, 500 * 2 ** this.retries++);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
  }

  fallBack(reason) {
    this.setMode("http", reason);
    flash(`Live co-authoring is not available: ${reason}. Edits are saved over HTTP and the page refreshes every few seconds.`, "warn");
    for (const sec of this.sections.values()) sec.version = Math.max(sec.version, this.version);
    this.poll();
    for (const sec of this.sections.values()) this.flush(sec);
  }

  poll() {
    clearTimeout(this.pollTimer);
    if (this.closed || this.mode !== "http") return;
    this.pollTimer = setTimeout(async () => {
      if (document.visibilityState !== "hidden") await this.refreshTexts();
      this.poll();
    }, POLL_MS);
  }

  onMessage(m) {
    switch (m.type) {
      case "subscribed":
        this.retries = 0;
        this.everLive = true;
        this.setMode("live");
        // Events after `since` follow (replayed, then live): they move the
        // version on; jumping to m.version here would skip them.
        for (const sec of this.sections.values()) {
          if (sec.inflight) this.sendOp(sec); // resend: the server applies it once
          else this.flush(sec);
        }
        {
          const focused = [...this.sections.values()].find((x) => document.activeElement === x.textarea);
          this.sendPresence(focused ? focused.id : null, focused ? "editing" : "viewing");
        }
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => {
          if (this.ws && this.mode === "live") this.ws.send(JSON.stringify({ type: "ping" }));
        }, HEARTBEAT_MS);
        break;
      case "event":
        this.onEvent(m);
        break;
      case "ack":
        this.onAck(m);
        break;
      case "conflict":
        this.onConflict(m);
        break;
      case "presence":
        if (session.me && m.user === session.me.user_id) break;
        this.presence.set(m.conn || m.user, { user: m.user, name: m.name, section_id: m.section_id, state: m.state });
        this.renderSectionPresence();
        break;
      case "presence_leave":
        if (m.conn) this.presence.delete(m.conn);
        else for (const [key, p] of this.presence) if (p.user === m.user) this.presence.delete(key);
        this.renderSectionPresence();
        break;
      case "error":
        this.onError(m);
        break;
      default:
        break;
    }
  }

  onEvent(m) {
    if (typeof m.version === "number" && m.version <= this.version) return; // already seen
    if (typeof m.version === "number" && m.version > this.version + 1) {
      // A gap should never happen; recover by reading the packet again.
      this.refreshTexts();
      return;
    }
    this.version = m.version;
    // `type` is "event"; the domain event's class is `event_type` (or the topic).
    const type = shortType(m.event_type || m.topic);
    const data = m.data || {};
    this.logActivity(m, type, data);
    const sec = data.section_id ? this.sections.get(data.section_id) : null;
    switch (type) {
      case "SectionTextEdited":
        if (!sec) return this.refreshTexts();
        this.applyTextEvent(sec, m, data.ops || []);
        break;
      case "SectionAdded":
        this.addSection({ id: data.section_id, heading: data.heading, text: data.text }, m.version);
        break;
      case "SectionRetitled":
        if (sec) {
          sec.heading = data.heading;
          sec.headingEl.textContent = data.heading;
        }
        break;
      case "SectionRemoved":
        if (sec) {
          sec.el.remove();
          this.sections.delete(sec.id);
          this.renderEmptySections();
        }
        break;
      case "EditConflictRecorded":
        if (sec && m.client_id === this.clientId && sec.inflight && sec.inflight.seq === m.client_seq) {
          this.onConflict({ client_seq: m.client_seq, conflict_id: data.conflict_id, section_id: sec.id });
        }
        break;
      default:
        break;
    }
    this.renderMeta();
    if (!type.startsWith("SectionTextEdited")) this.schedulePanels();
  }

  applyTextEvent(sec, m, ops) {
    const mine = m.client_id === this.clientId && sec.inflight && sec.inflight.seq === m.client_seq;
    if (mine) {
      // Our own edit, as the server applied it (rebased if others came first).
      sec.server = applyOps(sec.server, ops);
      sec.inflight = null;
      clearTimeout(sec.ackTimer);
      if (sec.blocked) sec.textarea.value = sec.server;
      if (sec.textarea.value === sec.server) this.setSaveState(sec, "saved", "saved");
      this.flush(sec);
      return;
    }
    const before = sec.server;
    sec.server = applyOps(before, ops);
    if (sec.blocked) {
      sec.textarea.value = sec.server;
      return;
    }
    // Carry their ops over our in-flight edit, then over what we have not sent.
    let theirs = ops;
    let base = before;
    if (sec.inflight) {
      const rebased = transformOps(sec.inflight.ops, ops, true);
      const carried = transformOps(ops, sec.inflight.ops, false);
      if (rebased === null || carried === null) {
        // The server will answer our in-flight edit with a conflict.
        this.block(sec, { by: m.actor, mine: sec.textarea.value });
        return;
      }
      base = applyOps(before, sec.inflight.ops);
      sec.inflight.ops = rebased;
      theirs = carried;
    }
    const local = sec.textarea.value;
    const unsent = userOps(base, local, sec.touched);
    const carried = transformOps(theirs, unsent, false);
    if (carried === null) {
      this.block(sec, { by: m.actor, mine: local });
      return;
    }
    this.replaceLocal(sec, local, carried);
  }

  onAck(m) {
    for (const sec of this.sections.values()) {
      if (!sec.inflight || sec.inflight.seq !== m.client_seq) continue;
      if (typeof m.version === "number" && m.version > this.version) {
        // Our event is on its way; if it never comes, read the packet again.
        clearTimeout(sec.ackTimer);
        sec.ackTimer = setTimeout(() => {
          if (sec.inflight && sec.inflight.seq === m.client_seq) {
            sec.inflight = null;
            this.refreshTexts();
          }
        }, ACK_GRACE_MS);
      } else {
        // Applied before (a resend) or a no-op: the packet text is the truth.
        sec.inflight = null;
        this.refreshTexts();
      }
    }
  }

  onConflict(m) {
    const sec = this.sections.get(m.section_id);
    if (!sec) return;
    if (sec.inflight && sec.inflight.seq === m.client_seq) sec.inflight = null;
    clearTimeout(sec.ackTimer);
    if (sec.blocked && sec.blocked.conflictId === m.conflict_id) return;
    const mine = sec.blocked ? sec.blocked.mine : sec.textarea.value;
    sec.blocked = null;
    this.block(sec, { conflictId: m.conflict_id, mine });
  }

  // An `op` the server refused (too large, rate-limited...): the text stays
  // on screen, unsent; a rate-limited edit is tried again a little later.
  onError(m) {
    const sec = [...this.sections.values()].find((x) => x.inflight && x.inflight.seq === m.client_seq);
    if (sec) {
      sec.inflight = null;
      if (m.code === "RATE_LIMITED") {
        this.setSaveState(sec, "pending", "waiting…");
        clearTimeout(sec.timer);
        sec.timer = setTimeout(() => this.flush(sec), 1000);
        return;
      }
      this.setSaveState(sec, "error", "not saved");
    }
    flash(`${m.code}: ${m.message}`);
  }

  sendPresence(sectionId, state) {
    if (this.ws && this.mode === "live") {
      this.ws.send(JSON.stringify({ type: "presence", section_id: sectionId, state }));
    }
  }

  renderSectionPresence() {
    if (!this.presenceEl) return;
    const chip = (p) =>
      h("span", { class: `chip chip-${p.state || "viewing"}`, title: `${p.name || p.user} is ${p.state || "here"}`, "data-testid": "presence-chip" }, `${p.user}${p.state ? ` · ${p.state}` : ""}`);
    const everyone = [...this.presence.values()];
    const users = new Map(everyone.map((p) => [p.user, p]));
    this.presenceEl.replaceChildren(...[...users.values()].map((p) => h("span", { class: "avatar", title: `${p.name || p.user} (${p.user}) is ${p.state || "here"}` }, initials(p.user))));
    for (const sec of this.sections.values()) {
      sec.presenceEl.replaceChildren(...everyone.filter((p) => p.section_id === sec.id).map(chip));
    }
  }

  logActivity(m, type, data) {
    const what = data.section_id ? `${type} ${data.section_id}` : type;
    const item = h("li", {}, h("span", { class: "muted" }, `v${m.version} `), h("strong", {}, m.actor || "?"), ` ${what}`);
    this.activityEl.prepend(item);
    while (this.activityEl.children.length > 50) this.activityEl.lastChild.remove();
  }

  schedulePanels() {
    clearTimeout(this.panelTimer);
    this.panelTimer = setTimeout(() => this.reloadPanels(), 200);
  }

  async reloadPanels() {
    try {
      const p = await api("GET", this.base);
      if (this.closed) return;
      this.packet = p;
      this.renderMeta();
      this.renderPanels();
    } catch (err) {
      flashError(err);
    }
  }

  // Runs a write and reloads the panels; errors are shown as the API's.
  async act(method, path, body) {
    const result = await api(method, path, body);
    if (result && typeof result.version === "number" && this.mode !== "live") this.bumpVersion(result.version);
    if (this.mode === "live") this.schedulePanels();
    else await this.refreshTexts();
    return result;
  }

  // ---------------------------------------------------------- dialogs
  addSectionDialog() {
    openForm({
      title: "Add section",
      submitLabel: "Add section",
      fields: [
        { name: "heading", label: "Heading", required: true, placeholder: "Outage-duration window" },
        { name: "text", label: "Text", type: "textarea", rows: 5 },
      ],
      onSubmit: async (v) => {
        const r = await api("POST", `${this.base}/sections`, { heading: v.heading.trim(), text: v.text });
        if (this.mode === "live") {
          // Its SectionAdded event may still be on its way; it will find it here.
          this.addSection({ id: r.section_id, heading: v.heading.trim(), text: v.text }, r.version);
        } else if (!this.sections.has(r.section_id)) {
          await this.refreshTexts();
        }
        const sec = this.sections.get(r.section_id);
        if (sec) sec.textarea.focus();
      },
    });
  }

  raiseObjectionDialog(target) {
    const sections = [...this.sections.values()];
    const sources = asList(this.packet.sources);
    const options = [
      { value: "", label: "The packet as a whole" },
      ...sections.map((s) => ({ value: `section:${s.id}`, label: `Section ${s.id}: ${s.heading}` })),
      ...sources.map((s) => ({ value: `source:${s.id}`, label: `Source ${s.id}: ${s.title}` })),
    ];
    const initial = target && target.section_id ? `section:${target.section_id}` : "";
    openForm({
      title: "Raise an objection",
      submitLabel: "Raise objection",
      fields: [
        { name: "target", label: "On", type: "select", options, value: initial },
        { name: "text", label: "Objection", type: "textarea", required: true },
      ],
      onSubmit: async (v) => {
        const [kind, id] = v.target ? v.target.split(":") : [null, null];
        const body = { target: kind ? { [`${kind}_id`]: id } : {}, text: v.text };
        await this.act("POST", `${this.base}/objections`, body);
      },
    });
  }

  // ---------------------------------------------------------- side panels
  renderPanels() {
    const p = this.packet;
    this.panelsEl.replaceChildren(
      this.sourcesPanel(p),
      this.prerequisitesPanel(p),
      this.objectionsPanel(p),
      this.revisionsPanel(p),
      this.releasesPanel(p),
      this.historyPanel(),
    );
  }

  historyPanel() {
    return this.panel(
      "History",
      "panel-history",
      null,
      h("p", { class: "muted small" }, "Every change is an event: read the packet as it stood at any version, or the full event log with its hashes."),
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", class: "ghost small", onclick: () => this.versionDialog() }, "View a past version"),
        h("button", { type: "button", class: "ghost small", onclick: () => this.eventsDialog() }, "Event log"),
      ),
    );
  }

  versionDialog() {
    openForm({
      title: "View a past version",
      submitLabel: "Show",
      fields: [{ name: "version", label: `Version (1 to ${this.version})`, type: "number", required: true, value: String(Math.max(1, this.version - 1)) }],
      onSubmit: async (v) => {
        const p = await api("GET", `${this.base}?version=${encodeURIComponent(v.version)}`);
        setTimeout(
          () =>
            openInfo(
              `${p.title} at version ${p.version}`,
              h(
                "div",
                { class: "snapshot" },
                asList(p.sections).map((s) => h("section", { class: "released-section" }, h("h3", {}, s.heading, " ", h("code", { class: "sid" }, s.id)), h("p", { class: "released-text" }, s.text))),
                h("details", {}, h("summary", {}, "Everything at this version"), jsonBlock(p)),
              ),
            ),
          0,
        );
      },
    });
  }

  async eventsDialog() {
    try {
      const data = await api("GET", `${this.base}/events`);
      const items = asList((data && (data.items || data.events)) || []);
      openInfo(
        "Event log",
        items.length
          ? h(
              "table",
              { class: "table compact events" },
              h("thead", {}, h("tr", {}, h("th", {}, "v"), h("th", {}, "When"), h("th", {}, "Actor"), h("th", {}, "Event"), h("th", {}, "Leaf hash"))),
              h(
                "tbody",
                {},
                items.map((e) =>
                  h(
                    "tr",
                    { title: JSON.stringify(e.data || {}) },
                    h("td", { class: "num" }, e.version ?? e.originator_version ?? ""),
                    h("td", {}, when(e.at ?? e.timestamp ?? e.time)),
                    h("td", {}, e.actor || "", e.actor_kind === "agent" ? h("span", { class: "muted" }, " (agent)") : null),
                    h("td", {}, shortType(e.type ?? e.event_type ?? e.topic)),
                    h("td", {}, hashEl(e.leaf_hash ?? e.leaf ?? e.hash)),
                  ),
                ),
              ),
            )
          : h("p", { class: "empty" }, "No events."),
      );
    } catch (err) {
      openInfo("Event log", errorBox(err));
    }
  }

  panel(title, testid, action, ...content) {
    return h(
      "section",
      { class: "panel card", "data-testid": testid },
      h("header", {}, h("h2", {}, title), action),
      ...content,
    );
  }

  sourcesPanel(p) {
    const sources = asList(p.sources).slice().sort((a, b) => (a.precedence ?? 0) - (b.precedence ?? 0));
    const add = h("button", { type: "button", class: "ghost small", onclick: () => this.citeSourceDialog() }, "Cite");
    const list = sources.length
      ? h(
          "ul",
          { class: "items" },
          sources.map((s) =>
            h(
              "li",
              { class: `item status-${s.status || "current"}` },
              h("div", { class: "item-head" }, h("span", { class: "prec", title: "precedence (lower outranks higher)" }, `#${s.precedence}`), h("strong", {}, s.title), badge(s.status || "current")),
              h("div", { class: "item-sub" }, h("span", { class: "muted" }, `${s.kind} · ${s.id} · `), s.reference),
              h(
                "div",
                { class: "item-sub" },
                h("span", { class: "muted" }, "digest "),
                hashEl(s.digest),
                s.valid_until ? h("span", { class: "muted" }, ` · valid until ${when(s.valid_until)}`) : null,
                s.refreshes ? h("span", { class: "muted" }, ` · refreshed ${s.refreshes}×`) : null,
              ),
              h(
                "div",
                { class: "item-actions" },
                h("button", { type: "button", class: "ghost small", onclick: () => this.refreshSourceDialog(s) }, "Refresh"),
                h("button", { type: "button", class: "ghost small", onclick: () => this.raiseObjectionDialog({ source_id: s.id }) }, "Object"),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No sources cited.");
    return this.panel("Sources", "panel-sources", add, list);
  }

  citeSourceDialog() {
    openForm({
      title: "Cite a source",
      submitLabel: "Cite source",
      note: "Precedence: a lower number outranks a higher one (signed contract terms, then policy matrices, then impact ledgers, then CRM notes).",
      fields: [
        { name: "title", label: "Title", required: true, placeholder: "Signed premium-support order form" },
        { name: "kind", label: "Kind", required: true, placeholder: "order_form" },
        { name: "reference", label: "Reference", required: true, placeholder: "crm://contracts/ORD-2291" },
        { name: "digest", label: "Digest", required: true, placeholder: "sha256:…" },
        { name: "precedence", label: "Precedence", type: "number", required: true, value: "1" },
        { name: "valid_until", label: "Valid until (optional)", type: "datetime-local" },
      ],
      onSubmit: async (v) => {
        const body = {
          kind: v.kind.trim(),
          title: v.title.trim(),
          reference: v.reference.trim(),
          digest: v.digest.trim(),
          precedence: Number.parseInt(v.precedence, 10),
        };
        if (v.valid_until) body.valid_until = new Date(v.valid_until).toISOString();
        await this.act("POST", `${this.base}/sources`, body);
      },
    });
  }

  refreshSourceDialog(s) {
    openForm({
      title: `Refresh source ${s.id}`,
      note: h("span", {}, "Current digest ", hashEl(s.digest), ". A material refresh is drift: it supersedes every release that relied on this source."),
      submitLabel: "Refresh",
      fields: [
        { name: "digest", label: "New digest", required: true },
        { name: "material", label: "Material change (drift)", type: "checkbox", value: true },
        { name: "reason", label: "Reason", required: true },
      ],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/sources/${encodeURIComponent(s.id)}/refresh`, {
          digest: v.digest.trim(),
          material: v.material,
          reason: v.reason,
        });
        const gone = (r && r.superseded_releases) || [];
        if (gone.length) flash(`Superseded by this refresh: ${gone.join(", ")}`, "warn");
      },
    });
  }

  prerequisitesPanel(p) {
    const items = asList(p.prerequisites);
    const add = h("button", { type: "button", class: "ghost small", onclick: () => this.declarePrerequisiteDialog() }, "Declare");
    const list = items.length
      ? h(
          "ul",
          { class: "items" },
          items.map((x) =>
            h(
              "li",
              { class: "item" },
              h("div", { class: "item-head" }, h("strong", {}, x.title), badge(x.state)),
              h(
                "div",
                { class: "item-sub muted" },
                x.id,
                x.valid_until ? ` · valid until ${when(x.valid_until)}` : "",
                x.evidence ? ` · evidence: ${x.evidence}` : "",
              ),
              x.state !== "satisfied"
                ? h("div", { class: "item-actions" }, h("button", { type: "button", class: "ghost small", onclick: () => this.satisfyDialog(x) }, "Satisfy"))
                : null,
            ),
          ),
        )
      : h("p", { class: "empty" }, "No prerequisites declared.");
    return this.panel("Prerequisites", "panel-prerequisites", add, list);
  }

  declarePrerequisiteDialog() {
    openForm({
      title: "Declare a prerequisite",
      submitLabel: "Declare",
      fields: [
        { name: "title", label: "Condition", required: true, placeholder: "Named-contact register current" },
        { name: "satisfied", label: "Already satisfied", type: "checkbox" },
        { name: "valid_until", label: "Valid until (optional)", type: "datetime-local" },
      ],
      onSubmit: async (v) => {
        const body = { title: v.title.trim(), satisfied: v.satisfied };
        if (v.valid_until) body.valid_until = new Date(v.valid_until).toISOString();
        await this.act("POST", `${this.base}/prerequisites`, body);
      },
    });
  }

  satisfyDialog(x) {
    openForm({
      title: `Satisfy: ${x.title}`,
      submitLabel: "Mark satisfied",
      fields: [
        { name: "evidence", label: "Evidence", type: "textarea", required: true },
        { name: "valid_until", label: "Valid until (optional)", type: "datetime-local" },
      ],
      onSubmit: async (v) => {
        const body = { evidence: v.evidence };
        if (v.valid_until) body.valid_until = new Date(v.valid_until).toISOString();
        await this.act("POST", `${this.base}/prerequisites/${encodeURIComponent(x.id)}/satisfy`, body);
      },
    });
  }

  objectionsPanel(p) {
    const items = asList(p.objections);
    const add = h("button", { type: "button", class: "ghost small", onclick: () => this.raiseObjectionDialog({}) }, "Raise");
    const target = (t) => {
      if (!t || (!t.section_id && !t.source_id)) return "whole packet";
      return t.section_id ? `section ${t.section_id}` : `source ${t.source_id}`;
    };
    const list = items.length
      ? h(
          "ul",
          { class: "items" },
          items.map((o) =>
            h(
              "li",
              { class: "item" },
              h("div", { class: "item-head" }, h("code", {}, o.id), h("span", { class: "muted" }, ` on ${target(o.target)} by ${o.raised_by || "?"}`), badge(o.state)),
              h("p", { class: "item-text" }, o.text),
              asList(o.answers).map((a) => h("p", { class: "answer" }, h("strong", {}, a.by), ` ${a.text}`)),
              o.resolution ? h("p", { class: "answer" }, h("span", { class: "muted" }, "Resolution: "), o.resolution) : null,
              h(
                "div",
                { class: "item-actions" },
                o.state === "open"
                  ? h("button", { type: "button", class: "ghost small", onclick: () => this.resolveDialog(o) }, "Resolve")
                  : h("button", { type: "button", class: "ghost small", onclick: () => this.reopenDialog(o) }, "Reopen"),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No objections.");
    const ledger = h("button", { type: "button", class: "link small", onclick: () => this.ledgerDialog() }, "Full objection ledger");
    return this.panel("Objections", "panel-objections", add, list, ledger);
  }

  resolveDialog(o) {
    openForm({
      title: `Resolve ${o.id}`,
      note: o.text,
      submitLabel: "Resolve",
      fields: [{ name: "resolution", label: "Resolution", type: "textarea", required: true }],
      onSubmit: (v) => this.act("POST", `${this.base}/objections/${encodeURIComponent(o.id)}/resolve`, { resolution: v.resolution }),
    });
  }

  reopenDialog(o) {
    openForm({
      title: `Reopen ${o.id}`,
      note: "Reopening an objection accepted as residual supersedes the releases that accepted it.",
      submitLabel: "Reopen",
      fields: [{ name: "reason", label: "Reason", type: "textarea", required: true }],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/objections/${encodeURIComponent(o.id)}/reopen`, { reason: v.reason });
        const gone = (r && r.superseded_releases) || [];
        if (gone.length) flash(`Superseded: ${gone.join(", ")}`, "warn");
      },
    });
  }

  async ledgerDialog() {
    try {
      const data = await api("GET", `${this.base}/objections`);
      openInfo("Objection ledger", jsonBlock(data));
    } catch (err) {
      openInfo("Objection ledger", errorBox(err));
    }
  }

  revisionsPanel(p) {
    const revisions = asList(p.revisions);
    const add = h("button", { type: "button", class: "ghost small", "data-testid": "cut-revision", onclick: () => this.cutRevisionDialog() }, "Cut revision");
    const list = revisions.length
      ? h(
          "ul",
          { class: "items" },
          revisions
            .slice()
            .reverse()
            .map((r) =>
              h(
                "li",
                { class: "item" },
                h("div", { class: "item-head" }, h("strong", {}, `r${revNumber(r)}`), r.label ? h("span", {}, r.label) : h("span", { class: "muted" }, "(no label)")),
                h("div", { class: "item-sub" }, h("span", { class: "muted" }, "content hash "), hashEl(r.content_hash)),
                h("div", { class: "item-sub muted" }, [r.cut_by ? `cut by ${r.cut_by}` : "", r.cut_at ? ` · ${when(r.cut_at)}` : ""].join("")),
              ),
            ),
        )
      : h("p", { class: "empty" }, "No revisions cut yet.");
    const tools = h(
      "div",
      { class: "item-actions" },
      revisions.length >= 2 ? h("button", { type: "button", class: "ghost small", onclick: () => this.diffDialog(revisions) }, "Diff two revisions") : null,
      h("button", { type: "button", class: "link small", onclick: () => this.historyDialog() }, "Revision history"),
    );
    return this.panel("Revisions", "panel-revisions", add, list, tools);
  }

  cutRevisionDialog() {
    openForm({
      title: "Cut a revision",
      note: "A revision is an exact, immutable cut of the packet, identified by its content hash.",
      submitLabel: "Cut revision",
      fields: [{ name: "label", label: "Label (optional)", placeholder: "Clarification-Packet-v1" }],
      onSubmit: async (v) => {
        const body = v.label.trim() ? { label: v.label.trim() } : {};
        const r = await this.act("POST", `${this.base}/revisions`, body);
        flash(`Revision ${r.revision} cut: ${shortHash(r.content_hash)}`, "ok");
      },
    });
  }

  diffDialog(revisions) {
    const options = revisions.map((r) => ({ value: String(revNumber(r)), label: `r${revNumber(r)}${r.label ? ` ${r.label}` : ""}` }));
    openForm({
      title: "Diff two revisions",
      submitLabel: "Show diff",
      fields: [
        { name: "a", label: "From", type: "select", options, value: options[options.length - 2].value },
        { name: "b", label: "To", type: "select", options, value: options[options.length - 1].value },
      ],
      onSubmit: async (v) => {
        const data = await api("GET", `${this.base}/revisions/${encodeURIComponent(v.a)}/diff/${encodeURIComponent(v.b)}`);
        setTimeout(() => openInfo(`Diff r${v.a} → r${v.b}`, diffView(data)), 0);
      },
    });
  }

  async historyDialog() {
    try {
      const data = await api("GET", `${this.base}/revisions`);
      const items = (data && data.items) || [];
      openInfo(
        "Revision history",
        items.length
          ? h(
              "table",
              { class: "table compact" },
              h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Label"), h("th", {}, "Content hash"), h("th", {}, "Cut by"), h("th", {}, "Contributors"))),
              h(
                "tbody",
                {},
                items.map((r) =>
                  h("tr", {}, h("td", {}, revNumber(r)), h("td", {}, r.label || ""), h("td", {}, hashEl(r.content_hash)), h("td", {}, r.cut_by || ""), h("td", {}, asList(r.contributors).join(", "))),
                ),
              ),
            )
          : h("p", { class: "empty" }, "No revisions."),
      );
    } catch (err) {
      openInfo("Revision history", errorBox(err));
    }
  }

  releasesPanel(p) {
    const releases = asList(p.releases);
    const add = h("button", { type: "button", class: "ghost small", "data-testid": "request-release", onclick: () => this.requestReleaseDialog() }, "Request release");
    const isOwner = session.me && session.me.user_id === p.release_owner;
    const list = releases.length
      ? h(
          "ul",
          { class: "items" },
          releases.map((r) => {
            const rid = r.release_id || r.id;
            const reasons = asList(r.hold_reasons);
            const sup = r.supersession;
            return h(
              "li",
              { class: "item", "data-testid": "release" },
              h("div", { class: "item-head" }, h("code", {}, rid), h("span", {}, ` r${r.revision} → lane `, h("strong", {}, r.lane || r.lane_id || "?")), badge(r.status)),
              reasons.length ? holdReasons(reasons) : null,
              asList(r.residuals).length
                ? h("div", { class: "item-sub" }, h("span", { class: "muted" }, "Accepted residuals: "), asList(r.residuals).map((x) => `${x.objection_id || x.id || x}`).join(", "))
                : null,
              r.manifest_hash ? h("div", { class: "item-sub" }, h("span", { class: "muted" }, "manifest "), hashEl(r.manifest_hash)) : null,
              sup ? supersessionView(sup) : null,
              h(
                "div",
                { class: "item-actions" },
                isOwner && ["pending", "held"].includes(r.status)
                  ? [
                      h("button", { type: "button", class: "ghost small", onclick: () => this.residualDialog(rid) }, "Accept residual"),
                      r.owner_hold
                        ? h("button", { type: "button", class: "ghost small", "data-testid": "lift-hold", onclick: () => this.liftHold(rid) }, "Lift hold")
                        : h("button", { type: "button", class: "ghost small", "data-testid": "hold", onclick: () => this.holdDialog(r) }, "Hold…"),
                      h("button", { type: "button", class: "primary small", "data-testid": "approve", onclick: () => this.approveDialog(r) }, "Approve…"),
                    ]
                  : null,
                isOwner && r.status === "released"
                  ? h("button", { type: "button", class: "ghost small", "data-testid": "hold", onclick: () => this.holdDialog(r) }, "Withdraw…")
                  : null,
                h("button", { type: "button", class: "ghost small", onclick: () => this.manifestDialog(rid) }, "Manifest"),
              ),
            );
          }),
        )
      : h("p", { class: "empty" }, "No releases requested.");
    return this.panel("Releases", "panel-releases", add, list);
  }

  requestReleaseDialog() {
    const revisions = asList(this.packet.revisions);
    if (!revisions.length) {
      flash("Cut a revision first: a release hands one exact revision to one lane.", "warn");
      return;
    }
    const options = revisions.map((r) => ({ value: String(revNumber(r)), label: `r${revNumber(r)}${r.label ? ` ${r.label}` : ""} · ${shortHash(r.content_hash)}` }));
    openForm({
      title: "Request a release",
      submitLabel: "Request",
      fields: [
        { name: "revision", label: "Revision", type: "select", options, value: options[options.length - 1].value },
        { name: "lane", label: "Intake lane", required: true, placeholder: "account-governance-review" },
      ],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/releases`, { revision: Number(v.revision), lane: v.lane.trim() });
        const reasons = asList(r.hold_reasons);
        if (reasons.length) flash(h("span", {}, `Release ${r.release_id} is held: `, reasons.map((x) => x.code).join(", ")), "warn");
        else flash(`Release ${r.release_id} is ${r.status}`, "ok");
      },
    });
  }

  residualDialog(rid) {
    // Acceptance is per release: an objection accepted as residual for another
    // release is still open for this one (the gate holds OBJECTION_OPEN).
    const open = asList(this.packet.objections).filter(
      (o) => o.state === "open" || (o.state === "residual" && !asList(o.residual_for).includes(rid)),
    );
    if (!open.length) {
      flash("There is no open objection to accept as residual.", "warn");
      return;
    }
    openForm({
      title: `Accept a residual objection for ${rid}`,
      note: "The objection stays open; this release records it as accepted, with your rationale, in its manifest.",
      submitLabel: "Accept as residual",
      fields: [
        { name: "objection_id", label: "Objection", type: "select", options: open.map((o) => ({ value: o.id, label: `${o.id}: ${o.text.slice(0, 80)}` })) },
        { name: "rationale", label: "Rationale", type: "textarea", required: true },
      ],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/releases/${encodeURIComponent(rid)}/residuals`, v);
        flash(`Release ${rid} is ${r.status}`, "ok");
      },
    });
  }

  holdDialog(release) {
    const rid = release.release_id || release.id;
    const released = release.status === "released";
    openForm({
      title: released ? `Withdraw ${rid} from its lane` : `Hold ${rid}`,
      note: released
        ? "The release is superseded now (cause HELD_BY_RELEASE_OWNER); its lane sees it withdrawn, with your reason. Request a new release to hand the packet over again."
        : "Nobody can approve this release until you lift the hold. The reason is recorded with the hold.",
      submitLabel: released ? "Withdraw" : "Hold",
      fields: [{ name: "reason", label: "Reason", type: "textarea", required: true }],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/releases/${encodeURIComponent(rid)}/hold`, v);
        flash(`Release ${rid} is ${r.status}`, "warn");
      },
    });
  }

  async liftHold(rid) {
    try {
      const r = await this.act("POST", `${this.base}/releases/${encodeURIComponent(rid)}/hold/lift`, {});
      flash(`Hold lifted: release ${rid} is ${r.status}`, "ok");
    } catch (err) {
      flashError(err);
    }
  }

  approveDialog(release) {
    const rid = release.release_id || release.id;
    const revision = asList(this.packet.revisions).find((r) => revNumber(r) === release.revision);
    openForm({
      title: `Approve ${rid}`,
      note: h(
        "span",
        {},
        `You are signing revision r${release.revision} for lane ${release.lane || release.lane_id || "?"} as its release owner. `,
        "Check the content hash against the revision you reviewed; your signing passphrase is asked again.",
      ),
      submitLabel: "Sign and approve",
      fields: [
        { name: "content_hash", label: "Content hash", required: true, value: revision ? revision.content_hash : "" },
        { name: "meaning", label: "Meaning of this approval", type: "textarea", required: true, value: "Approved for release to the intake lane as the exact revision shown." },
        { name: "passphrase", label: "Signing passphrase", type: "password", required: true },
      ],
      onSubmit: async (v) => {
        const r = await this.act("POST", `${this.base}/releases/${encodeURIComponent(rid)}/approve`, v);
        flash(h("span", {}, `Released ${rid}; manifest `, hashEl(r.manifest_hash)), "ok");
      },
    });
  }

  async manifestDialog(rid) {
    try {
      const data = await api("GET", `${this.base}/releases/${encodeURIComponent(rid)}/manifest`);
      openInfo(`Manifest of ${rid}`, manifestView(data));
    } catch (err) {
      openInfo(`Manifest of ${rid}`, errorBox(err));
    }
  }
}

function revNumber(r) {
  return r.revision ?? r.number;
}

function packetStatus(p) {
  if (p.status) return p.status;
  const statuses = asList(p.releases).map((r) => r.status);
  for (const s of ["released", "held", "pending", "superseded"]) if (statuses.includes(s)) return s;
  return "draft";
}

function initials(user) {
  const parts = String(user).split(/[._@-]/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[1][0] : String(user).slice(0, 2)).toUpperCase();
}

function holdReasons(reasons) {
  return h(
    "ul",
    { class: "hold-reasons", "data-testid": "hold-reasons" },
    reasons.map((x) => h("li", {}, h("code", { class: "code" }, x.code), x.detail ? ` ${x.detail}` : "")),
  );
}

function supersessionView(sup) {
  const successor = sup.successor || sup.successor_release_id || sup.superseded_by;
  return h(
    "div",
    { class: "supersession", "data-testid": "supersession" },
    h("strong", {}, "Superseded"),
    sup.cause ? [" · cause ", h("code", { class: "code" }, sup.cause)] : null,
    successor ? [" · successor ", h("code", {}, successor)] : null,
    sup.at ? h("span", { class: "muted" }, ` · ${when(sup.at)}`) : null,
    sup.detail ? h("div", { class: "muted" }, sup.detail) : null,
  );
}

function jsonBlock(data) {
  return h("pre", { class: "json" }, JSON.stringify(data, null, 2));
}

function manifestView(data) {
  return h(
    "div",
    { class: "manifest" },
    h("p", {}, badge(data.status), " ", h("span", { class: "muted" }, "manifest hash "), h("code", { class: "hash-full" }, data.manifest_hash || "")),
    data.supersession ? supersessionView(data.supersession) : null,
    jsonBlock(data.manifest || {}),
  );
}

function fromTo(value) {
  if (value && typeof value === "object" && ("from" in value || "to" in value)) {
    if (value.from === value.to || value.from == null) return String(value.to ?? "");
    if (value.to == null) return String(value.from);
    return `${value.from} → ${value.to}`;
  }
  return value == null ? "" : String(value);
}

function diffView(data) {
  const items = asList((data && (data.sections || data.items)) || []);
  if (!items.length) return jsonBlock(data);
  const lineClass = (line) => {
    if (line.startsWith("+++") || line.startsWith("---")) return "meta";
    if (line.startsWith("@@")) return "hunk";
    if (line.startsWith("+")) return "add";
    if (line.startsWith("-")) return "del";
    return "";
  };
  const listed = (label, group) => {
    if (!group || typeof group !== "object") return null;
    const parts = ["added", "removed", "changed"]
      .filter((k) => asList(group[k]).length)
      .map((k) => `${k}: ${asList(group[k]).map((x) => (typeof x === "object" ? x.id || x.source_id || x.prerequisite_id || JSON.stringify(x) : x)).join(", ")}`);
    return parts.length ? h("p", {}, h("strong", {}, `${label} `), parts.join(" · ")) : null;
  };
  const title = data.title ? fromTo(data.title) : "";
  return h(
    "div",
    { class: "diff" },
    title && data.title.from !== data.title.to ? h("p", {}, h("strong", {}, "Title "), title) : null,
    items.map((s) => {
      const text = s.diff || s.unified || s.patch || "";
      return h(
        "section",
        { class: "diff-section" },
        h("h3", {}, fromTo(s.heading) || s.section_id || s.id || "", " ", h("code", { class: "sid" }, s.section_id || s.id || ""), " ", badge(s.change || (text ? "changed" : "unchanged"))),
        text ? h("pre", { class: "unified" }, String(text).split("\n").map((line) => h("span", { class: lineClass(line) }, `${line}\n`))) : null,
      );
    }),
    listed("Sources", data.sources),
    listed("Prerequisites", data.prerequisites),
  );
}

// --------------------------------------------------------------- lane inbox
async function renderInbox(lane, releaseId) {
  const input = h("input", { id: "lane", placeholder: "lane id, e.g. account-governance-review", value: lane, "aria-label": "Lane id" });
  const form = h(
    "form",
    {
      class: "inline-form",
      onsubmit: (ev) => {
        ev.preventDefault();
        if (input.value.trim()) location.hash = `#/inbox/${encodeURIComponent(input.value.trim())}`;
      },
    },
    input,
    h("button", { class: "primary", type: "submit" }, "Open inbox"),
  );
  const body = h("div", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, lane ? `Lane inbox: ${lane}` : "Lane inbox"), form));
  view().replaceChildren(body);
  if (!lane) {
    body.append(h("p", { class: "muted" }, "Lane members see the releases delivered to their lane: each exact revision with its manifest, and whether it was superseded."));
    try {
      const lanes = ((await api("GET", "/v1/lanes")) || {}).items || [];
      if (lanes.length) {
        body.append(
          h("h2", { class: "sub" }, "Your lanes"),
          h(
            "ul",
            { class: "lane-list" },
            lanes.map((l) => h("li", { class: "card" }, h("a", { href: `#/inbox/${encodeURIComponent(l.id)}` }, h("strong", {}, l.title || l.id)), h("div", { class: "muted" }, l.id, l.accepts_kinds ? ` · accepts ${asList(l.accepts_kinds).join(", ")}` : ""))),
          ),
        );
      }
    } catch (err) {
      // Listing lanes is a convenience beyond the contract: typing a lane id works anyway.
    }
    return;
  }
  const laneBase = `/v1/lanes/${encodeURIComponent(lane)}`;
  if (releaseId) {
    body.append(h("p", {}, h("a", { href: `#/inbox/${encodeURIComponent(lane)}` }, "← Inbox")));
    try {
      const r = await api("GET", `${laneBase}/releases/${encodeURIComponent(releaseId)}`);
      const content = r.content || {};
      body.append(
        h(
          "div",
          { class: "card release-view" },
          h("h2", {}, content.title || releaseId, " ", badge(r.status)),
          r.supersession ? supersessionView(r.supersession) : null,
          h("p", {}, h("span", { class: "muted" }, "revision "), `r${r.revision}${r.label ? ` ${r.label}` : ""} · `, h("span", { class: "muted" }, "content hash "), h("code", { class: "hash-full" }, r.content_hash || "")),
          h("p", {}, h("span", { class: "muted" }, "manifest hash "), h("code", { class: "hash-full" }, r.manifest_hash || "")),
          acknowledgeControl(laneBase, releaseId, r),
          asList(content.sections).map((s) => h("section", { class: "released-section" }, h("h3", {}, s.heading), h("p", { class: "released-text" }, s.text))),
          h("details", {}, h("summary", {}, "Manifest"), jsonBlock(r.manifest || {})),
        ),
      );
    } catch (err) {
      body.append(errorBox(err));
    }
    return;
  }
  try {
    const data = await api("GET", `${laneBase}/inbox`);
    const items = (data && data.items) || [];
    if (!items.length) {
      body.append(h("p", { class: "empty" }, "Nothing has been released to this lane."));
      return;
    }
    body.append(
      h(
        "table",
        { class: "table", "data-testid": "inbox" },
        h("thead", {}, h("tr", {}, h("th", {}, "Release"), h("th", {}, "Revision"), h("th", {}, "Label"), h("th", {}, "Content hash"), h("th", {}, "Status"), h("th", {}, "Released"))),
        h(
          "tbody",
          {},
          items.map((x) =>
            h(
              "tr",
              {},
              // `ref` ('<packet>:rel-N') names a release across packets; rel-N alone may not.
              h("td", {}, h("a", { href: `#/inbox/${encodeURIComponent(lane)}/${encodeURIComponent(x.ref || x.release_id)}` }, x.title || x.release_id), h("div", { class: "muted small" }, x.release_id)),
              h("td", { class: "num" }, `r${x.revision}`),
              h("td", {}, x.label || ""),
              h("td", {}, hashEl(x.content_hash)),
              h("td", {}, badge(x.status)),
              h("td", {}, when(x.released_at)),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    body.append(errorBox(err));
  }
}

function acknowledgeControl(laneBase, releaseId, r) {
  if (r.acknowledged) return h("p", { class: "muted" }, "Receipt acknowledged.");
  if (r.status !== "released") return null;
  const slot = h("div", { class: "item-actions" });
  slot.append(
    h(
      "button",
      {
        type: "button",
        class: "ghost",
        onclick: async () => {
          try {
            await api("POST", `${laneBase}/releases/${encodeURIComponent(releaseId)}/acknowledge`, {});
            slot.replaceChildren(h("p", { class: "muted" }, "Receipt acknowledged."));
          } catch (err) {
            slot.append(errorBox(err));
          }
        },
      },
      "Acknowledge receipt",
    ),
  );
  return slot;
}

// ------------------------------------------------------------------- start
async function start() {
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
