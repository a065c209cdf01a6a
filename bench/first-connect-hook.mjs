// Preloaded into a start-up run (`node --import bench/first-connect-hook.mjs ...`, jellyfish and
// the bare loop alike): when the process opens its first TCP connection, from whichever thread,
// appends {at, cpuMs, thread} to $JF_BENCH_FIRST_CONNECT: the wall clock then and the process's
// CPU so far (every thread's), i.e. what the process spent before its first host. The bench
// takes the earliest line and subtracts the spawn time it noted itself.
import fs from 'node:fs';
import net from 'node:net';
import { isMainThread, threadId } from 'node:worker_threads';

const out = process.env.JF_BENCH_FIRST_CONNECT;
if (out) {
  const connect = net.Socket.prototype.connect;
  let seen = false;
  net.Socket.prototype.connect = function firstConnect(...args) {
    if (!seen) {
      seen = true;
      const u = process.cpuUsage();
      fs.appendFileSync(out, `${JSON.stringify({ at: Date.now(), cpuMs: (u.user + u.system) / 1000, thread: isMainThread ? 'main' : `worker ${threadId}` })}\n`);
    }
    return connect.apply(this, args);
  };
}
