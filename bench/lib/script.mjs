// The remote work every contender does: the shipped collections (config/collector.ini), joined
// into one shell script by jellyfish's own script builder. The peers send that exact text with a
// fixed nonce, so on a real sshd every contender runs the same commands, and on the fixture fleet
// the same recorded outputs come back. jellyfish sends the same script with a nonce of its own.
import path from 'node:path';
import { ROOT } from './paths.mjs';

/** Fixed marker nonce of the peers' script (16 hex digits, as jellyfish draws them). */
export const PEER_NONCE = '6a656c6c79666973';

export async function peerScript() {
  const { loadCollections } = await import(path.join(ROOT, 'dist/collections/load.js'));
  const { buildScript } = await import(path.join(ROOT, 'dist/collections/script.js'));
  const defs = loadCollections(path.join(ROOT, 'config/collector.ini')).filter((c) => c.enabled);
  const steps = defs.map((def, index) => ({ index, def }));
  const text = buildScript(PEER_NONCE, steps);
  const last = steps.length - 1;
  return {
    text,
    collections: defs.length,
    /** A host whose output holds this ran the script to its end (whatever the last step's exit). */
    doneMarker: `@@${PEER_NONCE} E ${last} `,
  };
}
