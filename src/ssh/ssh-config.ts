// OpenSSH client configuration (ssh_config(5)), the subset a collector needs: Host blocks with
// patterns and negation, `Match host/originalhost/user/localuser/all`, Include, first value wins
// per keyword (IdentityFile accumulates), and the tokens %h %r %p %u %d %% and ~. Pure apart from
// reading files. Compared against `ssh -G` in the tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostsFieldMatches } from './known-hosts.js';

type Directive = { keyword: string; args: string[]; file: string; line: number };
type Block = { kind: 'host'; patterns: string[] } | { kind: 'match'; criteria: string[][] } | { kind: 'all' };
interface Entry { block: Block; directives: Directive[] }

export interface SshHostConfig {
  hostname: string;
  user: string;
  port: number;
  /** IdentityFile values as written (tokens unexpanded), defaults when none was given */
  identityFiles: string[];
  identitiesOnly: boolean;
  proxyJump: string | undefined;
  connectTimeoutSeconds: number | undefined;
  userKnownHostsFiles: string[];
  strictHostKeyChecking: string;
  hostKeyAlias: string | undefined;
  /** the keywords the config really set (lowercase), as opposed to OpenSSH's defaults */
  given: ReadonlySet<string>;
}

const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => `~/.ssh/${f}`);
const KEYWORDS = new Set(['hostname', 'user', 'port', 'identityfile', 'identitiesonly', 'proxyjump', 'connecttimeout', 'userknownhostsfile', 'stricthostkeychecking', 'hostkeyalias']);

