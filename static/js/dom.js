// Tiny DOM builders. Data goes in only as text nodes and attributes: there is
// no way to pass markup through here. `document` is looked up at call time,
// so importing this module needs no DOM.

const SVG_NS = 'http://www.w3.org/2000/svg';

function doc() {
  return globalThis.document;
}

function apply(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : doc().createTextNode(String(child)));
  }
  return el;
}

/** h('li', {class: 'x', 'data-key': k}, 'text', child) -> HTMLElement */
export function h(tag, attrs, ...children) {
  return append(apply(doc().createElement(tag), attrs), children);
}

/** Same as h() in the SVG namespace. */
export function svg(tag, attrs, ...children) {
  return append(apply(doc().createElementNS(SVG_NS, tag), attrs), children);
}

/** Set text only when it changed (avoids needless live-region chatter). */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** Set or remove an attribute; only touches the DOM when the value changes. */
export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
    return;
  }
  const s = value === true ? '' : String(value);
  if (el.getAttribute(name) !== s) el.setAttribute(name, s);
}
