// The contenders: how each is started and how its successes are counted. Every one gets the same
// host list, the same ed25519 key, no host-key check, the same script and the same concurrency N.
// The OpenSSH-based peers all read one ssh_config (written by sshConfig) through their own way of
// passing ssh options; only KexAlgorithms differs between the `default` and `curve25519` rows.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, ROOT } from './paths.mjs';
import { PORT, USER } from './fleets.mjs';

/** Per-host limits, the same for everyone: connect + handshake, and the whole host. */
export const CONNECT_TIMEOUT_S = 10;
export const HOST_TIMEOUT_S = 120;

export const KEX = {
  default: 'OpenSSH default (sntrup761x25519-sha512)',
  curve: 'curve25519-sha256',
};

/**
 * One ssh_config for every OpenSSH-based peer; `kex: 'curve'` pins the key exchange ssh2 uses.
 * `connectTimeoutS`: a group's own connect bound (ctx.connectTimeoutS), written to a file of its own.
 */
export function sshConfig(dir, keyPath, kex, connectTimeoutS = CONNECT_TIMEOUT_S) {
  const file = path.join(dir, `ssh_config.${kex}${connectTimeoutS === CONNECT_TIMEOUT_S ? '' : `.${connectTimeoutS}s`}`);
  fs.writeFileSync(file, [
    'Host *',
    `  User ${USER}`,
    `  Port ${PORT}`,
    `  IdentityFile ${keyPath}`,
    '  IdentitiesOnly yes',
    '  PreferredAuthentications publickey',
    '  BatchMode yes',
    // host-key checking off, as for every contender (jellyfish: host_key_policy = off)
    '  StrictHostKeyChecking no',
    '  UserKnownHostsFile /dev/null',
    '  GlobalKnownHostsFile /dev/null',
    '  CheckHostIP no',
    '  LogLevel ERROR',
    `  ConnectTimeout ${connectTimeoutS}`,
    // one connection per host, like everyone else: no multiplexing master left behind
    '  ControlMaster no',
    '  ControlPath none',
    '  Compression no',
    '  ForwardAgent no',
    '  ForwardX11 no',
    ...(kex === 'curve' ? ['  KexAlgorithms curve25519-sha256'] : []),
    '',
  ].join('\n'));
  return file;
}

/** Occurrences of `marker` in a file, read in chunks (a peer's output can be hundreds of MB). */
export function countMarker(file, marker) {
  const needle = Buffer.from(marker);
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8 << 20);
  let count = 0;
  let carry = Buffer.alloc(0);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const hay = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      let at = hay.indexOf(needle);
      let lastEnd = 0;
      while (at >= 0) {
        count += 1;
        lastEnd = at + needle.length;
        at = hay.indexOf(needle, lastEnd);
      }
      // Keep a tail that could hold the start of a marker cut by the chunk boundary.
      carry = Buffer.from(hay.subarray(Math.max(lastEnd, hay.length - needle.length + 1)));
    }
  } finally {
    fs.closeSync(fd);
  }
  return count;
}

function countLines(file, re) {
  let n = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) if (re.test(line)) n += 1;
  return n;
}

/**
 * A contender = { id, tool, label, kex, n, start(ctx) -> { cmd, args, env, cwd? }, successes(ctx, files) }.
 * ctx: { dir, hostsFile, hosts, keyPath, scriptFile, script, marker, sshConfigs, inventory, varsFile }.
 */
