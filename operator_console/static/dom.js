// The one element helper of the console, and the small DOM routines every screen shares.
// Data from the hub only ever reaches the page as text or attribute values, never as HTML.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

// A child that is absent (null, undefined, false) is skipped: it must never print as "null".
function childNodes(children) {
  const out = [];
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (child instanceof Node) out.push(child);
    else if (typeof child === "string" || typeof child === "number") out.push(document.createTextNode(String(child)));
    else throw new TypeError(`cannot show ${Object.prototype.toString.call(child)} as a node`);
  }
  return out;
}

/**
 * A new element. Props: `class`, `text` (textContent), `dataset`, `on<event>` listeners, and
 * attributes; a prop that is null, undefined or false is left out, true sets an empty attribute.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...childNodes(children));
  return node;
}

/** Replace the children of `node`, skipping absent ones. */
export function fill(node, ...children) {
  node.replaceChildren(...childNodes(children));
  return node;
}

/** Append to `node`, skipping absent children. */
export function add(node, ...children) {
  node.append(...childNodes(children));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  attach: "M16.5 9.5 10 16a3.5 3.5 0 0 1-5-5l7-7a2.3 2.3 0 0 1 3.3 3.3l-7 7a1.2 1.2 0 0 1-1.7-1.7l6.3-6.3",
  back: "M12.5 4.5 7 10l5.5 5.5",
  client: "M10 10a3.2 3.2 0 1 0 0-6.4 3.2 3.2 0 0 0 0 6.4zM3.8 16.5c.9-2.8 3.3-4.3 6.2-4.3s5.3 1.5 6.2 4.3",
  panelClose: "M8 5l5 5-5 5",
  panelOpen: "M12 5l-5 5 5 5",
  more: "M5 8l5 5 5-5",
  file: "M6 2.5h5.5L15 6v11.5H6zM11.5 2.5V6H15",
};

/** An inline SVG icon (stroke drawing, 20×20), hidden from screen readers. */
export function icon(name, size = 20) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 20 20");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  for (const [k, v] of [["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "1.7"],
    ["stroke-linecap", "round"], ["stroke-linejoin", "round"]]) path.setAttribute(k, v);
  svg.append(path);
  return svg;
}

// What each reusable node was last rendered from, so unchanged nodes are left alone.
const renderedAs = new WeakMap();

/** True when `node` was last rendered from `signature`; otherwise records it and says false. */
export function unchanged(node, signature) {
  if (renderedAs.get(node) === signature) return true;
  renderedAs.set(node, signature);
  return false;
}

/**
 * Reorders `container` to match `nodes` while moving as few elements as possible, so that
 * scroll position, focus and text selection survive live updates.
 */
export function reconcileChildren(container, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...container.children]) {
    if (!wanted.has(child)) child.remove();
  }
  let cursor = container.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) cursor = cursor.nextElementSibling;
    else container.insertBefore(node, cursor);
  }
}

let toastTimer = null;

/** A short message at the bottom of the screen for five seconds. */
export function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 5000);
}
