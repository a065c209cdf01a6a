// The digest of one host's values of one type, as fact_types keeps it (migration 7): equal
// digests mean the same subtype -> value map, so the stored intervals need no comparison.
import crypto from 'node:crypto';

/** SHA-1 over the sorted subtype/value pairs, length-prefixed so no two maps share a text. */
export function valuesDigest(values: Record<string, string>): string {
  // One text hashed at once: a thousand small update() calls into the hash cost more than hashing.
  const parts: string[] = [];
  for (const k of Object.keys(values).sort()) {
    const v = values[k];
    const text = typeof v === 'string' ? v : String(v);
    parts.push(`${k.length}:${k}${text.length}:`, text);
  }
  return crypto.createHash('sha1').update(parts.join('')).digest('base64');
}
