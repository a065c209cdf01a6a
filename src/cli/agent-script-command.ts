// `jellyfish agent-script [--url URL]`: print the POSIX sh agent for hosts SSH cannot reach.
import type { Command } from 'commander';
import { AGENT_EXIT, buildAgentScript } from '../app/agent-script.js';
import { UsageError } from '../core/errors.js';
import { loadCollections } from '../collections/load.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

export function registerAgentScript(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('agent-script')
    .description('print a POSIX sh agent that runs the collections of collector.ini on a host and pushes them to `jellyfish serve`')
    .option('--url <url>', 'the server as the hosts reach it (default: http(s):// and [api] listen)')
    .option('--cacert <file>', 'a CA certificate file on the hosts, for an HTTPS server the system does not trust');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
The agent runs the same commands with the same timeouts as an SSH run (timeout -k where the host
has it, LC_ALL=C), builds one ingest document and POSTs it to URL/api/v1/push with curl (or
wget). The token is read from a file, never put on a command line.
  sh agent.sh TOKEN_FILE [HOSTNAME]     HOSTNAME as the inventory writes it (default: hostname -f)
Agent exit codes: ${AGENT_EXIT.accepted} accepted, ${AGENT_EXIT.refused} refused (the server's answer on stderr), ${AGENT_EXIT.unreachable} server unreachable,
${AGENT_EXIT.usage} usage, ${AGENT_EXIT.noToken} token file unreadable, ${AGENT_EXIT.noClient} neither curl nor wget.
Examples:
  jellyfish agent-script --url https://jellyfish.example.net:8422 > agent.sh
  jellyfish token add dmz-agents --scope push --hosts '*.dmz'     # the token goes to /etc/jellyfish/token (0600)
  echo '17 */6 * * * root sh /usr/local/lib/jellyfish/agent.sh /etc/jellyfish/token' > /etc/cron.d/jellyfish-agent
Exit codes (of this command): 0, 64 usage (a bad --url), 78 config error (collector.ini).`);
  cmd.action((flags: CommonFlags & { url?: string; cacert?: string }) => {
    const config = configFrom(flags);
    const { host, port, tlsCert } = config.api;
    const url = flags.url ?? `${tlsCert ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (!/^https?:\/\/[^\s'"\/?#]+(\/[^\s'"?#]*)?$/.test(url)) throw new UsageError(`--url ${JSON.stringify(url)}: give http(s)://host:port (with a path prefix when a proxy adds one)`);
    const collections = loadCollections(config.collector.collconfig);
    process.stdout.write(buildAgentScript({ collections, url, ...(flags.cacert ? { cacert: flags.cacert } : {}) }));
    setExit(0);
  });
}