export const PEERS = {
  pdsh: {
    tool: 'pdsh',
    binary: '/usr/bin/pdsh',
    command: (ctx, n, kex) => ({
      cmd: '/usr/bin/pdsh',
      args: ['-R', 'ssh', '-f', String(n), '-l', USER, '-t', String(ctx.connectTimeoutS ?? CONNECT_TIMEOUT_S), '-u', String(HOST_TIMEOUT_S), '-w', `^${ctx.hostsFile}`, ctx.script],
      env: { PDSH_SSH_ARGS_APPEND: `-F ${ctx.sshConfigs[kex]}` },
      shown: `PDSH_SSH_ARGS_APPEND="-F ssh_config" pdsh -R ssh -f ${n} -l ${USER} -t ${ctx.connectTimeoutS ?? CONNECT_TIMEOUT_S} -u ${HOST_TIMEOUT_S} -w ^hosts "$SCRIPT"`,
    }),
    successes: (ctx, out) => countMarker(out, ctx.marker),
  },
  pssh: {
    tool: 'pssh',
    binary: '/usr/bin/parallel-ssh',
    command: (ctx, n, kex) => ({
      cmd: '/usr/bin/parallel-ssh',
      args: ['-h', ctx.hostsFile, '-p', String(n), '-t', String(HOST_TIMEOUT_S), '-l', USER, '-x', `-F ${ctx.sshConfigs[kex]}`, '-i', ctx.script],
      shown: `parallel-ssh -h hosts -p ${n} -t ${HOST_TIMEOUT_S} -l ${USER} -x "-F ssh_config" -i "$SCRIPT"`,
    }),
    successes: (ctx, out) => countMarker(out, ctx.marker),
  },
  clush: {
    tool: 'clush',
    binary: '/usr/bin/clush',
    command: (ctx, n, kex) => ({
      cmd: '/usr/bin/clush',
      args: ['-f', String(n), '-l', USER, '-t', String(ctx.connectTimeoutS ?? CONNECT_TIMEOUT_S), '-u', String(HOST_TIMEOUT_S), '-o', `-F ${ctx.sshConfigs[kex]}`, '--hostfile', ctx.hostsFile, ctx.script],
      shown: `clush -f ${n} -l ${USER} -t ${ctx.connectTimeoutS ?? CONNECT_TIMEOUT_S} -u ${HOST_TIMEOUT_S} -o "-F ssh_config" --hostfile hosts "$SCRIPT"`,
    }),
    successes: (ctx, out) => countMarker(out, ctx.marker),
  },
  'ansible-raw': {
    tool: 'ansible -m raw',
    binary: '/usr/bin/ansible',
    command: (ctx, n, kex) => ({
      cmd: '/usr/bin/ansible',
      // The script goes in as an !unsafe variable: as a literal -a it would be split on its quotes
      // and templated (rpm's --qf holds `{%`); through the variable the host gets the exact text.
      args: ['all', '-i', ctx.inventory, '-f', String(n), '-T', String(CONNECT_TIMEOUT_S), '-u', USER, '-e', `@${ctx.varsFile}`, '-m', 'raw', '-a', '{{ jf_script }}'],
      env: ansibleEnv(ctx, kex),
      shown: `ansible all -i inventory -f ${n} -T ${CONNECT_TIMEOUT_S} -u ${USER} -e @vars.yml -m raw -a '{{ jf_script }}'`,
    }),
    successes: (ctx, out) => countMarker(out, ctx.marker),
  },
  'ansible-setup': {
    tool: 'ansible -m setup (facts baseline)',
    binary: '/usr/bin/ansible',
    openSshOnly: true,
    command: (ctx, n, kex) => ({
      cmd: '/usr/bin/ansible',
      args: ['all', '-i', ctx.inventory, '-f', String(n), '-T', String(CONNECT_TIMEOUT_S), '-u', USER, '-m', 'setup', '-a', 'gather_subset=min'],
      env: { ...ansibleEnv(ctx, kex), ANSIBLE_PIPELINING: 'True' },
      shown: `ANSIBLE_PIPELINING=True ansible all -i inventory -f ${n} -T ${CONNECT_TIMEOUT_S} -u ${USER} -m setup -a gather_subset=min`,
    }),
    successes: (ctx, out) => countLines(out, /^\S+ \| SUCCESS => \{/),
  },
};

function ansibleEnv(ctx, kex) {
  return {
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    // Replaces Ansible's default `-C -o ControlMaster=auto -o ControlPersist=60s`: no compression
    // and no persistent master, like every other contender (a master outliving the run would
    // also hide its CPU from the measurement).
    ANSIBLE_SSH_ARGS: `-F ${ctx.sshConfigs[kex]}`,
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
    ANSIBLE_LOCAL_TEMP: path.join(ctx.dir, 'ansible-tmp'),
    ANSIBLE_HOME: path.join(ctx.dir, 'ansible-home'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_DEPRECATION_WARNINGS: 'False',
    ANSIBLE_LOAD_CALLBACK_PLUGINS: 'False',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
  };
}

/**
 * jellyfish: scheduler.ini + server4.csv in `dbDir` (the database stays there between runs).
 * Store rows: `pops` names each host's site (the inventory's pop column, host i gets
 * pops[i % pops.length]; default `lo`), `database` a PostgreSQL URL (default: the SQLite file in
 * `dbDir`), and `sites` starts one collector per site at the same time (`run --site S`, each
 * printing its JSON to `<outBase>.<S>.json`); the command ends when the last one has.
 */
export function jellyfishCommand(ctx, dbDir, { threads, workers, profileDir, pops = ['lo'], database, sites, outBase, collconfig, root = ROOT, firstConnect }) {
  fs.mkdirSync(dbDir, { recursive: true });
  fs.writeFileSync(path.join(dbDir, 'server4.csv'), ctx.hosts.map((h, i) => `${h},bench,${pops[i % pops.length]},prod`).join('\n') + '\n');
  fs.writeFileSync(path.join(dbDir, 'scheduler.ini'), [
    '[paramiko]',
    `paramiko_user = ${USER}`,
    `paramiko_key = ${ctx.keyPath}`,
    'host_key_policy = off',
    `port = ${PORT}`,
    `connect_timeout = ${ctx.connectTimeoutS ?? CONNECT_TIMEOUT_S}s`,
    'ssh_config = none',
    '[collector]',
    `threads = ${threads}`,
    `workers = ${workers}`,
    `host_timeout = ${HOST_TIMEOUT_S}s`,
    ...(collconfig ? [`collconfig = ${collconfig}`] : []),
    ...(database ? ['[storage]', `database = ${database}`] : []),
    '',
  ].join('\n'));
  const nodeArgs = profileDir
    ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--import', path.join(BENCH, 'profile-hook.mjs')]
    : firstConnect ? ['--import', path.join(BENCH, 'first-connect-hook.mjs')] : [];
  const settings = `[collector] threads = ${threads}, workers = ${workers}; host_key_policy = off${database ? `; [storage] database = ${database.replace(/:\d+\//, ':PORT/')}, PGPASSWORD in the environment` : ''}`;
  const run = [process.execPath, ...nodeArgs, path.join(root, 'dist/cli/main.js'), 'run', '-c', 'scheduler.ini', '--compact'];
  if (sites?.length) {
    // One shell starts every collector in the background, then waits for each and exits with the
    // highest exit code: one process tree (one cgroup, one wall time) for the whole set.
    const q = (x) => `'${String(x).replace(/'/g, "'\\''")}'`;
    const outs = sites.map((site) => `${outBase}.${site}.json`);
    const body = [
      ...sites.map((site, i) => `"$@" --site ${q(site)} >${q(outs[i])} 2>${q(`${outBase}.${site}.err`)} & p${i}=$!`),
      'rc=0',
      ...sites.map((_, i) => `wait $p${i}; e=$?; [ $e -gt $rc ] && rc=$e`),
      'exit $rc',
    ].join('\n');
    return {
      cmd: '/bin/sh',
      args: ['-c', body, 'sh', ...run],
      cwd: dbDir,
      env: {},
      outFiles: outs,
      shown: sites.map((site) => `node dist/cli/main.js run -c scheduler.ini --compact --site ${site} &`).join('\n') + `\nwait   # ${settings}`,
    };
  }
  return {
    cmd: run[0],
    args: run.slice(1),
    cwd: dbDir,
    env: profileDir ? { JF_BENCH_PROFILE_OUT: path.join(profileDir, 'hook.json') } : firstConnect ? { JF_BENCH_FIRST_CONNECT: firstConnect } : {},
    shown: `${profileDir ? 'node --cpu-prof --import bench/profile-hook.mjs dist/cli/main.js' : firstConnect ? 'node --import bench/first-connect-hook.mjs dist/cli/main.js' : 'node dist/cli/main.js'} run -c scheduler.ini --compact   # ${settings}${collconfig ? `; [collector] collconfig = ${path.basename(collconfig)}` : ''}`,
  };
}

export function jellyfishSuccesses(out) {
  try {
    return JSON.parse(fs.readFileSync(out, 'utf8')).global_success_hosts ?? 0;
  } catch {
    return 0;
  }
}

/** The limit; `plain` sends ctx.plainFile (the commands without frames) and counts ctx.plainMarker. */
export function limitCommand(ctx, n, { plain = false, firstConnect } = {}) {
  const [file, marker] = plain ? [ctx.plainFile, ctx.plainMarker] : [ctx.scriptFile, ctx.marker];
  return {
    cmd: process.execPath,
    ...(firstConnect ? { env: { JF_BENCH_FIRST_CONNECT: firstConnect } } : {}),
    args: [...(firstConnect ? ['--import', path.join(BENCH, 'first-connect-hook.mjs')] : []), path.join(BENCH, 'limit.mjs'), '--hosts', ctx.hostsFile, '--key', ctx.keyPath, '--user', USER, '--port', String(PORT), '--concurrency', String(n), '--script', file, '--marker', marker, '--ready-timeout', String((ctx.connectTimeoutS ?? CONNECT_TIMEOUT_S) * 1000)],
    shown: `node bench/limit.mjs --hosts hosts --key id_ed25519 --concurrency ${n} --script ${plain ? 'script-plain.sh' : 'script.sh'}`,
  };
}

/** The limit's summary line: { ok, failed, errors, kex }. */
export function limitSummary(out) {
  try {
    return JSON.parse(fs.readFileSync(out, 'utf8').trim().split('\n').pop());
  } catch {
    return { ok: 0 };
  }
}

export function limitSuccesses(out) {
  return limitSummary(out).ok ?? 0;
}

/**
 * The key exchange OpenSSH's client negotiates with `host` under one of the peers' ssh_configs,
 * read from its own debug log (`kex: algorithm: ...`): what every OpenSSH-based peer row used.
 */
export function probeKex(configFile, host) {
  const r = spawnSync('/usr/bin/ssh', ['-F', configFile, '-o', 'LogLevel=DEBUG1', host, 'true'], { encoding: 'utf8', timeout: 30_000 });
  return /kex: algorithm: (\S+)/.exec(r.stderr ?? '')?.[1];
}
