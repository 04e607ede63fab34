// The packet screen: one packet, its content editors (editors/), its side
// panels (panels.js, releases.js) and its live channel.

import { api, errorBox } from "../../core/api.js";
import { flash, flashError, openForm } from "../../core/dialogs.js";
import { badge, h, initials, view } from "../../core/dom.js";
import { signOut } from "../../core/identity.js";
import { ACK_GRACE_MS, FINAL_CLOSE_CODES, HEARTBEAT_MS, liveUrl, POLL_MS } from "../../core/live.js";
import { newClientId } from "../../core/ops.js";
import { permissions } from "../../core/directory.js";
import { session } from "../../core/state.js";
import { editors, mixin } from "../../editors/index.js";
import "../../editors/sections.js";
import "../../editors/recommendation.js";
import "../../editors/plan.js";
import "../../editors/worksheets.js";
import { Panels } from "./panels.js";
import { Approval } from "./approval.js";
import { Releases } from "./releases.js";
import { Suggestions } from "./suggestions.js";
import { Audit, versionLabel } from "./audit.js";
import { eventWords } from "../../core/readable.js";
import { packetStatus, shortType } from "./common.js";

export class PacketPage {
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

  // A control is shown only when the server would allow its action
  // (workspace/policy.py RULES); the server refuses everything else anyway.
  may(action) {
    if (!this.permissions) return true; // a server without the permissions route
    return Boolean(this.permissions.actions[action]);
  }

  get isAgent() {
    return Boolean(session.me && session.me.is_agent);
  }

