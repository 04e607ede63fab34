// The approval dialog: the release owner sees exactly what is signed (the
// revision's content and the manifest the gate binds: residuals, sources,
// prerequisites, worksheets...), confirms the content hash by typing its
// first 8 hex characters (the page then sends the full hash), writes the
// meaning (no pre-fill) and the scope, and is warned before signing locks
// after five failed re-authentications in a row. Methods of the packet page.

import { api, ApiError, exact } from "../../core/api.js";
import { flash, openForm } from "../../core/dialogs.js";
import { asList, h, hashEl, when } from "../../core/dom.js";

export const LOCK_AFTER = 5; // workspace/accounts.py SIGNING_LOCK_AFTER

const bareHash = (hash) => String(hash || "").split(":").pop().toLowerCase();

function documentList(title, items, render, testid) {
  return h(
    "section",
    { class: "doc-part", "data-testid": testid },
    h("h3", {}, title),
    items.length ? h("ul", { class: "doc-list" }, items.map((x) => h("li", {}, render(x)))) : h("p", { class: "empty" }, "None."),
  );
}

// A value of an unknown content part, as a readable document (not raw JSON).
export function documentView(value, depth = 0) {
  if (value == null) return h("span", { class: "muted" }, "—");
  if (typeof value === "object" && "rawJSON" in value) return exact(value);
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "none");
    return h("ol", { class: "doc-list" }, value.map((v) => h("li", {}, documentView(v, depth + 1))));
  }
  if (typeof value === "object") {
    return h(
      "dl",
      { class: "doc-fields" },
      Object.entries(value).map(([k, v]) => [h("dt", {}, k.replace(/_/g, " ")), h("dd", {}, depth > 4 ? JSON.stringify(v) : documentView(v, depth + 1))]),
    );
  }
  return String(value);
}

export function contentView(content) {
  const c = content || {};
  const known = new Set(["sections", "sources", "prerequisites", "title", "kind"]);
  return h(
    "div",
    { class: "doc", "data-testid": "signing-content" },
    h("h3", {}, "Sections"),
    asList(c.sections).map((s) => h("section", { class: "released-section" }, h("h4", {}, s.heading, " ", h("code", { class: "sid" }, s.id)), h("p", { class: "released-text" }, s.text))),
    documentList("Sources", asList(c.sources), (s) => [h("strong", {}, s.title), ` (${s.kind}, precedence ${s.precedence}) `, hashEl(s.digest)], "signing-sources"),
    documentList("Prerequisites", asList(c.prerequisites), (p) => [h("strong", {}, p.title), ` ${p.state || ""}`, p.valid_until ? ` until ${when(p.valid_until)}` : ""], "signing-prerequisites"),
    Object.entries(c)
      .filter(([k]) => !known.has(k))
      .map(([k, v]) => h("section", { class: "doc-part", "data-testid": `signing-part-${k}` }, h("h3", {}, k.replace(/_/g, " ")), documentView(v))),
  );
}

export function manifestDocument(m) {
  if (!m) return h("p", { class: "muted" }, "The lane is unknown: there is no manifest to preview.");
  const known = new Set(["residual_objections", "sources", "prerequisites", "packet", "revision", "lane", "signer", "meaning", "signed_at", "scope", "manifest_version", "gate_policy_version", "release_id", "rollback"]);
  return h(
    "div",
    { class: "doc", "data-testid": "signing-manifest" },
    h(
      "dl",
      { class: "doc-fields" },
      h("dt", {}, "Packet"),
      h("dd", {}, m.packet ? `${m.packet.title} (${m.packet.kind})` : ""),
      h("dt", {}, "Revision"),
      h("dd", {}, m.revision ? [`r${m.revision.number} ${m.revision.label || ""} `, hashEl(m.revision.content_hash)] : ""),
      h("dt", {}, "Lane"),
      h("dd", {}, m.lane ? `${m.lane.title} (${m.lane.id}), audience version ${m.lane.audience_version}` : ""),
      h("dt", {}, "Signer"),
      h("dd", {}, m.signer ? `${m.signer.name} (${m.signer.user_id})` : ""),
      h("dt", {}, "Gate policy"),
      h("dd", {}, `${m.gate_policy_version}, manifest v${m.manifest_version}`),
    ),
    documentList("Residual objections accepted", asList(m.residual_objections), (r) => [h("code", {}, r.objection_id), ` accepted by ${r.accepted_by}: `, r.rationale], "signing-residuals"),
    documentList("Sources bound", asList(m.sources), (s) => [h("strong", {}, s.title), ` #${s.precedence} `, hashEl(s.digest)], "signing-manifest-sources"),
    documentList("Prerequisites bound", asList(m.prerequisites), (p) => [h("strong", {}, p.title), ` ${p.state}`], "signing-manifest-prerequisites"),
    Object.entries(m)
      .filter(([k]) => !known.has(k))
      .map(([k, v]) => h("section", { class: "doc-part" }, h("h3", {}, k.replace(/_/g, " ")), documentView(v))),
  );
}

