// A very small DOM for running the widgets under node: elements, text nodes,
// attributes, events and simple selectors (tag, #id, .class, [attr], [attr=v],
// descendant). Any use of an HTML-parsing API throws, so a widget that tries
// to set markup fails its test.

const HTML_SINKS = ['innerHTML', 'outerHTML'];

class FakeNode extends EventTarget {
  constructor(ownerDocument) {
    super();
    this.ownerDocument = ownerDocument;
    this.parentNode = null;
    this.childNodes = [];
  }

  get children() {
    return this.childNodes.filter((n) => n instanceof FakeElement);
  }

  get textContent() {
    return this.childNodes.map((n) => n.textContent).join('');
  }

  set textContent(value) {
    this.replaceChildren();
    const text = String(value ?? '');
    if (text !== '') this.append(this.ownerDocument.createTextNode(text));
  }

  #adopt(node) {
    if (!(node instanceof FakeNode)) throw new TypeError('only nodes can be inserted (got a string of markup?)');
    if (node.parentNode) node.remove();
    node.parentNode = this;
    return node;
  }

  append(...nodes) {
    for (const n of nodes) {
      const node = typeof n === 'string' ? this.ownerDocument.createTextNode(n) : n;
      this.childNodes.push(this.#adopt(node));
    }
  }

  insertBefore(node, ref) {
    if (ref === null || ref === undefined) {
      this.append(node);
      return node;
    }
    if (node === ref) return node;
    this.#adopt(node);
    const i = this.childNodes.indexOf(ref);
    if (i < 0) throw new Error('reference node is not a child');
    this.childNodes.splice(i, 0, node);
    return node;
  }

  replaceChildren(...nodes) {
    for (const child of this.childNodes) child.parentNode = null;
    this.childNodes = [];
    this.append(...nodes);
  }

  remove() {
    if (!this.parentNode) return;
    const siblings = this.parentNode.childNodes;
    siblings.splice(siblings.indexOf(this), 1);
    this.parentNode = null;
  }

  contains(node) {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }

  *descendants() {
    for (const child of this.children) {
      yield child;
      yield* child.descendants();
    }
  }

  querySelectorAll(selector) {
    const parts = parseSelector(selector);
    return [...this.descendants()].filter((el) => matchesChain(el, parts, this));
  }

  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }
}

class FakeText extends FakeNode {
  constructor(doc, text) {
    super(doc);
    this.data = String(text);
  }

  get textContent() {
    return this.data;
  }

  set textContent(v) {
    this.data = String(v);
  }
}

class FakeElement extends FakeNode {
  constructor(doc, tagName, namespaceURI = 'http://www.w3.org/1999/xhtml') {
    super(doc);
    this.tagName = tagName.toUpperCase();
    this.localName = tagName;
    this.namespaceURI = namespaceURI;
    this.attributes = new Map();
    this.style = {};
    this._value = undefined;
    for (const sink of HTML_SINKS) {
      Object.defineProperty(this, sink, {
        get() {
          throw new Error(`${sink} is not allowed`);
        },
        set() {
          throw new Error(`${sink} is not allowed`);
        },
      });
    }
  }

  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML is not allowed');
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  hasAttribute(name) {
    return this.attributes.has(name);
  }

  removeAttribute(name) {
    this.attributes.delete(name);
  }

  get id() {
    return this.getAttribute('id') ?? '';
  }

  get className() {
    return this.getAttribute('class') ?? '';
  }

  set className(v) {
    this.setAttribute('class', v);
  }

  get dataset() {
    const out = {};
    for (const [k, v] of this.attributes) {
      if (k.startsWith('data-')) out[k.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = v;
    }
    return out;
  }

  get hidden() {
    return this.hasAttribute('hidden');
  }

  set hidden(v) {
    if (v) this.setAttribute('hidden', '');
    else this.removeAttribute('hidden');
  }

  // <select>/<option> value, enough for the feed filters.
  get value() {
    if (this.localName === 'select') {
      const options = this.querySelectorAll('option');
      const chosen = options.find((o) => o._selected) ?? options[0];
      return chosen ? chosen.value : '';
    }
    if (this.localName === 'option') return this.getAttribute('value') ?? this.textContent;
    return this._value ?? '';
  }

  set value(v) {
    if (this.localName === 'select') {
      for (const o of this.querySelectorAll('option')) o._selected = o.value === String(v);
      return;
    }
    this._value = String(v);
  }

  focus() {
    this.ownerDocument.activeElement = this;
  }

  click() {
    this.dispatchEvent(new Event('click'));
  }
}

function parseCompound(text) {
  const out = { tag: null, id: null, classes: [], attrs: [] };
  const re = /([a-zA-Z][\w-]*)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\]]*)))?\]/gy;
  let m;
  let consumed = 0;
  while ((m = re.exec(text)) !== null) {
    consumed = re.lastIndex;
    if (m[1]) out.tag = m[1].toLowerCase();
    else if (m[2]) out.id = m[2];
    else if (m[3]) out.classes.push(m[3]);
    else out.attrs.push({ name: m[4], value: m[5] ?? m[6] ?? m[7] ?? null });
  }
  if (consumed !== text.length) throw new Error(`fake-dom cannot parse selector part "${text}"`);
  return out;
}

function parseSelector(selector) {
  return selector.trim().split(/\s+/).map(parseCompound);
}

function matchesCompound(el, c) {
  if (c.tag && el.localName.toLowerCase() !== c.tag) return false;
  if (c.id && el.getAttribute('id') !== c.id) return false;
  const classes = (el.getAttribute('class') ?? '').split(/\s+/);
  if (!c.classes.every((k) => classes.includes(k))) return false;
  return c.attrs.every(({ name, value }) => (value === null ? el.hasAttribute(name) : el.getAttribute(name) === value));
}

function matchesChain(el, parts, scope) {
  if (!matchesCompound(el, parts[parts.length - 1])) return false;
  let i = parts.length - 2;
  let node = el.parentNode;
  while (i >= 0 && node && node !== scope) {
    if (node instanceof FakeElement && matchesCompound(node, parts[i])) i -= 1;
    node = node.parentNode;
  }
  return i < 0;
}

export class FakeDocument extends FakeNode {
  constructor() {
    super(null);
    this.ownerDocument = this;
    this.activeElement = null;
    this.body = this.createElement('body');
    this.append(this.body);
  }

  createElement(tag) {
    return new FakeElement(this, tag);
  }

  createElementNS(ns, tag) {
    return new FakeElement(this, tag, ns);
  }

  createTextNode(text) {
    return new FakeText(this, text);
  }

  getElementById(id) {
    return this.querySelector(`#${id}`);
  }

  write() {
    throw new Error('document.write is not allowed');
  }
}

/** Install a fresh fake document as globalThis.document; returns it and a restore function. */
export function installDom() {
  const previous = globalThis.document;
  const doc = new FakeDocument();
  globalThis.document = doc;
  return {
    doc,
    restore() {
      if (previous === undefined) delete globalThis.document;
      else globalThis.document = previous;
    },
  };
}

/** A key press event. */
export function keyEvent(key) {
  const ev = new Event('keydown', { bubbles: true, cancelable: true });
  Object.defineProperty(ev, 'key', { value: key });
  return ev;
}
