// Both ends of a bench server process (the fleet, the PostgreSQL server). The server stops on
// SIGTERM/SIGINT or when the bench that started it goes away (its stdin pipe closes), and exits at
// the latest `graceMs` after the stop began; the bench stops it with stopServer.
import fs from 'node:fs';

export function serveUntilStopped(close, graceMs) {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), graceMs).unref();
    close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Stdin closing means the bench went away; only a pipe can tell (/dev/null ends at once).
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

/** The bench's side: SIGTERM the server process and wait for it, then remove its cgroup. */
export function stopServer(child, cg) {
  return new Promise((resolve) => {
    const done = () => { cg?.remove(); resolve(); };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}
