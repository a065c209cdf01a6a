// A ProxyCommand for tests (nc is not installed): `node proxy-pipe.mjs ADDRESS PORT LOG WORDS...`
// appends WORDS (the expanded %-tokens) to LOG, then joins stdin/stdout to ADDRESS:PORT.
import fs from 'node:fs';
import net from 'node:net';

const [address = '', port = '', log = '', ...words] = process.argv.slice(2);
fs.appendFileSync(log, `${words.join(' ')}\n`);
const sock = net.connect(Number(port), address);
sock.on('error', (e) => {
  process.stderr.write(`proxy-pipe: ${e.message}\n`);
  process.exit(1);
});
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on('close', () => process.exit(0));
