// The page config as the server renders it into #livewatch-config with default settings.
// tests/test_page.py checks that page-config.json is exactly what the server renders.

import { readFileSync } from 'node:fs';

export const PAGE_CONFIG = Object.freeze(
  JSON.parse(readFileSync(new URL('./page-config.json', import.meta.url), 'utf8')),
);
