import { api, errorBox } from "../core/api.js";
import { flash, flashError, openForm } from "../core/dialogs.js";
import { asList, badge, h, hashEl, supersessionView, view, when } from "../core/dom.js";
import { rawJson } from "../core/readable.js";
import { manifestDocument } from "./packet/approval.js";
import { FINAL_CLOSE_CODES, POLL_MS } from "../core/live.js";
import { session } from "../core/state.js";

// The lane's live channel (GET /v1/lanes/{lane}/live): a `release`,
// `supersession` or `decision` message re-reads the screen in place, so a
// member's inbox and release pages update without a reload. One socket per
// open lane; it closes when the user leaves the lane's screens.
const LIVE_TYPES = new Set(["release", "supersession", "decision"]);
let live = null; // {lane, ws, rerender, subscribed}

function follow(lane, rerender) {
  if (live && live.lane === lane && live.ws.readyState <= 1) {
    live.rerender = rerender;
    return;
  }
  stopFollowing();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let ws;
  try {
    ws = new WebSocket(`${proto}//${location.host}/v1/lanes/${encodeURIComponent(lane)}/live`);
  } catch (err) {
    return;
  }
  const mine = { lane, ws, rerender, subscribed: false };
  live = mine;
  // The token goes in the first message, never in the URL.
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: session.token }));
  ws.onmessage = (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch (err) {
      return;
    }
    if (live !== mine) return;
    if (m.type === "subscribed") {
      mine.subscribed = true;
      mine.rerender(); // whatever happened before the socket joined
    } else if (LIVE_TYPES.has(m.type)) {
      mine.rerender();
    }
  };
  ws.onclose = (ev) => {
    if (live !== mine) return;
    live = null;
    if (FINAL_CLOSE_CODES.has(ev.code) || ev.code === 4401) return;
    setTimeout(() => {
      if (!live && onLane(lane)) follow(lane, mine.rerender);
    }, POLL_MS);
  };
}

function stopFollowing() {
  if (!live) return;
  const { ws } = live;
  live = null;
  ws.onclose = null;
  ws.close();
}

function onLane(lane) {
  return location.hash.startsWith(`#/inbox/${encodeURIComponent(lane)}`);
}

window.addEventListener("hashchange", () => {
  if (live && !onLane(live.lane)) stopFollowing();
});

function liveBadge(lane) {
  const on = live && live.lane === lane && live.subscribed;
  return h("span", { class: "muted small", "data-testid": "lane-live", "data-live": on ? "on" : "off" }, on ? "● live" : "");
}

// Each render is numbered: a slower, older render (the inbox read while the
// user already opened a release, or a live re-read overtaken by a newer one)
// never replaces the page a newer render put up.
let renders = 0;

export async function renderInbox(lane, releaseId) {
  const mine = ++renders;
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
  const body = h("div", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, lane ? `Lane inbox: ${lane}` : "Lane inbox"), lane ? liveBadge(lane) : null, form));
  if (!lane) {
    stopFollowing();
    view().replaceChildren(body);
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
  follow(lane, () => {
    if (onLane(lane)) renderInbox(lane, releaseId);
  });
  await fillLane(body, lane, laneBase, releaseId);
  // Replaced only once filled: a live re-read never flashes an empty page.
  if (mine === renders) view().replaceChildren(body);
}

