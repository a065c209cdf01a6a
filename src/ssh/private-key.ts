// Whether a private key's text is one an SSH connection can use: parseable, not passphrase-protected,
// and private. The main thread asks this once per key file before any host is tried.
import { createRequire } from 'node:module';
import type ssh2 from 'ssh2';

type ParseKey = typeof ssh2.utils.parseKey;

/**
 * ssh2's key parser alone (lib/protocol/keyParser.js, the very function ssh2.utils.parseKey is):
 * the main thread, which with worker threads opens no connection, then loads ~40 ms less than the
 * whole package. Should a later ssh2 move that file, the package's own export is used.
 */
export function keyParser(): ParseKey {
  const require = createRequire(import.meta.url);
  try {
    return (require('ssh2/lib/protocol/keyParser.js') as { parseKey: ParseKey }).parseKey;
  } catch {
    return (require('ssh2') as typeof ssh2).utils.parseKey;
  }
}

let parseKey: ParseKey | undefined;

/** What keeps `text` from being a usable private key, or undefined when it is one. */
export type KeyProblem = { kind: 'encrypted'; message: string } | { kind: 'unparseable'; message: string } | { kind: 'not-private' };

export function privateKeyProblem(text: string): KeyProblem | undefined {
  parseKey ??= keyParser();
  const parsed = parseKey(text);
  if (parsed instanceof Error) {
    return { kind: /encrypted|passphrase/i.test(parsed.message) ? 'encrypted' : 'unparseable', message: parsed.message };
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) return { kind: 'not-private' };
  return undefined;
}
