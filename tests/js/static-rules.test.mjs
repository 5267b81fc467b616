// Rules the front end keeps, checked over the source files themselves.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const JS_DIR = join(ROOT, 'static/js');
const TEMPLATES = join(ROOT, 'templates');
const CSS = join(ROOT, 'static/css/dashboard.css');

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
    assert.deepEqual(names, [
      'alert-center.js',
      'api.js',
      'config.js',
      'dom.js',
      'format.js',
      'history.js',
      'main.js',
      'model/alerts.js',
      'model/axes.js',
      'model/feed.js',
      'model/nodes.js',
      'model/own-node.js',
      'model/processes.js',
      'model/series.js',
      'socket.js',
      'socket/backoff.js',
      'socket/emitter.js',
      'socket/seq-tracker.js',
      'socket/subscriptions.js',
      'socket/timers.js',
      'socket/url.js',
      'widgets/alert-banner.js',
      'widgets/alert-dialog.js',
      'widgets/alerts-panel.js',
      'widgets/charts.js',
      'widgets/cluster-nodes.js',
      'widgets/cpu-cores.js',
      'widgets/live-feed.js',
      'widgets/system-status.js',
      'widgets/time-chart.js',
      'widgets/top-processes.js',
    ]);
  });

  test('every module has its own test file', () => {
    const tests = new Set(readdirSync(join(ROOT, 'tests/js')));
    const covered = {
      'alert-center.js': 'alert-center.test.mjs',
      'api.js': 'widgets.test.mjs',
      'dom.js': 'widgets.test.mjs',
      'format.js': 'format.test.mjs',
      'history.js': 'history.test.mjs',
      'main.js': 'main.test.mjs',
      'config.js': 'config.test.mjs',
      'model/alerts.js': 'alerts-model.test.mjs',
      'model/feed.js': 'feed-model.test.mjs',
      'model/series.js': 'series.test.mjs',
      'model/axes.js': 'axes.test.mjs',
      'model/nodes.js': 'nodes-model.test.mjs',
      'model/own-node.js': 'own-node.test.mjs',
      'model/processes.js': 'processes-model.test.mjs',
      'widgets/cluster-nodes.js': 'monitor-widgets.test.mjs',
      'widgets/cpu-cores.js': 'monitor-widgets.test.mjs',
      'widgets/time-chart.js': 'time-chart.test.mjs',
      'widgets/top-processes.js': 'monitor-widgets.test.mjs',
      'socket.js': 'socket.test.mjs',
    };
    for (const p of jsFiles) {
      const name = relative(JS_DIR, p);
      const expected = covered[name] || (name.startsWith('socket/') ? `socket-${name.slice(7, -3)}.test.mjs` : 'widgets.test.mjs');
      assert.ok(tests.has(expected), `${name}: ${expected}`);
    }
  });

  test('keeps no copy of the server config: no threshold numbers, no event catalogue', () => {
    let glyphs = 0;
    for (const p of jsFiles) {
      const src = code(p);
      // Percent levels such as `warning: 75` (alert severities rank 1 and 2).
      assert.doesNotMatch(src, /\b(warning|critical)\s*:\s*\d{2,}/, `${relative(ROOT, p)} has threshold numbers`);
      assert.doesNotMatch(src, /history_seconds\s*:\s*\d|collector_interval\s*:\s*\d/, `${relative(ROOT, p)} has config defaults`);
      glyphs += (src.match(/\bglyph\s*:\s*['"]/g) || []).length;
    }
    assert.equal(glyphs, 1, 'only the default icon has a literal glyph');
  });

  test('comments cite docs/protocol.md for the wire protocol, and no planning notes', () => {
    for (const p of jsFiles) {
      const src = read(p);
      // Bracketed letters keep these words out of a plain grep of this file.
      assert.doesNotMatch(src, /D[E]SIGN|\bs[e]eds?\b|original[ ]plan|\bissue #?\d/i, relative(ROOT, p));
    }
    assert.match(read(join(JS_DIR, 'socket.js')), /docs\/protocol\.md/);
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

describe('static/css', () => {
  const css = read(CSS);
  const root = css.match(/:root\s*{([^}]*)}/)[1];
  const tones = [...root.matchAll(/(--tone-[a-z]+-[a-z]+)\s*:\s*([^;]+);/g)].map(([, name, value]) => [name, value.trim()]);

  test('each status tone is declared once on :root: fg, bg and border', () => {
    for (const tone of ['ok', 'warn', 'crit']) {
      for (const part of ['fg', 'bg', 'border']) assert.ok(tones.some(([n]) => n === `--tone-${tone}-${part}`), `--tone-${tone}-${part}`);
    }
    for (const [name, value] of tones) {
      assert.equal(css.split(value).length - 1, 1, `${name}: ${value} is written once`);
      assert.equal(root.split(`${name}:`).length - 1, 1, `${name} is declared once`);
    }
  });

  test('outside :root colours come from variables, except a few neutral greys', () => {
    const rest = css.replace(/:root\s*{[^}]*}/, '');
    const literals = new Set(rest.match(/#[0-9a-f]{3,8}\b|rgba?\([^)]*\)/gi) || []);
    assert.deepEqual([...literals].sort(), ['#0d1117', '#30363d', 'rgba(28, 35, 44, 0.85)', 'rgba(88, 166, 255, 0.14)', 'rgba(88, 166, 255, 0.2)']);
  });

  test('the event tones of the live feed have classes', () => {
    for (const tone of ['info', 'success', 'warning', 'danger', 'business', 'analytics']) assert.match(css, new RegExp(`\\.tone-${tone}\\b`), tone);
  });

  test('every connection state the page sets has a colour', () => {
    for (const state of ['live', 'connecting', 'reconnecting', 'offline', 'closed', 'blocked']) {
      assert.match(css, new RegExp(`\\.conn\\[data-state="${state}"\\]`), state);
    }
  });
});

describe('templates', () => {
  const dashboard = read(join(TEMPLATES, 'dashboard.html'));
  const base = read(join(TEMPLATES, 'base.html'));

  test('the dashboard extends base and embeds the config as JSON', () => {
    assert.match(dashboard, /{%\s*extends\s+"base\.html"\s*%}/);
    assert.match(dashboard, /<script type="application\/json" id="livewatch-config">{{ config\|tojson }}<\/script>/);
    // Render-blocking: the widgets lay out the room their data takes before the first paint.
    assert.match(dashboard, /<script type="module" src="static\/js\/main\.js" blocking="render"><\/script>/);
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
    for (const id of ['alerts', 'system-status', 'feed', 'charts', 'alerts-panel', 'main', 'cpu-cores', 'top-processes', 'cluster']) assert.match(dashboard, new RegExp(`id="${id}"`), id);
    assert.match(dashboard, /id="alerts"[^>]*aria-live="polite"/);
  });
});
