// The flash line and the one reusable form dialog.

import { errorBox, errorText } from "./api.js";
import { $, h } from "./dom.js";

let flashTimer = null;
export function flash(message, kind = "error") {
  const el = $("#flash");
  el.replaceChildren(message instanceof Node ? message : document.createTextNode(message));
  el.className = `flash flash-${kind}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (el.hidden = true), kind === "error" ? 9000 : 3500);
}

export function flashError(err) {
  flash(errorText(err), "error");
}

// One reusable <dialog> with a form built from a field list; the submit
// handler's errors are shown inside it and the dialog stays open.
export function openForm({ title, note, fields, submitLabel = "Save", onSubmit }) {
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
    } else if (f.type === "multiselect") {
      // A picker of several (users, kinds): options come from the API, so a
      // typo cannot name somebody who does not exist.
      const chosen = new Set(f.value || []);
      input = h(
        "select",
        { id, name: f.name, multiple: true, size: Math.min(6, Math.max(3, (f.options || []).length)) },
        (f.options || []).map((o) => h("option", { value: o.value, selected: chosen.has(o.value) }, o.label)),
      );
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
      if (f.type === "checkbox") out[f.name] = input.checked;
      else if (f.type === "multiselect") out[f.name] = [...input.selectedOptions].map((o) => o.value);
      else out[f.name] = input.value;
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

export function openInfo(title, content) {
  openForm({ title, note: content, fields: [] });
}
