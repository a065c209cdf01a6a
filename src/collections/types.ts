// A collection is a shell command plus a pure parser: the command runs on the host, the parser
// turns its output into subtype -> value facts.

export interface CollectionDef {
  /** the section name in collector.ini, e.g. `packages`; the fact `type` */
  type: string;
  /** the shell command run on the host (by /bin/sh) */
  command: string;
  /** true: each output line is `subtype<separator>value`; false: the trimmed output is subtype `default` */
  multi: boolean;
  /** splits subtype from value in multi output; undefined = a run of whitespace */
  separator?: string;
  /** per-collection limit in milliseconds */
  timeoutMs: number;
  enabled: boolean;
}

export type { FactValues } from '../core/results.js';
