// Governance measures: reads GET /v1/metrics/governance with the signed-in
// user's bearer token (the one the main page keeps in sessionStorage) and
// shows every measure: its numbers (each in an element with data-field, the
// same dotted names as the CSV export) and, for counts by key, inline SVG
// bars. No build step, no dependencies.

const TOKEN_KEY = "quire.token";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) || "";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

// The same flattening as projections/governance_measures.py (_flatten).
function flatten(value, prefix, out) {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item && typeof item === "object" && "code" in item) {
        const { code, ...rest } = item;
        flatten(rest, `${prefix}.${code}`, out);
      }
    }
  } else if (value !== null && typeof value === "object") {
    for (const [name, item] of Object.entries(value)) {
      flatten(item, prefix ? `${prefix}.${name}` : name, out);
    }
  } else {
    out.push([prefix, value === null || value === undefined ? "" : String(value)]);
  }
  return out;
}

// Counts keyed by name: an object of numbers, or by_code's list.
function series(value) {
  const found = [];
  for (const [name, item] of Object.entries(value)) {
    if (item && typeof item === "object" && !Array.isArray(item)) {
      const numbers = Object.values(item).every((v) => typeof v === "number");
      if (numbers && Object.keys(item).length) found.push([name, Object.entries(item)]);
    } else if (Array.isArray(item) && item.length && "code" in item[0]) {
      found.push([name, item.map((h) => [h.code, h.releases])]);
    }
  }
  return found;
}

function bars(name, pairs) {
  const NS = "http://www.w3.org/2000/svg";
  const max = Math.max(1, ...pairs.map(([, n]) => n));
  const row = 22;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", "520");
  svg.setAttribute("height", String(pairs.length * row + 4));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", name);
  svg.dataset.chart = name;
  pairs.forEach(([label, n], i) => {
    const y = i * row + 2;
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", "0");
    text.setAttribute("y", String(y + 15));
    text.setAttribute("font-size", "12");
    text.textContent = label;
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("x", "230");
    rect.setAttribute("y", String(y + 3));
    rect.setAttribute("height", "14");
    rect.setAttribute("width", String(Math.round((250 * n) / max)));
    rect.setAttribute("fill", "#4a6fa5");
    const count = document.createElementNS(NS, "text");
    count.setAttribute("x", String(236 + Math.round((250 * n) / max)));
    count.setAttribute("y", String(y + 15));
    count.setAttribute("font-size", "12");
    count.textContent = String(n);
    svg.append(text, rect, count);
  });
  return el("figure", {}, el("figcaption", {}, name.replaceAll("_", " ")), svg);
}

function render(body) {
  const root = $("measures");
  root.replaceChildren();
  for (const [id, measure] of Object.entries(body.measures)) {
    const section = el("section", { class: "card measure", "data-measure": id });
    section.append(el("h2", {}, measure.title));
    section.append(el("p", { class: "note definition" }, measure.definition));
    if (!measure.available) {
      section.append(el("p", { class: "unavailable", "data-field": "available" }, "not measured yet"));
    } else {
      const list = el("dl", { class: "numbers" });
      for (const [field, value] of flatten(measure.value, "", [])) {
        list.append(el("dt", {}, field), el("dd", { "data-field": field }, value));
      }
      section.append(list);
      for (const [name, pairs] of series(measure.value)) section.append(bars(name, pairs));
    }
    root.append(section);
  }
  root.dataset.state = "loaded";
}

function query() {
  const params = new URLSearchParams();
  for (const name of ["since", "until"]) {
    const value = $(name).value;
    if (value) params.set(name, `${value}:00Z`);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function load() {
  $("error").hidden = true;
  const response = await fetch(`/v1/metrics/governance${query()}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await response.json();
  if (!response.ok) {
    $("error").textContent = `${body.error.code}: ${body.error.message}`;
    $("error").hidden = false;
    if (response.status === 401) showSignIn();
    return;
  }
  $("signin").hidden = true;
  $("window").hidden = false;
  render(body);
}

async function downloadCsv(event) {
  event.preventDefault();
  const response = await fetch(`/v1/metrics/governance${query()}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/csv" },
  });
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: "governance-measures.csv" });
  link.click();
  URL.revokeObjectURL(url);
}

function showSignIn() {
  $("signin").hidden = false;
  $("window").hidden = true;
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  load();
});
$("window").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
$("csv").addEventListener("click", downloadCsv);

if (token) load();
else showSignIn();
