#!/usr/bin/env node
// Host key lookup in a hashed known_hosts (`|1|salt|hash` lines, one salt per line as
// `ssh-keygen -H` and `HashKnownHosts yes` write them): what finding one inventory host costs the
// SSH thread, the way each line was tested before (split the line, decode its salt, HMAC, compare:
// per line, per lookup) against the index (lines grouped by salt, salts decoded once: one HMAC per
// distinct salt). Both run in this one process, over the same names, round-robin. Every lookup
// costs the same (every salt is tried), so a sample of the inventory gives the figure for all of
// it; the total for the whole inventory is that per-host cost times --hosts.
// Prints a markdown table on stdout and one JSON line on stderr.
//   node bench/known-hosts.mjs [--lines 10000] [--hosts 10000] [--sample 300] [--reps 3]
import crypto from 'node:crypto';
import path from 'node:path';
import { ROOT } from './lib/paths.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return Number(i >= 0 ? process.argv[i + 1] : dflt); };
const LINES = arg('lines', 10_000);
const HOSTS = arg('hosts', 10_000);
const SAMPLE = Math.min(arg('sample', 300), HOSTS);
const REPS = arg('reps', 3);

const { KnownHosts, knownHostsName, parseKnownHosts, HASHED_LINES_COSTLY } = await import(path.join(ROOT, 'dist/ssh/known-hosts.js'));

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const name = (i) => knownHostsName(`host${i}.bench.example`, 22);
const text = Array.from({ length: LINES }, (_, i) => {
  const salt = crypto.randomBytes(20);
  return `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(name(i)).digest('base64')} ssh-ed25519 ${KEY}`;
}).join('\n');
const entries = parseKnownHosts(text);
// Half the sample is in the file, half is not: the cost is the same either way.
const names = Array.from({ length: SAMPLE }, (_, i) => name(i % 2 === 0 ? i : LINES + i));

/** The per-line test every lookup did before the index grouped hashed lines. */
function perLine(list, host) {
  return list.filter((e) => {
    const [, , salt, hash] = e.hosts.split('|');
    return crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(host).digest('base64') === hash;
  });
}

const buildStarted = process.hrtime.bigint();
const index = new KnownHosts(entries);
const buildMs = Number(process.hrtime.bigint() - buildStarted) / 1e6;

function cpuMs(fn) {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

const runs = { old: [], new: [] };
for (let r = 0; r < REPS; r++) {
  let found = 0;
  runs.old.push(cpuMs(() => { for (const n of names) found += perLine(entries, n).length; }));
  runs.new.push(cpuMs(() => { for (const n of names) found -= index.relevantTo(n).length; }));
  if (found !== 0) throw new Error('the index and the per-line test disagree');
}
const median = (l) => [...l].sort((a, b) => a - b)[Math.floor(l.length / 2)];
const perHost = { old: median(runs.old) / SAMPLE, new: median(runs.new) / SAMPLE };
const row = (label, ms) => `| ${label} | ${ms.toFixed(2)} ms | ${(ms * 1000 / LINES).toFixed(2)} µs | ${(ms * HOSTS / 1000).toFixed(1)} s |`;
process.stdout.write([
  `known_hosts with ${LINES} hashed lines, ${HOSTS} inventory hosts (median of ${REPS}, ${SAMPLE} hosts sampled; index built in ${buildMs.toFixed(0)} ms)`,
  '',
  '| lookup | CPU per host | per hashed line | CPU for all hosts |',
  '|---|---|---|---|',
  row('per line (before)', perHost.old),
  row('index by salt', perHost.new),
  '',
  `ratio before/after: ${(perHost.old / perHost.new).toFixed(2)}x; doctor warns above ${HASHED_LINES_COSTLY} hashed lines (${(HASHED_LINES_COSTLY * perHost.new / LINES).toFixed(1)} ms per host at this rate)`,
  '',
].join('\n'));
process.stderr.write(`${JSON.stringify({ lines: LINES, hosts: HOSTS, sample: SAMPLE, buildMs, perHostMs: perHost, totalS: { old: perHost.old * HOSTS / 1000, new: perHost.new * HOSTS / 1000 } })}\n`);
