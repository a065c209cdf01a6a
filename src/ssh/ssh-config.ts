// OpenSSH client configuration (ssh_config(5)), the subset a collector needs: Host blocks with
// patterns and negation, `Match host/originalhost/user/localuser/all`, Include, first value wins
// per keyword (IdentityFile accumulates), ProxyJump or ProxyCommand (whichever comes first), and
// the tokens %h %r %p %n %u %d %% and ~. The user's file is read before the system-wide one, as
// ssh(1) does. Keywords that change where or how ssh connects and that jellyfish does not
// implement become warnings naming file:line. Pure apart from reading files. Compared against
// `ssh -G` in the tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostsFieldMatches } from './known-hosts.js';

type Directive = { keyword: string; args: string[]; file: string; line: number };
type Block = { kind: 'host'; patterns: string[] } | { kind: 'match'; criteria: string[][] } | { kind: 'all' };
interface Entry { block: Block; directives: Directive[] }

/** A line jellyfish reads but does not act on, as ssh(1) would have (`text` names file:line). */
export interface ConfigWarning { file: string; line: number; keyword: string; text: string }

/** A command from the config, with where it was written (for messages). */
export interface ConfigCommand { command: string; file: string; line: number }

export interface SshHostConfig {
  hostname: string;
  user: string;
  port: number;
  /** IdentityFile values as written (tokens unexpanded), defaults when none was given */
  identityFiles: string[];
  identitiesOnly: boolean;
  proxyJump: string | undefined;
  /** ProxyCommand as written (tokens unexpanded); undefined for none or when ProxyJump came first */
  proxyCommand: ConfigCommand | undefined;
  connectTimeoutSeconds: number | undefined;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strictHostKeyChecking: string;
  hostKeyAlias: string | undefined;
  /** the keywords the config really set (lowercase), as opposed to OpenSSH's defaults */
  given: ReadonlySet<string>;
}

const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => `~/.ssh/${f}`);
const KEYWORDS = new Set(['hostname', 'user', 'port', 'identityfile', 'identitiesonly', 'proxyjump', 'proxycommand', 'connecttimeout', 'userknownhostsfile', 'globalknownhostsfile', 'stricthostkeychecking', 'hostkeyalias']);
const GLOBAL_KNOWN_HOSTS = ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];

/**
 * Keywords that change where ssh connects, how it negotiates or verifies the host, or how it
 * authenticates, which jellyfish does not implement: each line that sets one is reported. The
 * values listed are OpenSSH's defaults (or off), which change nothing.
 */
const NOT_IMPLEMENTED: Record<string, string[]> = {
  addressfamily: ['any'], bindaddress: [], bindinterface: [], canonicalizehostname: ['no'], canonicaldomains: [],
  proxyusefdpass: ['no'], ciphers: [], macs: [], kexalgorithms: [], hostkeyalgorithms: [], pubkeyacceptedalgorithms: [],
  pubkeyacceptedkeytypes: [], casignaturealgorithms: [], requiredrsasize: [], certificatefile: [], identityagent: [],
  pkcs11provider: ['none'], securitykeyprovider: ['internal'], revokedhostkeys: ['none'], knownhostscommand: ['none'],
  verifyhostkeydns: ['no'], hostbasedauthentication: ['no'], preferredauthentications: [],
};
/** Match criteria jellyfish cannot evaluate: a block behind one never applies. */
const UNMATCHABLE = new Set(['exec', 'canonical', 'final', 'tagged', 'localnetwork']);

