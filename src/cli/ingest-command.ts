// `jellyfish ingest FILE|-`: store what host agents pushed; such hosts are skipped by `run`
// while their push is younger than [sapi] max_age.
import fs from 'node:fs';
import type { Command } from 'commander';
import { InventoryError } from '../core/errors.js';
import { ingestText, pushOptions } from '../app/ingest.js';
import { printError } from '../app/log.js';
import { renderJson } from '../report/status-json.js';
import { openAnyStore } from '../store/store.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

async function readInput(file: string): Promise<string> {
  try {
    if (file !== '-') return fs.readFileSync(file, 'utf8');
    // Streamed, not readFileSync(0): that fails with EAGAIN when stdin is a non-blocking pipe.
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EISDIR' ? 'is a directory' : err.code === 'ENOENT' ? 'no such file' : err.message;
    throw new InventoryError(`${file === '-' ? 'stdin' : file}: cannot read: ${why}`);
  }
}

export function registerIngest(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('ingest')
    .argument('<file>', 'a file of collection documents, or - for stdin')
    .description('store collection JSON pushed by host agents; a host that pushed within [sapi] max_age is skipped by `run`')
    .option('--compact', 'print the summary on one line');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Input: one JSON document, a JSON array of them, one per line (NDJSON), or several back to back.
A document (the old collection format):
  {"collection_hostname": "db7.ams",            the host, as the inventory writes it
   "collection_timestamp": "2026-11-23T02:00:00Z",  ISO 8601 (no offset = UTC) or epoch seconds (1795399200)
   "collection_status": "ok",                   ok/success/done/true/0, or failed/error/false/non-zero;
                                                 default ok; a failed one is recorded, its data not stored
   "collection_data": {"packages": {"openssl": "3.0.11-1"}, "rkernel": {"default": "6.1.0-27-amd64"}},
   "pop": "ams", "srvtype": "db", "status": "prod"}  optional; fill in what the inventory has not set
Values are strings (numbers and booleans are taken as text); anything else rejects the document.
Refused too: a document larger than [sapi] max_document (default 64MB), a type or subtype name
longer than 512 characters, a timestamp more than [sapi] max_skew (default 5m) in the future.

Each document is checked and stored on its own (own transaction): a bad one is reported on stderr
and in "rejected" ("doc" counts documents from 1, "line" is where it starts) and nothing of it is
stored; the others are. Facts go through the same interval logic as a run. A type whose stored
facts were observed after the document's time is skipped (listed in "skipped_types"), never
overwritten. A successful push sets the host's sapi time, so \`jellyfish run\` skips the host while
the push is younger than [sapi] max_age, as long as it also had an SSH attempt within [sapi]
verify_every (default 7d): a host that only pushes is still collected over SSH once per window,
so an agent cannot vouch for its host forever. The push is recorded as a run of mode "ingest" with one
attempt per document. Safe to run beside a collection run (it waits for the writer, up to 10 s).

Prints {"stored": N, "rejected": [{"doc": i, "line": l, "host": "...", "error": "..."}], "skipped_types": [{"doc", "host", "types"}]}.
Exit codes: 0 every document stored, 65 some document invalid or too large (the valid ones are stored), no
document found, or the input unreadable; 74 storage error; 78 config error.`);
  cmd.action(async (file: string, flags: CommonFlags & { compact?: boolean }) => {
    const config = configFrom(flags);
    const input = await readInput(file);
    const name = file === '-' ? 'stdin' : file;
    const store = await openAnyStore(config.storage.database);
    try {
      const { summary, exitCode } = await ingestText(store, input, {
        ...pushOptions(config),
        onRejected: (r) => printError(`jellyfish: ${name}: document ${r.doc} (line ${r.line}${r.host ? `, host ${r.host}` : ''}): ${r.error}`),
      });
      if (summary.stored + summary.rejected.length === 0) printError(`jellyfish: ${name}: no document found`);
      for (const s of summary.skipped_types) {
        printError(`jellyfish: ${name}: document ${s.doc} (${s.host}): older than the stored facts of ${s.types.join(', ')}: those types skipped`);
      }
      process.stdout.write(renderJson(summary, Boolean(flags.compact)) + '\n');
      setExit(exitCode);
    } finally {
      await store.close();
    }
  });
}
