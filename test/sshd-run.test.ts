// Integration with a real OpenSSH sshd on loopback: the shipped collections run for real on this
// machine through `jellyfish run`, facts land in SQLite, and an unchanged second run adds no rows.
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig, SHIPPED_COLLCONFIG } from '../src/config/load.js';
import { startSshd } from './helpers/sshd.js';
import { writeEnv } from './helpers/run-env.js';
import fs from 'node:fs';

t.test('jellyfish run against a real sshd', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir });
  if ('skip' in sshd) {
    t.skip(sshd.skip);
    return;
  }
  t.teardown(() => sshd.stop());
  const env = writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port,
    rows: [`${sshd.address},web,ams,prod`, `${sshd.address}:1,web,ams,prod`],
    ini: { paramiko: { paramiko_user: sshd.user }, collector: { collconfig: SHIPPED_COLLCONFIG } },
    collectors: fs.readFileSync(SHIPPED_COLLCONFIG, 'utf8'),
  });
  const config = loadConfig({ file: env.ini });
  const runOnce = () => collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 120_000 });

  const first = await runOnce();
  t.same(first.json.global_success_hosts_list, [sshd.address], JSON.stringify(first.json.failures));
  t.equal((first.json.failures as Record<string, { code: string }>)[`${sshd.address}:1`]?.code, 'ECONNREFUSED');
  const db = new Database(env.db, { readonly: true });
  t.teardown(() => db.close());
  const fact = (type: string, subtype: string) =>
    (db.prepare('SELECT f.value FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name = ? AND f.type = ? AND f.subtype = ? AND f.is_current = 1').get(sshd.address, type, subtype) as { value: string } | undefined)?.value;
  t.equal(fact('release', 'ID'), 'debian');
  t.match(fact('packages', 'bash'), /^\d/);
  t.match(fact('users', sshd.user), /:\/bin\/sh$/);
  t.match(fact('memory', 'MemTotal'), /\d/);
  t.equal(fact('rkernel', 'default'), (await import('node:os')).release());
  const attempts = db.prepare('SELECT outcome FROM attempts').all() as { outcome: string }[];
  t.same(attempts.map((a) => a.outcome).sort(), ['ok', 'unreachable']);

  // `listening` legitimately changes while other tests' fixture servers come and go; everything else must not.
  const stable = () => (db.prepare("SELECT COUNT(*) AS n FROM facts WHERE type <> 'listening'").get() as { n: number }).n;
  const before = stable();
  const second = await runOnce();
  t.same(second.json.global_success_hosts_list, [sshd.address]);
  t.equal(stable(), before, 'an unchanged second run adds no fact rows');
  t.equal(path.basename(env.db), 'jf.db');
});
