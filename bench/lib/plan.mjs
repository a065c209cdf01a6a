// What each profile runs. A group is one table: one host list, one fleet, one delay; its
// reference row (jellyfish with the shipped defaults, steady state) is what `× jellyfish` divides
// by. Rows: jellyfish {n: threads, workers}, the limit {n}, a peer {n, kexId}.
// The quick profile fits in about 10 minutes on 2 cores: the peers (Ansible and clush run at
// 10-30 hosts/s here) get a shorter host list than the scale runs, the thread/worker sweep is a
// subset, and the OpenSSH group leaves out the slowest peer rows (clush on OpenSSH's default key
// exchange, Ansible raw and the Ansible facts baseline), which only the full profile runs there.
// The real OpenSSH fleet is bound by its own work: the shipped collections cost each host ~320 ms
// of CPU under sshd, so 2 cores serve ~6 hosts/s whoever the client is; the full profile runs it
// on 128 addresses (8 sshd) rather than 256 to keep the whole profile under an hour, the peers'
// side-by-side groups on the fixture fleet on 500 hosts (Ansible runs ~9 hosts/s), and the
// 10,000-host groups without a first-run row and with the 1,024-in-flight rows only at 100 ms.
// The store group (`postgres: true`, `--only postgres` runs it alone) compares the SQLite and the
// PostgreSQL store under the same collector settings, then two site collectors at once on each:
// the inventory's pop column splits the hosts into sites s1 and s2 (alternate rows), for every
// row, so the single collectors collect the same inventory the site collectors share out. The
// PostgreSQL server (bench/pg-server.mjs) runs on the same cores, in a cgroup of its own.

const JF_DEFAULT = { tool: 'jellyfish', n: 256, workers: 'auto' };
const jf = (n, workers, extra = {}) => ({ id: `jf-t${n}-w${workers}`, tool: 'jellyfish', n, workers, label: `jellyfish threads ${n}, workers ${workers}`, ...extra });
const reference = () => ({ ...jf(JF_DEFAULT.n, JF_DEFAULT.workers), reference: true, label: 'jellyfish, shipped defaults: threads 256, workers auto (steady state)' });
const firstRun = () => ({ ...jf(JF_DEFAULT.n, JF_DEFAULT.workers), id: 'jf-first', fillRow: true, label: 'jellyfish threads 256, workers auto, first run (empty database every rep)' });
const limit = (n) => ({ id: `limit-${n}`, tool: 'limit', n, label: 'bare ssh2 loop (the limit)' });
const peer = (tool, n, kexId = 'curve') => ({ id: `${tool}-${kexId}-${n}`, tool, n, kexId, label: tool === 'ansible-setup' ? 'ansible -m setup gather_subset=min' : tool === 'ansible-raw' ? 'ansible -m raw' : tool });
const SITES = ['s1', 's2'];
const storeRows = () => [
  { ...jf(256, 'auto'), id: 'store-sqlite', store: 'sqlite', reference: true, label: 'a. SQLite store, one collector for every host' },
  { ...jf(256, 'auto'), id: 'store-pg', store: 'postgres', label: 'b. PostgreSQL store, one collector for every host' },
  { ...jf(256, 'auto'), id: 'sites-pg', store: 'postgres', sites: SITES, label: 'c. PostgreSQL store, site collectors s1 and s2 at once' },
  { ...jf(256, 'auto'), id: 'sites-sqlite', store: 'sqlite', sites: SITES, label: 'd. SQLite store, site collectors s1 and s2 at once' },
];
const storeGroup = (hosts) => ({
  id: 'postgres', postgres: true, hosts, pops: SITES,
  title: `PostgreSQL store and site collectors: fixture fleet, ${hosts.toLocaleString('en-US')} hosts, no added delay, steady state`,
  rows: storeRows(),
});
// The start-up group (bench/lib/startup.mjs): three light commands, so each contender's fixed
// cost and its framing's cost on the host show. Ratios divide by the bare loop sending the same
// framed script; the `plain` loop row sends the three commands without frames or timeout(1).
// It runs with `--only startup` and in the full profile, not in the whole quick profile: the
// OpenSSH-based peers take ~100 s a rep on 2,000 fixture hosts (one ssh process per host), so the
// quick profile's fixture group keeps pssh, the fastest of them there, alone.
const startup = (opensshHosts, fixtureHosts, fixturePeers) => ({
  // Every contender gets 60 s to connect here, not 10: 256 handshakes at once cost the 2 cores
  // the fleet shares with them ~100 ms of sshd CPU each, and with 10 s half the ssh2 sessions
  // timed out before sshd answered (OpenSSH's ConnectTimeout bounds only the TCP connect).
  openssh: {
    id: 'startup-openssh', hosts: opensshHosts, connectTimeoutS: 60, title: `Start-up: real OpenSSH fleet, ${opensshHosts} addresses, 3 light commands, curve25519, 256 in flight, connect timeout 60 s`,
    rows: [reference(), limit(256), { ...limit(256), id: 'limit-plain', plain: true, label: 'bare ssh2 loop, the 3 commands sent plainly (no frames, no timeout)' }, peer('pdsh', 256), peer('pssh', 256)],
  },
  fixture: {
    id: 'startup-fixture', hosts: fixtureHosts, title: `Start-up: fixture fleet, ${fixtureHosts.toLocaleString('en-US')} hosts, 3 light commands, 256 in flight`,
    rows: [reference(), limit(256), ...fixturePeers.map((t) => peer(t, 256))],
  },
  // The fixed cost alone: one host, so the CPU is start-up, one session and the exit.
  single: {
    id: 'startup-one', hosts: 1, title: 'Start-up: fixture fleet, 1 host, 3 light commands (the fixed cost)',
    rows: [reference(), limit(256)],
  },
});
const peers = (n, kexIds = ['curve']) => kexIds.flatMap((k) => ['pdsh', 'pssh', 'clush', 'ansible-raw'].map((t) => peer(t, n, k)));