/** Split a config line into words, honouring double quotes (as OpenSSH's argv_split does). */
function words(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

export class SshConfig {
  private constructor(private readonly entries: Entry[]) {}

  static parseFile(file: string, home = os.homedir()): SshConfig {
    const entries: Entry[] = [{ block: { kind: 'all' }, directives: [] }];
    SshConfig.read(file, home, entries, 0);
    return new SshConfig(entries);
  }

  static parseText(text: string, file = 'ssh_config', home = os.homedir()): SshConfig {
    const entries: Entry[] = [{ block: { kind: 'all' }, directives: [] }];
    SshConfig.readText(text, file, home, entries, 0);
    return new SshConfig(entries);
  }

  private static read(file: string, home: string, entries: Entry[], depth: number): void {
    let text: string;
    try { text = fs.readFileSync(file, 'utf8'); } catch { return; } // OpenSSH ignores a missing Include
    SshConfig.readText(text, file, home, entries, depth);
  }

  private static readText(text: string, file: string, home: string, entries: Entry[], depth: number): void {
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      if (!m) return;
      const keyword = (m[1] ?? '').toLowerCase();
      const args = words(m[2] ?? '');
      if (keyword === 'host') {
        entries.push({ block: { kind: 'host', patterns: args }, directives: [] });
      } else if (keyword === 'match') {
        const criteria: string[][] = [];
        for (let j = 0; j < args.length; j++) {
          const c = (args[j] ?? '').toLowerCase();
          if (c === 'all' || c === 'canonical' || c === 'final') criteria.push([c]);
          else criteria.push([c, args[++j] ?? '']);
        }
        entries.push({ block: { kind: 'match', criteria }, directives: [] });
      } else if (keyword === 'include') {
        if (depth > 16) return; // OpenSSH's own nesting limit is similar: a loop must not hang us
        for (const pattern of args) {
          const full = pattern.startsWith('/') ? pattern : pattern.startsWith('~') ? path.join(home, pattern.slice(1)) : path.join(home, '.ssh', pattern);
          for (const f of expandGlob(full)) {
            // Directives of an included file belong to the block the Include sits in, until it opens its own.
            const before = entries.length;
            const current = entries[entries.length - 1] as Entry;
            const sub: Entry[] = [{ block: current.block, directives: [] }];
            SshConfig.read(f, home, sub, depth + 1);
            current.directives.push(...(sub[0] as Entry).directives);
            entries.push(...sub.slice(1));
            if (entries.length > before) entries.push({ block: current.block, directives: [] });
          }
        }
      } else if (KEYWORDS.has(keyword)) {
        (entries[entries.length - 1] as Entry).directives.push({ keyword, args, file, line: i + 1 });
      }
    });
  }

  /** The effective settings for `host` as given (before HostName), like `ssh -G host`. */
  compute(host: string, localUser = currentUser(), home = os.homedir()): SshHostConfig {
    const found = new Map<string, string[]>();
    const identities: string[] = [];
    for (const e of this.entries) {
      if (!this.applies(e.block, host, found, localUser)) continue;
      for (const d of e.directives) {
        if (d.keyword === 'identityfile') { if (d.args[0]) identities.push(d.args[0]); continue; }
        if (!found.has(d.keyword)) found.set(d.keyword, d.args);
      }
    }
    const first = (k: string) => found.get(k)?.[0];
    const user = first('user') ?? localUser;
    const port = Number(first('port') ?? 22);
    const hostnameRaw = first('hostname');
    // Patterns match the host as typed (case-sensitively, as OpenSSH does); the result is lowercased.
    const hostname = (hostnameRaw ? hostnameRaw.replace(/%h/g, host).replace(/%%/g, '%') : host).toLowerCase();
    const timeout = first('connecttimeout');
    const strict = (first('stricthostkeychecking') ?? 'ask').toLowerCase();
    const known = found.get('userknownhostsfile') ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
    const tokens = { h: hostname, r: user, p: String(port), u: localUser, d: home };
    return {
      hostname,
      user,
      port,
      identityFiles: identities.length ? identities : DEFAULT_IDENTITIES,
      identitiesOnly: (first('identitiesonly') ?? 'no').toLowerCase() === 'yes',
      proxyJump: first('proxyjump') && first('proxyjump')!.toLowerCase() !== 'none' ? first('proxyjump') : undefined,
      connectTimeoutSeconds: timeout && timeout !== 'none' ? Number(timeout) : undefined,
      userKnownHostsFiles: known.map((f) => expandTokens(f, tokens, home)),
      strictHostKeyChecking: strict === 'yes' ? 'true' : strict === 'no' || strict === 'off' ? 'false' : strict,
      hostKeyAlias: first('hostkeyalias'),
      given: new Set([...found.keys(), ...(identities.length ? ['identityfile'] : [])]),
    };
  }

  private applies(block: Block, host: string, found: Map<string, string[]>, localUser: string): boolean {
    if (block.kind === 'all') return true;
    if (block.kind === 'host') return hostsFieldMatches(block.patterns.join(','), host, true);
    return block.criteria.every(([c, arg = '']) => {
      const neg = arg.startsWith('!');
      const list = neg ? arg.slice(1) : arg;
      const test = (value: string) => hostsFieldMatches(list, value, true) !== neg;
      switch (c) {
        case 'all': return true;
        case 'host': return test(found.get('hostname')?.[0]?.replace(/%h/g, host) ?? host);
        case 'originalhost': return test(host);
        case 'user': return test(found.get('user')?.[0] ?? localUser);
        case 'localuser': return test(localUser);
        default: return false; // exec, canonical, final...: not supported, so never matched
      }
    });
  }
}

export function expandTokens(text: string, tokens: Record<string, string>, home = os.homedir()): string {
  const withHome = text === '~' ? home : text.startsWith('~/') ? path.join(home, text.slice(2)) : text;
  return withHome.replace(/%([%hrpud])/g, (_, t: string) => (t === '%' ? '%' : tokens[t] ?? ''));
}

function expandGlob(pattern: string): string[] {
  if (!/[*?]/.test(pattern)) return [pattern];
  const dir = path.dirname(pattern);
  const re = new RegExp(`^${path.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  try {
    return fs.readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

export function currentUser(): string {
  try { return os.userInfo().username; } catch { return process.env.USER ?? 'root'; }
}