  // ---------------------------------------------------------- lifecycle
  async open() {
    const root = h("div", { class: "page packet-page", "data-testid": "packet-page" }, h("p", { class: "muted" }, "Loading packet…"));
    view().replaceChildren(root);
    this.root = root;
    let packet;
    try {
      [packet, this.permissions] = await Promise.all([
        api("GET", this.base),
        // The role and every action of the server's role table, as the server decides them.
        permissions(this.id).catch(() => null),
      ]);
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
        (this.mainEl = h(
          "section",
          { class: "main-col" },
          h(
            "div",
            { class: "col-head" },
            h("h2", {}, "Sections"),
            this.may("edit")
              ? h("button", { type: "button", class: "primary", "data-testid": "add-section", onclick: () => this.addSectionDialog() }, "Add section")
              : null,
          ),
          this.sectionsEl,
          // Every other content editor gets a block here (see the loop below).
          (this.editorsEl = h("div", { class: "editors" })),
          h("details", { class: "activity-box" }, h("summary", {}, "Live activity"), this.activityEl),
        )),
        this.panelsEl,
      ),
    );
    this.renderMeta();
    for (const s of p.sections || []) this.addSection(s, p.version);
    this.renderEmptySections();
    this.renderPanels();
    // Every other content editor (editors/index.js) gets a block below the
    // sections: `render(box)` fills it; `mount(box)` may fill it or return
    // the editor's element, which is then placed in it.
    for (const editor of editors()) {
      if (!editor.render && !editor.mount) continue;
      const box = h("div", { class: `editor editor-${editor.id}` });
      this.editorsEl.append(box);
      if (editor.render) this[editor.render](box);
      if (editor.mount) {
        const made = this[editor.mount](box);
        if (made instanceof Node && !made.isConnected) box.append(made);
      }
    }
  }

  // Content editors re-read their part after the packet changed.
  refreshEditors() {
    for (const editor of editors()) if (editor.refresh) this[editor.refresh]();
  }

  renderMeta() {
    const p = this.packet;
    this.titleEl.textContent = p.title;
    const people = (label, list) =>
      h("span", { class: "meta-item" }, h("span", { class: "muted" }, `${label} `), (list || []).join(", ") || "—");
    const items = [
      h("span", { class: "meta-item" }, badge(packetStatus(p))),
      this.permissions
        ? h("span", { class: "meta-item" }, h("span", { class: "muted" }, "your role "), h("span", { class: "role-badge", "data-testid": "my-role" }, this.permissions.role))
        : null,
      h("span", { class: "meta-item" }, h("span", { class: "muted" }, "kind "), p.kind),
      h("span", { class: "meta-item", "data-testid": "packet-version", title: "The packet version counts every change; a revision (r1, r2…) is a cut made on purpose." }, versionLabel(this.version, p.revisions)),
      h("span", { class: "meta-item" }, h("span", { class: "muted" }, "release owner "), h("strong", {}, p.release_owner)),
      people("co-authors", p.authors),
      people("reviewers", p.reviewers),
      this.may("change_members")
        ? h("button", { type: "button", class: "ghost small", "data-testid": "change-members", onclick: () => this.membersDialog() }, "Members…")
        : null,
    ];
    this.metaEl.replaceChildren(...items.filter(Boolean));
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
      this.refreshEditors();
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
    // The token goes in the first message, so it never appears in a URL or log.
    const url = liveUrl(this.base, this.version);
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
      case "SectionMoved":
        this.reorderSections();
        break;
      case "SectionRemoved":
        if (sec) {
          sec.el.remove();
          this.sections.delete(sec.id);
          this.renderEmptySections();
        }
        break;
      case "SuggestionProposed":
        if (sec && m.client_id === this.clientId && sec.inflight && sec.inflight.seq === m.client_seq) {
          this.suggestionRecorded(sec, data.suggestion_id);
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
    // Content editors follow their own events (editors/index.js `onEvent`).
    for (const e of editors()) if (e.onEvent) this[e.onEvent](type, data, m);
    this.renderMeta();
    if (!type.startsWith("SectionTextEdited")) this.schedulePanels();
  }

  onAck(m) {
    for (const sec of this.sections.values()) {
      if (!sec.inflight || sec.inflight.seq !== m.client_seq) continue;
      if (m.suggestion_id) {
        // An agent's edit is kept as a suggestion, not applied: no text event follows.
        this.suggestionRecorded(sec, m.suggestion_id);
        continue;
      }
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
    const words = eventWords(type);
    const what = data.section_id ? `${words} (${data.section_id})` : words;
    const item = h("li", {}, h("span", { class: "muted" }, `version ${m.version} `), h("strong", {}, m.actor || "?"), ` ${what}`);
    this.activityEl.prepend(item);
    while (this.activityEl.children.length > 50) this.activityEl.lastChild.remove();
  }

  schedulePanels() {
    clearTimeout(this.panelTimer);
    this.panelTimer = setTimeout(() => this.reloadPanels(), 200);
  }

  async reloadPanels() {
    // Reads may overlap: only the latest one started is shown.
    const seq = (this.panelSeq = (this.panelSeq || 0) + 1);
    try {
      const p = await api("GET", this.base);
      if (this.closed || seq !== this.panelSeq) return;
      this.packet = p;
      this.renderMeta();
      this.renderPanels();
      this.refreshEditors();
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

  // A form for one action on one item: the text it asks for (none when
  // `field` is null) is posted as `{ [field]: text }` to `path` under the
  // packet; `then` gets the answer.
  actDialog(path, { title, note, submitLabel, field = null, label = "Reason", then = () => {} }) {
    openForm({
      title,
      note,
      submitLabel,
      fields: field ? [{ name: field, label, type: "textarea", required: true }] : [],
      onSubmit: async (v) => then(await this.act("POST", `${this.base}${path}`, field ? { [field]: v[field] } : {})),
    });
  }

  // ---------------------------------------------------------- dialogs
  // ---------------------------------------------------------- side panels
  renderPanels() {
    const p = this.packet;
    this.panelsEl.replaceChildren(
      ...[this.suggestionsPanel(p)].filter(Boolean),
      this.sourcesPanel(p),
      this.prerequisitesPanel(p),
      this.objectionsPanel(p),
      this.revisionsPanel(p),
      this.releasesPanel(p),
      this.historyPanel(),
    );
  }

  panel(title, testid, action, ...content) {
    return h(
      "section",
      { class: "panel card", "data-testid": testid },
      h("header", {}, h("h2", {}, title), action),
      ...content,
    );
  }

}

for (const editor of editors()) mixin(PacketPage, editor.methods);
mixin(PacketPage, Panels);
mixin(PacketPage, Releases);
mixin(PacketPage, Suggestions);
mixin(PacketPage, Approval);
mixin(PacketPage, Audit);