export class Approval {
  async approveDialog(release) {
    const rid = release.release_id || release.id;
    let preview = null;
    try {
      // (Figures in the manifest are strings already: plain JSON is exact here.)
      preview = await api("GET", `${this.base}/releases/${encodeURIComponent(rid)}/preview`);
    } catch (err) {
      if (!(err instanceof ApiError && err.missingRoute)) flash(`The preview could not be read: ${err.message}`);
    }
    const hash = (preview && preview.content_hash) || release.content_hash || "";
    this.failedSignings = preview && preview.signing ? preview.signing.failed_attempts : this.failedSignings || 0;
    const lockAfter = (preview && preview.signing && preview.signing.lock_after) || LOCK_AFTER;
    const warning = h("div", { class: "warn-box", "data-testid": "lockout-warning", role: "status", hidden: !this.failedSignings });
    const showWarning = () => {
      const left = Math.max(0, lockAfter - this.failedSignings);
      warning.hidden = !this.failedSignings;
      warning.textContent =
        left > 0
          ? `${this.failedSignings} failed passphrase attempt${this.failedSignings === 1 ? "" : "s"} in a row: ${left} attempt${left === 1 ? "" : "s"} left before signing locks (an admin must then unlock it).`
          : "Signing is locked after five failed attempts in a row: an admin must unlock it (quire users unlock-signing).";
    };
    showWarning();
    const note = h(
      "div",
      { class: "signing-preview" },
      h("p", {}, `You are signing revision r${release.revision} for lane ${release.lane || release.lane_id || "?"} as its release owner. Read what you sign:`),
      warning,
      preview
        ? [
            h("details", { class: "doc-box", open: true }, h("summary", {}, "The content"), contentView(preview.content)),
            h("details", { class: "doc-box", open: true }, h("summary", {}, "The manifest you sign (its meaning, scope and time are yours to add)"), manifestDocument(preview.manifest)),
          ]
        : h("p", { class: "muted" }, "This server has no preview route; open the revision and its manifest before signing."),
      h("p", {}, "Content hash: ", h("code", { class: "hash-full", "data-testid": "signing-hash" }, hash)),
    );
    openForm({
      title: `Approve ${rid}`,
      note,
      submitLabel: "Sign and approve",
      fields: [
        { name: "hash_prefix", label: "Confirm the content hash: type its first 8 hex characters", required: true, placeholder: "8 characters", hint: "The page sends the full hash only when these match the hash above." },
        { name: "meaning", label: "Meaning of this approval (what you attest, in your words)", type: "textarea", required: true },
        { name: "covered_period", label: "Scope: covered period", placeholder: "e.g. 2025-03" },
        { name: "scope_note", label: "Scope: note", type: "textarea", rows: 2 },
        { name: "passphrase", label: "Signing passphrase", type: "password", required: true },
      ],
      onSubmit: async (v) => {
        const typed = v.hash_prefix.trim().toLowerCase();
        if (!/^[0-9a-f]{8}$/.test(typed) || !bareHash(hash).startsWith(typed)) {
          throw new Error("The 8 characters do not match the start of the content hash shown: check the revision you reviewed.");
        }
        if (!v.meaning.trim()) throw new Error("Say what this approval means.");
        const scope = {};
        if (v.covered_period.trim()) scope.covered_period = v.covered_period.trim();
        if (v.scope_note.trim()) scope.note = v.scope_note.trim();
        const body = { content_hash: hash, meaning: v.meaning.trim(), passphrase: v.passphrase };
        if (Object.keys(scope).length) body.scope = scope;
        try {
          const r = await this.act("POST", `${this.base}/releases/${encodeURIComponent(rid)}/approve`, body);
          this.failedSignings = 0;
          flash(h("span", {}, `Released ${rid}; manifest `, hashEl(r.manifest_hash)), "ok");
        } catch (err) {
          const reasons = asList(err.details && err.details.hold_reasons);
          if (reasons.some((x) => x.code === "REAUTHENTICATION_FAILED")) {
            // The server's count when it says; otherwise one more in a row.
            let counted = false;
            try {
              const again = await api("GET", `${this.base}/releases/${encodeURIComponent(rid)}/preview`);
              if (again.signing) {
                this.failedSignings = again.signing.failed_attempts;
                counted = true;
              }
            } catch {
              // no preview route: count here
            }
            if (!counted) this.failedSignings += 1;
            showWarning();
          }
          throw err;
        }
      },
    });
  }
}