export const PROFILES = {
  // `--smoke`: every code path once on tiny fleets, to check the harness itself (~2 minutes).
  smoke: {
    fixtureHosts: 60,
    opensshHosts: 16,
    reps: 1,
    runTimeoutMs: 2 * 60_000,
    fixture: [
      {
        delayMs: 0,
        profile: true,
        groups: [
          { id: 'scale', scale: true, hosts: 60, title: 'Fixture fleet, 60 hosts (smoke)', rows: [firstRun(), reference(), limit(256)] },
          { id: 'side', peers: true, hosts: 20, title: 'Fixture fleet, 20 hosts (smoke)', rows: [reference(), jf(256, 0), limit(256), ...peers(256)] },
          storeGroup(60),
        ],
      },
      { delayMs: 100, groups: [{ id: 'delay100', hosts: 60, title: 'Fixture fleet, 60 hosts, 100 ms (smoke)', rows: [{ ...jf(1024, 'auto'), reference: true }, limit(1024)] }] },
    ],
    startup: startup(16, 60, ['pdsh', 'pssh']),
    openssh: {
      id: 'openssh', peers: true, hosts: 16, title: 'Real OpenSSH fleet, 16 addresses (smoke)',
      rows: [reference(), limit(256), ...peers(256, ['default', 'curve']), peer('ansible-setup', 256, 'curve')],
    },
  },
  quick: {
    fixtureHosts: 2000,
    opensshHosts: 64,
    reps: 3,
    runTimeoutMs: 5 * 60_000,
    fixture: [
      {
        delayMs: 0,
        profile: true,
        groups: [
          { id: 'scale', scale: true, hosts: 2000, title: 'Fixture fleet, 2,000 hosts, no added delay', rows: [firstRun(), reference(), limit(256)] },
          { id: 'side', peers: true, hosts: 150, title: 'Fixture fleet, the first 150 hosts, no added delay: side by side', rows: [reference(), jf(256, 0), jf(256, 2), jf(64, 'auto'), limit(256), ...peers(256)] },
          storeGroup(1000),
        ],
      },
      {
        delayMs: 100,
        groups: [
          { id: 'delay100', hosts: 2000, title: 'Fixture fleet, 2,000 hosts, 100 ms before every answer', rows: [{ ...jf(1024, 'auto'), reference: true }, limit(1024)] },
        ],
      },
    ],
    startup: startup(240, 2000, ['pssh']),
    openssh: {
      id: 'openssh', peers: true, hosts: 64, title: 'Real OpenSSH fleet, 64 addresses',
      rows: [reference(), limit(256), peer('pdsh', 256, 'default'), peer('pssh', 256, 'default'), peer('pdsh', 256, 'curve'), peer('pssh', 256, 'curve'), peer('clush', 256, 'curve')],
    },
  },
  full: {
    fixtureHosts: 10_000,
    opensshHosts: 128,
    reps: 3,
    runTimeoutMs: 45 * 60_000,
    fixture: [
      {
        delayMs: 0,
        profile: true,
        groups: [
          // No first-run row at this size (an empty 10,000-host database fills in ~2 minutes a rep): the quick profile measures it at 2,000.
          { id: 'scale', scale: true, hosts: 10_000, title: 'Fixture fleet, 10,000 hosts, no added delay', rows: [reference(), limit(256)] },
          {
            id: 'side', peers: true, hosts: 500, title: 'Fixture fleet, the first 500 hosts, no added delay: side by side',
            rows: [reference(), ...[64, 256, 1024].flatMap((n) => [0, 1, 2].filter((w) => !(n === 256 && w === 1)).map((w) => jf(n, w))), limit(64), limit(256), limit(1024), ...peers(256)],
          },
          storeGroup(10_000),
        ],
      },
      {
        delayMs: 20,
        groups: [
          { id: 'side20', peers: true, hosts: 500, title: 'Fixture fleet, the first 500 hosts, 20 ms before every answer: side by side', rows: [reference(), jf(1024, 'auto'), limit(256), ...peers(256)] },
        ],
      },
      {
        delayMs: 100,
        groups: [
          { id: 'side100', peers: true, hosts: 500, title: 'Fixture fleet, the first 500 hosts, 100 ms before every answer: side by side', rows: [reference(), jf(1024, 'auto'), limit(256), ...peers(256)] },
          { id: 'scale100', hosts: 10_000, title: 'Fixture fleet, 10,000 hosts, 100 ms before every answer', rows: [reference(), jf(1024, 'auto'), limit(1024)] },
        ],
      },
    ],
    startup: startup(240, 2000, ['pdsh', 'pssh']),
    openssh: {
      id: 'openssh', peers: true, hosts: 128, title: 'Real OpenSSH fleet, 128 addresses',
      rows: [reference(), limit(256), ...peers(256, ['default', 'curve']), peer('ansible-setup', 256, 'curve')],
    },
  },
};
