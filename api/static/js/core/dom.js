// Building elements, and the small views every screen shows (badges, hashes,
// hold reasons, supersession, manifests).

export function h(tag, attrs = {}, ...children) {
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

export const $ = (sel, root = document) => root.querySelector(sel);

export function badge(status) {
  const s = String(status || "draft").toLowerCase();
  return h("span", { class: `badge badge-${s.replace(/[^a-z_-]/g, "")}`, "data-testid": "status" }, s);
}

export function shortHash(hash) {
  if (!hash) return "";
  const s = String(hash);
  const bare = s.includes(":") ? s.split(":").pop() : s;
  return bare.length > 14 ? `${bare.slice(0, 12)}…` : bare;
}

export function hashEl(hash) {
  return h("code", { class: "hash", title: String(hash || "") }, shortHash(hash));
}

export function when(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

export function asList(value) {
  if (!value) return [];
  return Array.isArray(value) ? value : Object.values(value);
}

// A panel's list: `render` makes each item's <li>; none, a line saying so.
export function itemList(items, empty, render) {
  return items.length ? h("ul", { class: "items" }, items.map(render)) : h("p", { class: "empty" }, empty);
}

export function initials(user) {
  const parts = String(user).split(/[._@-]/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[1][0] : String(user).slice(0, 2)).toUpperCase();
}

export function holdReasons(reasons) {
  return h(
    "ul",
    { class: "hold-reasons", "data-testid": "hold-reasons" },
    reasons.map((x) => h("li", {}, h("code", { class: "code" }, x.code), x.detail ? ` ${x.detail}` : "")),
  );
}

export function supersessionView(sup) {
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

export function jsonBlock(data) {
  return h("pre", { class: "json" }, JSON.stringify(data, null, 2));
}

export function manifestView(data) {
  return h(
    "div",
    { class: "manifest" },
    h("p", {}, badge(data.status), " ", h("span", { class: "muted" }, "manifest hash "), h("code", { class: "hash-full" }, data.manifest_hash || "")),
    data.supersession ? supersessionView(data.supersession) : null,
    jsonBlock(data.manifest || {}),
  );
}

// The main area every screen renders into.
export const view = () => $("#view");
