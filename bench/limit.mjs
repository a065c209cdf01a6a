#!/usr/bin/env node
// The limit: what one Node process with ssh2 can do at all. A bare loop with `concurrency`
// sessions in flight: connect (TCP_NODELAY, the same ed25519 key, no host-key check), one exec
// of the same script the peers send, read the output to its end, close. Nothing is parsed or
// stored. Prints one JSON line: {"ok": N, "failed": N, "errors": {...}, "kex": {name: count}}.
//   node bench/limit.mjs --hosts FILE --key FILE --user U --port P --concurrency N --script FILE --marker TEXT [--ready-timeout MS]
import fs from 'node:fs';
import ssh2 from 'ssh2';

const { Client, utils } = ssh2;

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`--${name} is required`);
  return process.argv[i + 1];
};
const hosts = fs.readFileSync(arg('hosts'), 'utf8').split('\n').filter(Boolean);
// Parsed once: the bare minimum a loop must do per connection is the handshake, not key parsing.
// ssh2's `privateKey` option takes only text or a Buffer (a parsed key there is silently dropped
// and the client offers no key at all); an authHandler entry takes the parsed key as it is.
let key = utils.parseKey(fs.readFileSync(arg('key')));
if (Array.isArray(key)) key = key[0];
if (!key || key instanceof Error) throw new Error(`cannot parse ${arg('key')}: ${key?.message}`);
const user = arg('user');
const port = Number(arg('port'));
const concurrency = Number(arg('concurrency'));
const script = fs.readFileSync(arg('script'), 'utf8');
const marker = Buffer.from(arg('marker'));
/** Same bound as the peers' ConnectTimeout / jellyfish's connect_timeout. */
const READY_TIMEOUT_MS = process.argv.includes('--ready-timeout') ? Number(arg('ready-timeout')) : 10_000;
/** Same bound as the peers' per-host command timeout. */
const HOST_TIMEOUT_MS = 120_000;

function one(host) {
  return new Promise((resolve) => {
    const c = new Client();
    const chunks = [];
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.end();
      if (err) return resolve(err);
      // A host counts when its output reached the script's last end marker.
      resolve(Buffer.concat(chunks).includes(marker) ? undefined : 'INCOMPLETE');
    };
    const timer = setTimeout(() => { c.destroy(); finish('TIMEOUT'); }, HOST_TIMEOUT_MS);
    c.on('error', (e) => finish(e.code ?? e.level ?? 'ERROR'));
    c.on('handshake', (negotiated) => { kex[negotiated.kex] = (kex[negotiated.kex] ?? 0) + 1; });
    c.on('close', () => finish('CLOSED'));
    c.on('ready', () => {
      c.exec(script, (err, ch) => {
        if (err) return finish('EXEC');
        ch.on('data', (d) => chunks.push(d));
        ch.stderr.on('data', () => {});
        ch.on('close', () => finish());
      });
    });
    c.connect({ host, port, username: user, authHandler: [{ type: 'publickey', username: user, key }], readyTimeout: READY_TIMEOUT_MS, hostVerifier: () => true });
    c.setNoDelay(true);
  });
}

let next = 0;
let ok = 0;
const errors = {};
/** The key exchange each connection negotiated (what the bench reports as this row's KEX). */
const kex = {};
async function lane() {
  while (next < hosts.length) {
    const err = await one(hosts[next++]);
    if (err === undefined) ok += 1;
    else errors[err] = (errors[err] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, lane));
const summary = JSON.stringify({ ok, failed: hosts.length - ok, errors, kex });
if (ok < hosts.length) process.stderr.write(`limit: ${summary}\n`);
process.stdout.write(`${summary}\n`);
