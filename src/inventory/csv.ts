// server4.csv -> valid hosts + invalid rows. Pure apart from reading the file; a bad row is
// reported with its line and skipped, never fatal (the old scheduler crashed on one short row).
import fs from 'node:fs';
import net from 'node:net';
import { parse } from 'csv-parse/sync';
import { InventoryError } from '../core/errors.js';
import type { InventoryHost, InvalidRow } from './host.js';

export interface Inventory {
  file: string;
  hosts: InventoryHost[];
  invalid: InvalidRow[];
}

const DNS_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function isDnsName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((label) => DNS_LABEL.test(label));
}

/** A field as quoted in a message: a 1 MB junk line must not become a 1 MB log line. */
function shown(field: string): string {
  const cut = field.length > 80 ? `${field.slice(0, 60)}… (${field.length} characters)` : field;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `host`, `host:port`, `[v6]:port`, `v6` -> host and port, or the reason it is not valid. */
export function parseHostField(field: string): { host: string; port?: number } | { reason: string } {
  const r = parseHost(field);
  return 'reason' in r ? { reason: r.reason.split(`'${field}'`).join(`'${shown(field)}'`) } : r;
}

function parseHost(field: string): { host: string; port?: number } | { reason: string } {
  let host = field;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(field);
  if (bracket) {
    host = bracket[1] ?? '';
    portText = bracket[2];
    if (net.isIP(host) !== 6) return { reason: `'${field}': brackets must hold an IPv6 address` };
  } else if (net.isIP(field) === 6) {
    return { host: field };
  } else {
    const colon = field.lastIndexOf(':');
    if (colon >= 0) {
      host = field.slice(0, colon);
      portText = field.slice(colon + 1);
    }
    if (net.isIP(host) !== 4 && !isDnsName(host)) {
      return { reason: `'${field}' is not a valid hostname or IP address` };
    }
    // A dotted-quad-looking name that is not a valid IPv4 address (999.1.1.1) is a typo, not a name.
    if (net.isIP(host) === 0 && /^[\d.]+$/.test(host)) return { reason: `'${field}' is not a valid IPv4 address` };
  }
  if (portText === undefined) return { host };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { reason: `'${field}': port must be a number from 1 to 65535` };
  }
  return { host, port: Number(portText) };
}

export interface ParseInventoryOptions {
  prodStatuses: string[];
}

export function parseInventory(file: string, text: string, opts: ParseInventoryOptions): Inventory {
  const prod = new Set(opts.prodStatuses.map((s) => s.toLowerCase()));
  const hosts: InventoryHost[] = [];
  const invalid: InvalidRow[] = [];
  const seen = new Map<string, number>();
  type Row = { record: string[]; info: { lines: number } };
  // CRLF -> LF first: csv-parse counts a lone CR as a line of its own, which skews line numbers.
  const rows = parse(text.replace(/\r\n/g, '\n'), {
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    comment: '#',
    comment_no_infix: true,
    trim: true,
    info: true,
    skip_records_with_error: true,
    on_skip: (err: { message: string; lines?: number } | undefined) => {
      if (err) invalid.push({ line: err.lines ?? 0, reason: `unreadable CSV: ${err.message.replace(/^[^:]*: /, '')}` });
      return undefined;
    },
  }) as unknown as Row[];

  for (const { record, info } of rows) {
    const spanned = record.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0);
    const line = info.lines - spanned;
    const bad = (reason: string): void => { invalid.push({ line, reason }); };
    if (record.length === 1 && (record[0] ?? '') === '') continue; // a line of blanks only
    if (record.length < 4) { bad(`fewer than 4 fields (${record.length})`); continue; }
    const [hostField = '', srvtype = '', pop = '', status = '', ...rest] = record;
    if (hosts.length === 0 && invalid.length === 0 && status.toLowerCase() === 'status') continue; // header
    if (hostField === '') { bad('empty hostname'); continue; }
    const parsed = parseHostField(hostField);
    if ('reason' in parsed) { bad(parsed.reason); continue; }
    const key = `${parsed.host.toLowerCase()}:${parsed.port ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) { bad(`duplicate of '${shown(hostField)}' on line ${first}`); continue; }
    seen.set(key, line);
    hosts.push({
      label: hostField,
      host: parsed.host,
      ...(parsed.port !== undefined ? { port: parsed.port } : {}),
      srvtype,
      pop,
      status,
      notes: rest.join(','),
      isProd: prod.has(status.toLowerCase()),
      line,
    });
  }
  invalid.sort((a, b) => a.line - b.line);
  return { file, hosts, invalid };
}

export function readInventory(file: string, opts: ParseInventoryOptions): Inventory {
  let text: string;
  try {
    const buf = fs.readFileSync(file);
    text = buf.toString('utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InventoryError(`${file}: cannot read the inventory: ${err.code === 'EISDIR' ? 'is a directory' : err.message}`);
  }
  const inv = parseInventory(file, text, opts);
  if (inv.hosts.length === 0) {
    throw new InventoryError(`${file}: no valid host row${inv.invalid.length ? ` (${inv.invalid.length} invalid: ${inv.invalid.slice(0, 3).map((r) => `line ${r.line}: ${r.reason}`).join('; ')})` : ''}`);
  }
  return inv;
}
