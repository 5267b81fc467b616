// Rules the front end keeps, checked over the source files themselves.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const JS_DIR = join(ROOT, 'static/js');
const TEMPLATES = join(ROOT, 'templates');

function walk(dir, ext) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(p, ext));
    else if (p.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

const jsFiles = walk(JS_DIR, '.js');
const read = (p) => readFileSync(p, 'utf8');
// Comments may mention what the code must not do; check code only.
const code = (p) => read(p).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

describe('static/js', () => {
  test('has the expected modules', () => {
    const names = jsFiles.map((p) => relative(JS_DIR, p));
    for (const name of ['socket.js', 'format.js', 'main.js', 'widgets/system-status.js', 'widgets/live-feed.js', 'widgets/alert-banner.js', 'widgets/charts.js']) {
      assert.ok(names.includes(name), name);
    }
  });

  test('never builds HTML from strings', () => {
    for (const p of jsFiles) {
      const src = code(p);
      for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'createContextualFragment', 'DOMParser', 'eval(', 'new Function']) {
        assert.ok(!src.includes(sink), `${relative(ROOT, p)} uses ${sink}`);
      }
    }
  });

  test('uses relative URLs only', () => {
    for (const p of jsFiles) {
      const src = code(p);
      assert.doesNotMatch(src, /['"`]\/(api|static)\b/, `${relative(ROOT, p)} has a root-absolute URL`);
      assert.doesNotMatch(src, /['"`]wss?:\/\//, `${relative(ROOT, p)} hard-codes a socket URL`);
      const urls = src.match(/https?:\/\/[^'"`\s]+/g) || [];
      assert.deepEqual(urls.filter((u) => u !== 'http://www.w3.org/2000/svg'), [], relative(ROOT, p));
    }
  });

  test('every module imports in node without a DOM', async () => {
    assert.equal(globalThis.document, undefined);
    for (const p of jsFiles) {
      const mod = await import(pathToFileURL(p).href);
      assert.ok(Object.keys(mod).length > 0, `${relative(ROOT, p)} exports something`);
    }
  });

  test('one WebSocket for the page: only socket.js constructs it', () => {
    const users = jsFiles.filter((p) => /new\s+(this\.#)?WebSocket\b/.test(code(p)) || /new\s+WebSocket\s*\(/.test(code(p)));
    assert.deepEqual(users.map((p) => relative(JS_DIR, p)), ['socket.js']);
  });

  test('no list keys from the clock', () => {
    for (const p of jsFiles) assert.doesNotMatch(code(p), /key[^\n]*Date\.now\(\)/, relative(ROOT, p));
  });
});

describe('templates', () => {
  const dashboard = read(join(TEMPLATES, 'dashboard.html'));
  const base = read(join(TEMPLATES, 'base.html'));

  test('the dashboard extends base and embeds the config as JSON', () => {
    assert.match(dashboard, /{%\s*extends\s+"base\.html"\s*%}/);
    assert.match(dashboard, /<script type="application\/json" id="livewatch-config">{{ config\|tojson }}<\/script>/);
    assert.match(dashboard, /<script type="module" src="static\/js\/main\.js"><\/script>/);
  });

  test('all src/href URLs are relative', () => {
    for (const [name, text] of [['base.html', base], ['dashboard.html', dashboard]]) {
      const refs = [...text.matchAll(/\b(?:src|href|action)="([^"]*)"/g)].map((m) => m[1]);
      assert.ok(refs.length > 0, name);
      for (const ref of refs) {
        assert.ok(!ref.startsWith('/') && !/^[a-z]+:\/\//i.test(ref), `${name}: ${ref} is not relative`);
      }
    }
    assert.match(base, /href="static\/css\/dashboard\.css"/);
  });

  test('mount points and the alert live region are in the page', () => {
    for (const id of ['alerts', 'system-status', 'feed', 'charts', 'main']) assert.match(dashboard, new RegExp(`id="${id}"`), id);
    assert.match(dashboard, /id="alerts"[^>]*aria-live="polite"/);
  });
});
