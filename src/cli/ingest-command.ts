// `jellyfish ingest FILE|-`: store what host agents pushed; such hosts are skipped by `run`
// while their push is younger than [sapi] max_age.
import fs from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import { InventoryError } from '../app/errors.js';
import { splitDocuments, validateDocument } from '../app/ingest.js';
import { renderJson } from '../report/status-json.js';
import { openStore } from '../store/store.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

export function registerIngest(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('ingest')
    .argument('<file>', 'a file of collection documents, or - for stdin')
    .description('store collection JSON pushed by host agents (old format: collection_hostname, collection_timestamp, collection_status, collection_data {type: {subtype: value}}, optional pop/srvtype/status); one document, an array, or one per line')
    .option('--compact', 'print the summary on one line');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
collection_timestamp is ISO 8601 or epoch seconds. Each document is stored in its own transaction;
a type whose stored facts are newer than the document is skipped, never overwritten.
Prints {"stored": N, "rejected": [{"doc", "line", "error"}], "skipped_types": [...]}.
Exit codes: 0 all stored, 65 some document invalid (the valid ones are stored), 74 storage error, 78 config error.`);
  cmd.action(async (file: string, flags: CommonFlags & { compact?: boolean }) => {
    const config = configFrom(flags);
    let input: string;
    try {
      input = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new InventoryError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
    }
    const docs = splitDocuments(input);
    const store = openStore(config.storage.database);
    const rejected: { doc: number; line: number; error: string }[] = [];
    const skipped: { doc: number; host: string; types: string[] }[] = [];
    let stored = 0;
    try {
      const runId = store.beginRun({ mode: 'ingest', startedAt: new Date(), pid: process.pid, hostname: os.hostname(), threads: 0, workers: 0 });
      for (const raw of docs) {
        const doc = validateDocument(raw);
        if ('error' in doc) {
          rejected.push({ doc: raw.index, line: raw.line, error: doc.error });
          process.stderr.write(`jellyfish: ${file}: document ${raw.index} (line ${raw.line}): ${doc.error}\n`);
          continue;
        }
        const r = store.recordPush(runId, doc);
        stored++;
        if (r.skippedTypes.length) skipped.push({ doc: raw.index, host: doc.host, types: r.skippedTypes });
      }
      const summary = { stored, rejected, skipped_types: skipped };
      const code = rejected.length || docs.length === 0 ? 65 : 0;
      store.finishRun(runId, new Date(), code, JSON.stringify(summary));
      process.stdout.write(renderJson(summary, Boolean(flags.compact)) + '\n');
      if (docs.length === 0) process.stderr.write(`jellyfish: ${file}: no document found\n`);
      setExit(code);
    } finally {
      store.close();
    }
  });
}
