// `jellyfish token add|list|revoke`: the storage API's tokens (SPEC §11). The secret is printed
// once, by `add`; the store keeps only its SHA-256.
import { Option, type Command } from 'commander';
import { printError } from '../app/log.js';
import { addToken, checkTokenName, parseHostPatterns, TOKEN_SCOPES, tokenView, type TokenScope } from '../app/tokens.js';
import { renderOutput } from '../report/output.js';
import { renderJson } from '../report/status-json.js';
import { shortTime } from '../report/table.js';
import { openAnyStore } from '../store/store.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';

/** `token revoke` of a name with no live token. */
export const EXIT_NO_TOKEN = 1;

export function registerToken(program: Command, setExit: (code: number) => void): void {
  const token = program
    .command('token')
    .description('API tokens for `jellyfish serve`: add (prints the secret once), list, revoke');
  token.addHelpText('after', `
Examples:
  jellyfish token add web-agents --scope push --hosts 'web*.ams,web*.fra'
  jellyfish token add grafana --scope read
  jellyfish token list
  jellyfish token revoke web-agents
A push token may push only for hosts matching its --hosts patterns (OpenSSH pattern syntax: * ?
and !negation, any case; without --hosts: any host). A read token reads everything.`);

  const add = token.command('add')
    .argument('<name>', 'a name for the token (letters, digits, . _ -): shown in logs and `token list`')
    .description('create a token and print {"name": ..., "token": ...} once: only a hash of the secret is stored');
  add.addOption(new Option('--scope <scope>', 'push (agents) or read (the read API and the pages)').choices(TOKEN_SCOPES).makeOptionMandatory());
  add.option('--hosts <patterns>', 'push tokens: the hosts it may push for, comma list of patterns (web*.ams,db7.ams)');
  add.option('--compact', 'print the JSON on one line');
  addConfigFlag(add);
  add.addHelpText('after', `
Exit codes: 0 created, 64 usage (bad name, the name is taken, --hosts on a read token), 74 storage
error, 78 config error. Keep the printed token: it cannot be shown again (revoke and add a new one).`);
  add.action(async (name: string, flags: CommonFlags & { scope: TokenScope; hosts?: string; compact?: boolean }) => {
    checkTokenName(name);
    const hosts = flags.hosts === undefined ? null : parseHostPatterns(flags.hosts);
    const config = configFrom(flags);
    const store = await openAnyStore(config.storage.database);
    try {
      const made = await addToken(store, name, flags.scope, hosts);
      process.stdout.write(`${renderJson({ name: made.name, token: made.token }, Boolean(flags.compact))}\n`);
    } finally {
      await store.close();
    }
    setExit(0);
  });

  const list = token.command('list')
    .description('every token (never its secret): name, scope, hosts, created, last used, revoked');
  addOutputFlags(list);
  addConfigFlag(list);
  list.addHelpText('after', `
"last used" is recorded at most once a minute per token.
Exit codes: 0, 64 usage, 74 no or unreadable database, 78 config error.`);
  list.action(async (flags: CommonFlags & OutputFlags) => {
    const out = outputFormat(flags);
    const tokens = (await withReadStore(configFrom(flags), (s) => s.listTokens())).map(tokenView);
    process.stdout.write(renderOutput(out, {
      json: () => ({ tokens }),
      columns: ['name', 'scope', 'hosts', 'created_at', 'last_used_at', 'revoked_at'],
      records: () => tokens.map((t) => ({ ...t, hosts: t.hosts?.join(',') ?? '' })),
      table: () => ({
        headers: ['NAME', 'SCOPE', 'HOSTS', 'CREATED', 'LAST USED', 'REVOKED'],
        rows: tokens.map((t) => [t.name, t.scope, t.hosts?.join(',') ?? (t.scope === 'push' ? '(any)' : ''), shortTime(t.created_at), t.last_used_at ? shortTime(t.last_used_at) : '-', t.revoked_at ? shortTime(t.revoked_at) : '']),
      }),
    }));
    setExit(0);
  });

  const revoke = token.command('revoke')
    .argument('<name>', 'the token to revoke')
    .description('revoke a token at once: a running serve refuses it from its next request');
  addConfigFlag(revoke);
  revoke.addHelpText('after', `
Exit codes: 0 revoked, ${EXIT_NO_TOKEN} no live token has that name, 74 storage error, 78 config error.`);
  revoke.action(async (name: string, flags: CommonFlags) => {
    const config = configFrom(flags);
    const store = await openAnyStore(config.storage.database);
    try {
      const at = new Date().toISOString();
      if (!(await store.revokeToken(name, at))) {
        printError(`jellyfish: no live token named ${name} (\`jellyfish token list\` shows them)`);
        setExit(EXIT_NO_TOKEN);
        return;
      }
      process.stdout.write(`${renderJson({ name, revoked_at: at })}\n`);
    } finally {
      await store.close();
    }
    setExit(0);
  });
}
