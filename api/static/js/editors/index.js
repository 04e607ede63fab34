// The packet's content editors, by id. A content module (sections today;
// worksheets, plans, options later) registers one here, and the packet screen
// (screens/packet/page.js) takes its methods onto the page:
//
//   registerEditor({ id: "sections", title: "Sections", methods: SectionsEditor });
//
// `methods` is a class whose methods run as the packet page's own (`this` is
// the page: its packet, version, live channel and `act()`). Optional:
// `mount` names a method returning the editor's block in the packet's main
// column, `onEvent` a method called as `(type, data, message)` with every
// event of the packet's live channel (re-read on its own events: "live for
// co-authors like sections are").

const registry = new Map();

export function registerEditor(editor) {
  registry.set(editor.id, editor);
}

export function editors() {
  return [...registry.values()];
}

// Copies a class's methods onto another class's prototype.
export function mixin(target, source) {
  for (const name of Object.getOwnPropertyNames(source.prototype)) {
    if (name === "constructor") continue;
    Object.defineProperty(target.prototype, name, Object.getOwnPropertyDescriptor(source.prototype, name));
  }
}
