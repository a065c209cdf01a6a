// A thread of the storage API's document checker (see check-pool.ts): splits and validates a
// pushed body as `ingest` does, and computes each type's values digest, off the event loop.
import { checkDocuments, type CheckedInput, type ValidateOptions } from '../app/ingest.js';
import { valuesDigest } from '../store/digest.js';

export interface CheckTask { input: string; opts: ValidateOptions }

/** What crosses back to the main thread: each document without its text (the store never needs it). */
export function checkBody(task: CheckTask): CheckedInput {
  const checked = checkDocuments(task.input, task.opts);
  for (const v of checked.valid) {
    v.raw = { index: v.raw.index, line: v.raw.line, text: '' };
    v.doc.digests = Object.create(null) as Record<string, string>;
    for (const [type, values] of Object.entries(v.doc.data)) v.doc.digests[type] = valuesDigest(values);
  }
  return checked;
}

export default checkBody;
