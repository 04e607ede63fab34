// The packet screen's releases panel: requests, holds, residuals, approval.
// Methods of the packet page.

import { flash, flashError, openForm } from "../../core/dialogs.js";
import { asList, badge, h, hashEl, holdReasons, itemList, shortHash, supersessionView } from "../../core/dom.js";
import { lanes } from "../../core/directory.js";
import { revNumber } from "./common.js";
import { session } from "../../core/state.js";

export class Releases {
  releasesPanel(p) {
    const releases = asList(p.releases);
    const add = this.may("request_release") ? h("button", { type: "button", class: "ghost small", "data-testid": "request-release", onclick: () => this.requestReleaseDialog() }, "Request release") : null;
    const isOwner = this.may("release_owner");
    const me = session.me ? session.me.user_id : "";
    const list = itemList(releases, "No releases requested.", (r) => {
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
        asList(r.signers_required).length > 1
          ? h(
              "div",
              { class: "item-sub", "data-testid": "signatures" },
              h("span", { class: "muted" }, "Signatures: "),
              `${asList(r.signatures).length} of ${asList(r.signers_required).length}`,
              asList(r.signatures).length ? ` (signed: ${asList(r.signatures).map((x) => x.signer).join(", ")})` : "",
              asList(r.signatures_missing).length ? `; awaiting ${asList(r.signatures_missing).join(", ")}` : "",
            )
          : null,
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
          !isOwner && ["pending", "held"].includes(r.status) && asList(r.signatures_missing).includes(me)
            ? h("button", { type: "button", class: "primary small", "data-testid": "approve", onclick: () => this.approveDialog(r) }, "Sign…")
            : null,
          isOwner && r.status === "released"
            ? h("button", { type: "button", class: "ghost small", "data-testid": "hold", onclick: () => this.holdDialog(r) }, "Withdraw…")
            : null,
          ["pending", "held"].includes(r.status) && !this.isAgent && (isOwner || (r.requested_by && r.requested_by === me))
            ? h("button", { type: "button", class: "ghost small", "data-testid": "cancel-release", onclick: () => this.cancelReleaseDialog(rid) }, "Cancel request…")
            : null,
          h("button", { type: "button", class: "ghost small", onclick: () => this.manifestDialog(rid) }, "Manifest"),
        ),
      );
    });
    return this.panel("Releases", "panel-releases", add, list);
  }

  async requestReleaseDialog() {
    const revisions = asList(this.packet.revisions);
    if (!revisions.length) {
      flash("Cut a revision first: a release hands one exact revision to one lane.", "warn");
      return;
    }
    const options = revisions.map((r) => ({ value: String(revNumber(r)), label: `r${revNumber(r)}${r.label ? ` ${r.label}` : ""} · ${shortHash(r.content_hash)}` }));
    // The lanes that accept this packet's kind: a typo cannot create a held release.
    const laneOptions = (await lanes().catch(() => []))
      .filter((l) => (l.accepts_kinds || []).includes(this.packet.kind))
      .map((l) => ({ value: l.id, label: `${l.title} (${l.id})` }));
    openForm({
      title: "Request a release",
      submitLabel: "Request",
      fields: [
        { name: "revision", label: "Revision", type: "select", options, value: options[options.length - 1].value },
        laneOptions.length
          ? { name: "lane", label: "Intake lane", type: "select", options: laneOptions, value: laneOptions[0].value, hint: `The lanes that accept ${this.packet.kind}.` }
          : { name: "lane", label: "Intake lane", required: true, placeholder: "account-governance-review", hint: `No lane accepts ${this.packet.kind} yet: ask an admin.` },
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
    this.actDialog(`/releases/${encodeURIComponent(rid)}/hold`, {
      title: released ? `Withdraw ${rid} from its lane` : `Hold ${rid}`,
      note: released
        ? "The release is superseded now (cause HELD_BY_RELEASE_OWNER); its lane sees it withdrawn, with your reason. Request a new release to hand the packet over again."
        : "Nobody can approve this release until you lift the hold. The reason is recorded with the hold.",
      submitLabel: released ? "Withdraw" : "Hold",
      field: "reason",
      then: (r) => flash(`Release ${rid} is ${r.status}`, "warn"),
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

  // The release owner or whoever requested it withdraws an open request for good.
  cancelReleaseDialog(rid) {
    this.actDialog(`/releases/${encodeURIComponent(rid)}/cancel`, {
      title: `Cancel release request ${rid}`,
      note: "A cancelled request can never be approved; request a new release to hand the packet over later. The reason is recorded.",
      submitLabel: "Cancel the request",
      field: "reason",
      then: (r) => flash(`Release ${rid} is ${r.status}`, "ok"),
    });
  }
}
