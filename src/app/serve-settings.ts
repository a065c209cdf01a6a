// The [api] settings `serve` (and `doctor`) check before listening: TLS files usable, a
// non-loopback listen without TLS warned about, ui_auth = none refused off loopback.
import fs from 'node:fs';
import net from 'node:net';
import type { Config } from '../config/load.js';
import { ConfigError } from '../core/errors.js';

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

export interface ApiChecks {
  https?: { cert: Buffer; key: Buffer };
  warnings: string[];
  url: string;
}

/** Throws ConfigError (78) naming the [api] key for what cannot work. */
export function checkApiSettings(config: Config): ApiChecks {
  const { host, port, tlsCert, tlsKey, uiAuth } = config.api;
  const warnings: string[] = [];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`[api] ${tlsCert === undefined ? 'tls_key' : 'tls_cert'} is set without [api] ${tlsCert === undefined ? 'tls_cert' : 'tls_key'}: give both for HTTPS, or neither`);
  }
  let https: ApiChecks['https'];
  if (tlsCert !== undefined && tlsKey !== undefined) {
    const read = (key: string, file: string): Buffer => {
      try { return fs.readFileSync(file); } catch (e) { throw new ConfigError(`[api] ${key} ${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
    };
    const cert = read('tls_cert', tlsCert);
    const key = read('tls_key', tlsKey);
    if ((fs.statSync(tlsKey).mode & 0o077) !== 0) throw new ConfigError(`[api] tls_key ${tlsKey}: the private key is readable by group or others (chmod 600 it)`);
    if (!/-----BEGIN CERTIFICATE-----/.test(cert.toString('latin1'))) throw new ConfigError(`[api] tls_cert ${tlsCert}: not a PEM certificate`);
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new ConfigError(`[api] tls_key ${tlsKey}: not a PEM private key`);
    https = { cert, key };
  }
  const loopback = isLoopback(host);
  if (uiAuth === 'none' && !loopback) throw new ConfigError(`[api] ui_auth = none is allowed on a loopback listen only (listen is ${host}:${port}): the pages would be open to the network`);
  if (!loopback && !https) warnings.push(`[api] listen ${host}:${port} is not loopback and TLS is off: tokens and pushed facts cross the network in clear (set tls_cert and tls_key, or put a TLS reverse proxy in front and listen on 127.0.0.1)`);
  const shown = host.includes(':') ? `[${host}]` : host;
  return { ...(https ? { https } : {}), warnings, url: `${https ? 'https' : 'http'}://${shown}:${port}` };
}