async function fillLane(body, lane, laneBase, releaseId) {
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
          decisionControl(laneBase, releaseId, r, () => fillAgain(body, lane, laneBase, releaseId)),
          signedView(r),
          asList(content.sections).map((s) => h("section", { class: "released-section" }, h("h3", {}, s.heading), h("p", { class: "released-text" }, s.text))),
          h("details", {}, h("summary", {}, "Manifest"), manifestDocument(r.manifest), rawJson(r.manifest || {})),
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

function fillAgain(body, lane, laneBase, releaseId) {
  body.replaceChildren();
  return fillLane(body, lane, laneBase, releaseId);
}

// The categories a lane returns a release for (API.md v2), in words.
const RETURN_CATEGORIES = [
  ["narrower_scope", "Needs a narrower scope"],
  ["fresher_support", "Needs fresher support"],
  ["audience_mistake", "Sent to the wrong audience"],
  ["hidden_drift", "Hidden drift discovered"],
  ["other", "Other"],
];

// The lane decides once: accepted, or returned with a reason category.
function decisionControl(laneBase, releaseId, r, rerender) {
  const path = `${laneBase}/releases/${encodeURIComponent(releaseId)}/decision`;
  if (r.decision) {
    const d = r.decision;
    const why = d.reason_category ? ` (${(RETURN_CATEGORIES.find(([v]) => v === d.reason_category) || [, d.reason_category])[1]}${d.reason ? `: ${d.reason}` : ""})` : "";
    return h("p", { class: "decision", "data-testid": "lane-decision" }, h("strong", {}, d.decision === "accepted" ? "Accepted" : "Returned"), ` by ${d.by}${why}, ${when(d.at)}.`);
  }
  if (r.status !== "released") return null;
  const decide = async (body) => {
    await api("POST", path, body);
    flash(body.decision === "accepted" ? "Release accepted." : "Release returned.", "ok");
    await rerender();
  };
  return h(
    "div",
    { class: "item-actions", "data-testid": "decide" },
    h("button", { type: "button", class: "primary", "data-testid": "accept-release", onclick: () => decide({ decision: "accepted" }).catch(flashError) }, "Accept"),
    h(
      "button",
      {
        type: "button",
        class: "ghost",
        "data-testid": "return-release",
        onclick: () =>
          openForm({
            title: "Return this release",
            note: "The owner and co-authors see the category and the reason; a new revision can follow.",
            submitLabel: "Return",
            fields: [
              { name: "reason_category", label: "Why", type: "select", options: RETURN_CATEGORIES.map(([value, label]) => ({ value, label })) },
              { name: "reason", label: "Reason", type: "textarea", required: true },
            ],
            onSubmit: (v) => decide({ decision: "returned", reason_category: v.reason_category, reason: v.reason }),
          }),
      },
      "Return…",
    ),
  );
}

// What was signed, as the lane sees it: signatures, scope, residual objections
// with their text and the owner's rationale, bound sources and prerequisites,
// the owner's non-material judgements and the changes since the release it
// replaced.
function signedView(r) {
  const rows = (items, render) => (asList(items).length ? h("ul", { class: "items" }, asList(items).map((x) => h("li", { class: "item" }, render(x)))) : h("p", { class: "muted" }, "None."));
  const scope = r.scope || {};
  const declared = scope.declared ? Object.entries(scope.declared).map(([k, v]) => `${k}: ${v}`).join("; ") : "";
  const diff = r.diff_from_previous;
  return h(
    "div",
    { class: "signed-view", "data-testid": "what-was-signed" },
    h("h3", {}, "Signed by"),
    rows(r.signatures, (s) => [h("strong", {}, s.name || s.signer), ` (${s.signer}): “${s.meaning}”, ${when(s.signed_at)}`]),
    h("h3", {}, "Scope"),
    h("p", {}, scope.statement || declared || h("span", { class: "muted" }, "Not stated.")),
    h("h3", {}, "Residual objections accepted"),
    rows(r.residuals, (x) => [h("p", { class: "residual-text" }, x.text), h("p", { class: "muted" }, `Rationale: ${x.rationale}`)]),
    h("h3", {}, "Sources"),
    rows(r.sources, (s) => [h("strong", {}, s.title || s.source_id), ` precedence ${s.precedence}, digest `, hashEl(s.digest)]),
    h("h3", {}, "Prerequisites"),
    rows(r.prerequisites, (p) => [p.title || p.prerequisite_id, `: ${p.state}`]),
    asList(r.non_material_refreshes).length ? [h("h3", {}, "Refreshes judged not material"), rows(r.non_material_refreshes, (n) => `${n.source_id}: ${n.reason || ""}`)] : null,
    diff ? h("details", {}, h("summary", {}, `Changes since the release it replaced (r${diff.from} → r${diff.to})`), rawJson(diff)) : null,
  );
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