/** Split a config line into words, honouring double quotes (as OpenSSH's argv_split does). */
function words(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** How one file is read: relative Includes are under ~/.ssh in a user's file, /etc/ssh in the system's. */
interface Reading { home: string; includeDir: string; warnings: ConfigWarning[] }

export class SshConfig {
  private constructor(private readonly entries: Entry[], readonly warnings: readonly ConfigWarning[]) {}

  /** The user's file, then (when given) the system-wide one: the first value obtained wins. */
  static parseFile(file: string | undefined, home = os.homedir(), systemFile?: string): SshConfig {
    const entries: Entry[] = [{ block: { kind: 'all' }, directives: [] }];
    const warnings: ConfigWarning[] = [];
    if (file) SshConfig.read(file, { home, includeDir: path.join(home, '.ssh'), warnings }, entries, 0);
    if (systemFile) {
      entries.push({ block: { kind: 'all' }, directives: [] });
      SshConfig.read(systemFile, { home, includeDir: path.dirname(systemFile), warnings }, entries, 0);
    }
    return new SshConfig(entries, warnings);
  }

  static parseText(text: string, file = 'ssh_config', home = os.homedir()): SshConfig {
    const entries: Entry[] = [{ block: { kind: 'all' }, directives: [] }];
    const warnings: ConfigWarning[] = [];
    SshConfig.readText(text, file, { home, includeDir: path.join(home, '.ssh'), warnings }, entries, 0);
    return new SshConfig(entries, warnings);
  }

  private static read(file: string, r: Reading, entries: Entry[], depth: number): void {
    let text: string;
    try { text = fs.readFileSync(file, 'utf8'); } catch { return; } // OpenSSH ignores a missing Include
    SshConfig.readText(text, file, r, entries, depth);
  }

  private static readText(text: string, file: string, r: Reading, entries: Entry[], depth: number): void {
    const warn = (line: number, keyword: string, text: string) => r.warnings.push({ file, line, keyword, text: `${file}:${line}: ${text}` });
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      if (!m) return;
      const keyword = (m[1] ?? '').toLowerCase();
      const rest = (m[2] ?? '').trim();
      const args = words(rest);
      if (keyword === 'host') {
        entries.push({ block: { kind: 'host', patterns: args }, directives: [] });
      } else if (keyword === 'match') {
        const criteria: string[][] = [];
        for (let j = 0; j < args.length; j++) {
          const c = (args[j] ?? '').toLowerCase();
          if (c === 'all' || c === 'canonical' || c === 'final') criteria.push([c]);
          else criteria.push([c, args[++j] ?? '']);
          if (UNMATCHABLE.has(c)) warn(i + 1, `Match ${c}`, `Match ${c} is not supported by jellyfish: this block never applies`);
        }
        entries.push({ block: { kind: 'match', criteria }, directives: [] });
      } else if (keyword === 'include') {
        if (depth > 16) return; // OpenSSH's own nesting limit is similar: a loop must not hang us
        for (const pattern of args) {
          const full = pattern.startsWith('/') ? pattern : pattern.startsWith('~') ? path.join(r.home, pattern.slice(1)) : path.join(r.includeDir, pattern);
          for (const f of expandGlob(full)) {
            // Directives of an included file belong to the block the Include sits in, until it opens its own.
            const before = entries.length;
            const current = entries[entries.length - 1] as Entry;
            const sub: Entry[] = [{ block: current.block, directives: [] }];
            SshConfig.read(f, r, sub, depth + 1);
            current.directives.push(...(sub[0] as Entry).directives);
            entries.push(...sub.slice(1));
            if (entries.length > before) entries.push({ block: current.block, directives: [] });
          }
        }
      } else if (KEYWORDS.has(keyword)) {
        // ssh(1) hands ProxyCommand's text to the shell as written (quotes included).
        (entries[entries.length - 1] as Entry).directives.push({ keyword, args: keyword === 'proxycommand' ? [rest] : args, file, line: i + 1 });
      } else if (NOT_IMPLEMENTED[keyword] && !NOT_IMPLEMENTED[keyword].includes((args[0] ?? '').toLowerCase())) {
        warn(i + 1, m[1] ?? keyword, `${m[1]} is not implemented by jellyfish: ignored (it connects as if the line were absent)`);
      }
    });
  }

  /** The effective settings for `host` as given (before HostName), like `ssh -G host`. */
  compute(host: string, localUser = currentUser(), home = os.homedir()): SshHostConfig {
    const found = new Map<string, string[]>();
    const identities: string[] = [];
    let proxyCommand: ConfigCommand | undefined;
    for (const e of this.entries) {
      if (!this.applies(e.block, host, found, localUser)) continue;
      for (const d of e.directives) {
        if (d.keyword === 'identityfile') { if (d.args[0]) identities.push(d.args[0]); continue; }
        // ProxyJump and ProxyCommand exclude each other: the first obtained wins (`ProxyJump none` does not count).
        if (d.keyword === 'proxyjump' && found.has('proxycommand')) continue;
        if (d.keyword === 'proxycommand' && found.has('proxyjump') && found.get('proxyjump')?.[0]?.toLowerCase() !== 'none') continue;
        if (found.has(d.keyword)) continue;
        found.set(d.keyword, d.args);
        if (d.keyword === 'proxycommand') proxyCommand = { command: d.args[0] ?? '', file: d.file, line: d.line };
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
      proxyCommand: proxyCommand && proxyCommand.command.toLowerCase() !== 'none' ? proxyCommand : undefined,
      connectTimeoutSeconds: timeout && timeout !== 'none' ? Number(timeout) : undefined,
      userKnownHostsFiles: known.map((f) => expandTokens(f, tokens, home)),
      globalKnownHostsFiles: (found.get('globalknownhostsfile') ?? GLOBAL_KNOWN_HOSTS).map((f) => expandTokens(f, tokens, home)),
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
  return withHome.replace(/%([%hrpnud])/g, (_, t: string) => (t === '%' ? '%' : tokens[t] ?? ''));
}

/** What may be put into a shell command unquoted: a host name, IP literal (with zone) or user name. */
const SHELL_SAFE = /^[A-Za-z0-9._:%@+-]+$/;

/**
 * ProxyCommand with its tokens expanded as ssh(1) does (%h host, %p port, %r user, %n the name as
 * given, %u %d, %%). The command itself is the operator's; a substituted value that the shell
 * would read as more than a word is refused rather than quoted, as no valid host or user needs it.
 */
export function expandProxyCommand(cmd: ConfigCommand, tokens: Record<'h' | 'p' | 'r' | 'n' | 'u' | 'd', string>): string | { reason: string } {
  let bad: string | undefined;
  const out = cmd.command.replace(/%(.?)/g, (all, t: string) => {
    if (t === '%') return '%';
    const value = (tokens as Record<string, string>)[t];
    if (value === undefined) { bad ??= `${cmd.file}:${cmd.line}: ProxyCommand: unknown token %${t}`; return all; }
    if (t !== 'd' && !SHELL_SAFE.test(value)) bad ??= `${cmd.file}:${cmd.line}: ProxyCommand: %${t} would be ${JSON.stringify(value)}, which is not a plain host or user name`;
    return value;
  });
  return bad ? { reason: bad } : out;
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
