// The sections editor: live co-authoring of a packet's sections. Follows the
// server's rules (workspace/rebase.py): positions are Unicode code points; one
// edit per section is in flight at a time; incoming edits of other co-authors
// are transformed over the local unsent text, so typing is never clobbered; an
// overlap is surfaced, never dropped.

import { api, ApiError } from "../core/api.js";
import { flash, flashError, openForm } from "../core/dialogs.js";
import { $, h } from "../core/dom.js";
import { wordDiffView } from "../core/worddiff.js";
import { registerEditor } from "./index.js";
import { STREAM_MS } from "../core/live.js";
import { applyOps, cpLen, diffOps, mapCaret, toCp, touchInput, toUtf16, transformOps, userOps } from "../core/ops.js";

export class SectionsEditor {
  renderEmptySections() {
    const empty = $(".empty", this.sectionsEl);
    if (this.sections.size === 0 && !empty) {
      this.sectionsEl.append(h("p", { class: "empty" }, "No sections yet. Add the first one."));
    } else if (this.sections.size > 0 && empty) {
      empty.remove();
    }
  }

  mayWriteText() {
    return this.isAgent ? this.may("suggest") : this.may("edit");
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
    // Only co-authors and the release owner edit; everyone else reads.
    // (An agent author writes too: its change becomes a suggestion.)
    if (!this.mayWriteText()) sec.textarea.readOnly = true;
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
    sec.proposeEl = h(
      "button",
      { type: "button", class: "primary small", hidden: true, "data-testid": "propose-suggestion", onclick: () => this.flush(sec, true) },
      "Propose as suggestion",
    );
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
        this.isAgent && this.may("suggest") ? sec.proposeEl : null,
        this.may("edit")
          ? h("button", { type: "button", class: "ghost small", "data-testid": "section-manage", "aria-label": `Rename, move or remove ${s.heading}`, onclick: () => this.manageSectionDialog(sec) }, "Rename / move…")
          : null,
        this.may("raise_objection")
          ? h(
          "button",
          { type: "button", class: "ghost small", title: "Raise an objection on this section", onclick: () => this.raiseObjectionDialog({ section_id: s.id }) },
          "Object",
        )
          : null,
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
    if (this.isAgent) {
      // An agent's change is a suggestion: sent when the agent proposes it.
      const changed = sec.textarea.value !== sec.server;
      sec.proposeEl.hidden = !changed;
      this.setSaveState(sec, changed ? "pending" : "saved", changed ? "not proposed yet" : "saved");
      return;
    }
    this.setSaveState(sec, "pending", "editing…");
    if (sec.timer) return; // already due: what is typed now goes with it
    sec.timer = setTimeout(() => {
      sec.timer = null;
      this.flush(sec);
    }, STREAM_MS);
  }

  // Sends the local unsent change of a section, one edit in flight at a time.
  flush(sec, propose = false) {
    clearTimeout(sec.timer);
    sec.timer = null;
    if (this.closed || sec.inflight || sec.blocked) return;
    if (this.isAgent && !propose) return;
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
    if (result.suggestion_id) {
      this.suggestionRecorded(sec, result.suggestion_id);
      return;
    }
    const expected = applyOps(sec.server, f.ops);
    sec.inflight = null;
    this.rebaseLocal(sec, expected, result.text, result.version, null);
    this.bumpVersion(result.version);
    this.flush(sec);
  }

  // An agent's edit was recorded as a suggestion: the section keeps the
  // server's text, and the suggestion waits in the suggestions panel.
  suggestionRecorded(sec, suggestionId) {
    if (!sec.inflight) return;
    sec.inflight = null;
    clearTimeout(sec.ackTimer);
    sec.touched = null;
    sec.textarea.value = sec.server;
    sec.proposeEl.hidden = true;
    this.setSaveState(sec, "saved", `suggested as ${suggestionId}`);
    flash(`Suggestion ${suggestionId} proposed: a co-author accepts or rejects it.`, "ok");
    this.schedulePanels();
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
      sec.textarea.readOnly = !this.mayWriteText();
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
        h("p", { class: "muted small" }, "Your change against the current text, word by word:"),
        wordDiffView(sec.server, mine, { "data-testid": "conflict-diff" }),
        h("details", {}, h("summary", {}, "Your whole version"), kept),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "ghost", onclick: () => unblock(false) }, "Keep the current text"),
          h("button", { type: "button", class: "primary", onclick: () => unblock(true) }, "Use my version"),
        ),
      ),
    );
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


  // Rename, move or remove one section (co-authors and the release owner).
  manageSectionDialog(sec) {
    const order = [...this.sections.keys()];
    const at = order.indexOf(sec.id);
    const options = order.map((id, i) => ({ value: String(i), label: `${i + 1}${i === at ? " (where it is)" : ""}: ${this.sections.get(id).heading}` }));
    const path = `${this.base}/sections/${encodeURIComponent(sec.id)}`;
    openForm({
      title: `Section ${sec.id}: ${sec.heading}`,
      note: "Renaming and moving keep the text. Removing takes the section out of the packet from now on; every revision already cut keeps it.",
      submitLabel: "Apply",
      fields: [
        { name: "heading", label: "Heading", required: true, value: sec.heading },
        { name: "position", label: "Position", type: "select", options, value: String(at) },
        { name: "remove", label: "Remove this section", type: "checkbox" },
      ],
      onSubmit: async (v) => {
        if (v.remove) {
          await this.act("POST", `${path}/remove`, {});
          if (this.sections.has(sec.id)) {
            sec.el.remove();
            this.sections.delete(sec.id);
            this.renderEmptySections();
          }
          flash(`Section ${sec.id} removed`, "ok");
          return;
        }
        const heading = v.heading.trim();
        if (heading !== sec.heading) {
          await this.act("POST", `${path}/retitle`, { heading });
          sec.heading = heading;
          sec.headingEl.textContent = heading;
        }
        if (Number(v.position) !== at) {
          await this.act("POST", `${path}/move`, { position: Number(v.position) });
          await this.reorderSections();
        }
      },
    });
  }

  // Puts the section cards in the packet's order (after a move, here or by
  // a co-author: SectionMoved).
  async reorderSections() {
    try {
      const p = await api("GET", this.base);
      for (const s of p.sections || []) {
        const sec = this.sections.get(s.id);
        if (sec) this.sectionsEl.append(sec.el);
      }
    } catch (err) {
      flashError(err);
    }
  }

}

registerEditor({ id: "sections", title: "Sections", methods: SectionsEditor });
