// Small DOM helpers.  Text always goes in as text (textContent), never as HTML:
// what the workflow says or sends is shown as it is, and cannot inject markup.

// el('button', {type: 'button', 'aria-label': 'x'}, 'text', child...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

// Set a node's text only when it changed (keeps selections and screen readers calm).
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

// Make container's children match items, one element per key, in order: existing
// elements are kept (and keep focus), new ones made with create(item), all
// brought up to date with update(element, item).
export function keyed(container, items, key, create, update) {
  const existing = new Map();
  for (const child of Array.from(container.children)) existing.set(child.dataset.key, child);
  let previous = null;
  for (const item of items) {
    const k = key(item);
    let node = existing.get(k);
    if (node) existing.delete(k);
    else {
      node = create(item);
      node.dataset.key = k;
    }
    update(node, item);
    const want = previous ? previous.nextSibling : container.firstChild;
    if (want !== node) container.insertBefore(node, want);
    previous = node;
  }
  for (const node of existing.values()) node.remove();
}
