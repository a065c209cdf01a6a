#!/usr/bin/env node
// Screenshots of the fleet pages for the docs: docs/img/fleet.png (`/`) and docs/img/host.png (a
// host page), at a laptop width, in Debian's chromium (playwright-core; no browser download).
//   npm start && node scripts/screenshots.mjs            # the demo database (scheduler.ini)
//   node scripts/screenshots.mjs --synthetic             # a simulated month of 40 hosts, built in a temp folder
//   node scripts/screenshots.mjs --db FILE [--host NAME] [--out DIR] [--width 1280]
// The host page shown is --host, else the host with the most changed facts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const out = path.resolve(opt('out', path.join(root, 'docs/img')));
const width = Number(opt('width', '1280'));
const log = (m) => process.stderr.write(`screenshots: ${m}\n`);

if (!fs.existsSync(CHROMIUM)) { log(`${CHROMIUM} is missing (apt-get install chromium)`); process.exit(69); }
if (!fs.existsSync(path.join(root, 'dist/pages/plugin.js'))) { log('dist/ is missing: run `npm run build` first'); process.exit(70); }

let database = opt('db', undefined);
let temp;
if (args.includes('--synthetic')) {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-shots-'));
  database = path.join(temp, 'month.db');
  const { fillSqlite } = await import(path.join(root, 'bench/lib/history.mjs'));
  await fillSqlite(database, { hosts: 40, seed: 3, changeRate: 0.004 });
  log(`a simulated month of 40 hosts written to ${database}`);
  // The shipped audits over it, so the pages show audit results too.
  const ini = path.join(temp, 'scheduler.ini');
  fs.writeFileSync(ini, `[storage]\ndatabase = month.db\n[analyze]\naudits = ${path.join(root, 'config/audits.d')}\n`);
  const { spawnSync } = await import('node:child_process');
  const analyzed = spawnSync(process.execPath, [path.join(root, 'bin/jellyfish'), 'analyze', '-c', ini], { encoding: 'utf8' });
  if (analyzed.status !== 0) log(`analyze exited ${analyzed.status}: ${analyzed.stderr.trim()}`);
  else log('analyzed with the shipped audits');
}
const { startPagesServer } = await import(path.join(root, 'scripts/lib/pages-server.mjs'));
const server = await startPagesServer({ ini: path.join(root, 'scheduler.ini'), database, host: '127.0.0.1', port: 0 });
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light' });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${server.url}/`);
  fs.mkdirSync(out, { recursive: true });
  await page.screenshot({ path: path.join(out, 'fleet.png'), fullPage: true });
  log(`${path.join(out, 'fleet.png')} written`);
  let host = opt('host', undefined);
  if (!host) {
    // The host with the most changed facts, from the change feed's page of the month.
    await page.goto(`${server.url}/changes?since=30d`);
    const names = await page.locator('main tbody tr td:nth-child(2) a').evaluateAll((els) => els.map((e) => e.textContent));
    const tally = new Map();
    for (const n of names) tally.set(n, (tally.get(n) ?? 0) + 1);
    host = [...tally].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (!host) {
      await page.goto(`${server.url}/`);
      host = await page.locator('main a[href^="/hosts/"]').first().textContent().catch(() => undefined);
    }
  }
  if (host) {
    await page.goto(`${server.url}/hosts/${encodeURIComponent(host)}`);
    // The top of the page (inventory, attempts, the timelines, the first facts): a whole host is thousands of pixels.
    const height = Math.min(2000, await page.evaluate(() => document.documentElement.scrollHeight));
    await page.screenshot({ path: path.join(out, 'host.png'), fullPage: true, clip: { x: 0, y: 0, width, height } });
    log(`${path.join(out, 'host.png')} written (${host})`);
  } else log('no host in the database: host.png not written');
  if (problems.length) { log(`console errors: ${problems.join('; ')}`); process.exitCode = 1; }
} finally {
  await browser.close();
  await server.close();
  if (temp) fs.rmSync(temp, { recursive: true, force: true });
}
