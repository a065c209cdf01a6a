// Whether a private key's text is one an SSH connection can use: parseable, not passphrase-protected,
// and private. The main thread asks this once per key file before any host is tried.
import ssh2 from 'ssh2';

/** What keeps `text` from being a usable private key, or undefined when it is one. */
export type KeyProblem = { kind: 'encrypted'; message: string } | { kind: 'unparseable'; message: string } | { kind: 'not-private' };

export function privateKeyProblem(text: string): KeyProblem | undefined {
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) {
    return { kind: /encrypted|passphrase/i.test(parsed.message) ? 'encrypted' : 'unparseable', message: parsed.message };
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) return { kind: 'not-private' };
  return undefined;
}
