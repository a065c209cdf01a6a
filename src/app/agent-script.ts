// `jellyfish agent-script`: a POSIX sh program that runs the configured collections on the host
// itself (the same commands and timeouts as an SSH run: `timeout -k` where the host has it, LC_ALL=C,
// sbin on PATH), parses their output as collections/parse.ts does, builds ONE ingest document and
// pushes it with curl (or wget). For hosts SSH cannot reach (SPEC §11).
//
// The parsing and JSON escaping are done in awk, in the C locale (bytes): quotes, backslashes and
// control characters are escaped; bytes >= 0x80 pass as they are and the server decodes the body
// as UTF-8, so invalid sequences become U+FFFD exactly as collected output does; NUL bytes are
// turned into 0xFF first (awk cannot hold NUL; 0xFF is never valid UTF-8, so it arrives as U+FFFD,
// which is what the collector stores for NUL). Whitespace is ASCII whitespace (a non-ASCII space,
// which the collector's trim also strips, is kept: C-locale awk cannot tell).
// The token is read from a file into a header file (curl -H @file, a wgetrc for wget), never put
// on a command line where `ps` would show it.
import type { CollectionDef } from '../collections/types.js';
import { KILL_GRACE_SECONDS } from '../collections/script.js';
import { VERSION } from './version.js';

export interface AgentScriptOptions {
  collections: CollectionDef[];
  /** the server's base URL: http(s)://host:port */
  url: string;
  /** a CA file on the host for an HTTPS server whose certificate the system does not trust */
  cacert?: string;
}

/** Agent exit codes (also in its own header and in docs/api.md). */
export const AGENT_EXIT = { accepted: 0, refused: 1, unreachable: 2, usage: 64, noToken: 66, noClient: 69 } as const;

export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The awk program (exported for its parity test): MODE=str prints ENVIRON["V"] as a JSON string; else one `"type":{...}` entry from the output on stdin. */
export const AGENT_AWK = String.raw`function esc(s,   r, i, c, n) {
  if (index(s, "\"") == 0 && index(s, "\\") == 0 && s !~ CTRL) return s
  r = ""; n = length(s)
  for (i = 1; i <= n; i++) { c = substr(s, i, 1); if (c in CE) r = r CE[c]; else r = r c }
  return r
}
function jstr(s) { return "\"" esc(s) "\"" }
function trim(s) { sub(/^[ \t\n\v\f\r]+/, "", s); sub(/[ \t\n\v\f\r]+$/, "", s); return s }
function tok(s) {
  if (match(s, /^[0-9]+/)) return substr(s, 1, RLENGTH)
  match(s, /^[^0-9]+/); return substr(s, 1, RLENGTH)
}
# compareNatural (collections/parse.ts): digit runs by value, then token count, then plain order
function natcmp(a, b,   x, y, xs, ys, p, q) {
  p = a ""; q = b ""
  while (p != "" && q != "") {
    x = tok(p); y = tok(q); p = substr(p, length(x) + 1); q = substr(q, length(y) + 1)
    if (x == y) continue
    if (x ~ /^[0-9]/ && y ~ /^[0-9]/) {
      xs = x; sub(/^0+/, "", xs); if (xs == "") xs = "0"
      ys = y; sub(/^0+/, "", ys); if (ys == "") ys = "0"
      if (length(xs) != length(ys)) return length(xs) < length(ys) ? -1 : 1
      if (xs != ys) return xs < ys ? -1 : 1
      continue
    }
    return x < y ? -1 : 1
  }
  if (p != "" || q != "") return p != "" ? 1 : -1
  return (a "") < (b "") ? -1 : ((a "") == (b "") ? 0 : 1)
}
function add(k, v) {
  # The store refuses an empty subtype name: such a line would cost the whole document.
  if (k == "" || length(k) > 512) return
  if (!(k in cnt)) { order[++n] = k; cnt[k] = 0 }
  if ((k, v) in seen) return
  seen[k, v] = 1; vals[k, ++cnt[k]] = v
}
function joined(k,   m, i, j, t, list) {
  if (cnt[k] == 1) return vals[k, 1]
  m = 0
  for (i = 1; i <= cnt[k]; i++) if (vals[k, i] != "") list[++m] = vals[k, i]
  for (i = 2; i <= m; i++) { t = list[i]; for (j = i - 1; j >= 1 && natcmp(list[j], t) > 0; j--) list[j + 1] = list[j]; list[j + 1] = t }
  t = ""
  for (i = 1; i <= m; i++) t = t (i > 1 ? ", " : "") list[i]
  return t
}
BEGIN {
  CTRL = "["
  for (i = 1; i < 32; i++) { c = sprintf("%c", i); CE[c] = sprintf("\\u%04x", i); CTRL = CTRL c }
  CTRL = CTRL "]"
  CE["\""] = "\\\""; CE["\\"] = "\\\\"
  if (ENVIRON["MODE"] == "str") { printf "%s", jstr(ENVIRON["V"]); exit }
  multi = ENVIRON["M"] == "1"; sep = ENVIRON["S"]; n = 0; body = ""
}
multi && sep == "" {
  line = trim($0); if (line == "") next
  if (match(line, /[ \t\n\v\f\r]+/)) add(substr(line, 1, RSTART - 1), substr(line, RSTART + RLENGTH)); else add(line, "")
  next
}
multi {
  line = $0; sub(/\r$/, "", line)
  if (trim(line) == "") next
  p = index(line, sep)
  if (p == 0) add(trim(line), ""); else add(trim(substr(line, 1, p - 1)), trim(substr(line, p + length(sep))))
  next
}
{ body = NR == 1 ? $0 : body "\n" $0 }
END {
  if (ENVIRON["MODE"] == "str") exit
  printf "%s:{", jstr(ENVIRON["TY"])
  if (!multi) printf "\"default\":%s", jstr(trim(body))
  else for (i = 1; i <= n; i++) printf "%s%s:%s", (i > 1 ? "," : ""), jstr(order[i]), jstr(joined(order[i]))
  printf "}"
}`;

export function buildAgentScript(o: AgentScriptOptions): string {
  const enabled = o.collections.filter((c) => c.enabled);
  const seconds = (c: CollectionDef) => Math.max(1, Math.ceil(c.timeoutMs / 1000));
  const url = o.url.replace(/\/+$/, '');
  const curlCa = o.cacert ? ` --cacert ${shellQuote(o.cacert)}` : '';
  const wgetCa = o.cacert ? ` --ca-certificate=${shellQuote(o.cacert)}` : '';
  const lines = [
    '#!/bin/sh',
    `# jellyfish agent ${VERSION}: runs this host's collections (${enabled.length}, from collector.ini) and`,
    '# pushes them as one document to the jellyfish storage API. Regenerate it with',
    '# `jellyfish agent-script` when collector.ini changes.',
    '#   usage: sh agent.sh TOKEN_FILE [HOSTNAME]   (HOSTNAME as the inventory writes it; default hostname -f)',
    `#   exit: ${AGENT_EXIT.accepted} accepted, ${AGENT_EXIT.refused} refused (the answer on stderr), ${AGENT_EXIT.unreachable} server unreachable,`,
    `#         ${AGENT_EXIT.usage} usage, ${AGENT_EXIT.noToken} token file unreadable, ${AGENT_EXIT.noClient} neither curl nor wget`,
    'set -u',
    `URL=${shellQuote(url)}`,
    `if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: sh $0 TOKEN_FILE [HOSTNAME]" >&2; exit ${AGENT_EXIT.usage}; fi`,
    'TOKEN_FILE=$1',
    `if [ ! -r "$TOKEN_FILE" ] || [ ! -s "$TOKEN_FILE" ]; then echo "jellyfish-agent: cannot read the token file $TOKEN_FILE" >&2; exit ${AGENT_EXIT.noToken}; fi`,
    'if [ $# -eq 2 ]; then HOST=$2; else HOST=$(hostname -f 2>/dev/null || hostname 2>/dev/null || uname -n); fi',
    `if [ -z "$HOST" ]; then echo "jellyfish-agent: no host name: give it as the second argument" >&2; exit ${AGENT_EXIT.usage}; fi`,
    'umask 077',
    'W=$(mktemp -d "${TMPDIR:-/tmp}/jellyfish-agent.XXXXXX") || exit 70',
    "trap 'rm -rf \"$W\"' EXIT",
    "trap 'exit 143' TERM",
    "trap 'exit 130' INT",
    // The same environment as a collection over SSH (collections/script.ts).
    'export LC_ALL=C LANG=C PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"',
    'if command -v timeout >/dev/null 2>&1; then T=1; else T=0; fi',
    `r() { if [ $T = 1 ]; then timeout -k ${KILL_GRACE_SECONDS} "$2" sh -c "$3" </dev/null 2>/dev/null; else sh -c "$3" </dev/null 2>/dev/null; fi >"$W/$1.out"; echo $? >"$W/$1.rc"; }`,
    `cat >"$W/j.awk" <<'JELLYFISH_AWK'`,
    AGENT_AWK,
    'JELLYFISH_AWK',
    ': >"$W/data"',
    'OK=0',
    'c() {',
    '  [ "$(cat "$W/$1.rc")" = 0 ] || return 0',
    '  if [ -s "$W/data" ]; then printf , >>"$W/data"; fi',
    `  tr '\\000' '\\377' <"$W/$1.out" | M="$2" TY="$3" S="$4" awk -f "$W/j.awk" >>"$W/data"`,
    '  OK=$((OK + 1))',
    '}',
  ];
  enabled.forEach((c, i) => lines.push(`r ${i + 1} ${seconds(c)} ${shellQuote(c.command)}`));
  enabled.forEach((c, i) => lines.push(`c ${i + 1} ${c.multi ? 1 : 0} ${shellQuote(c.type)} ${shellQuote(c.separator ?? '')}`));
  lines.push(
    'if [ "$OK" -gt 0 ]; then STATUS=ok; else STATUS=failed; fi',
    '{',
    '  printf \'{"collection_hostname":\'',
    '  MODE=str V="$HOST" awk -f "$W/j.awk" </dev/null',
    '  printf \',"collection_timestamp":%s,"collection_status":"%s","collection_data":{\' "$(date +%s)" "$STATUS"',
    '  cat "$W/data"',
    "  printf '}}\\n'",
    '} >"$W/doc"',
    // The token goes into a file curl or wget reads: never an argument `ps` would show.
    "TOKEN=$(tr -d ' \\t\\r\\n' <\"$TOKEN_FILE\")",
    'if command -v curl >/dev/null 2>&1; then',
    '  printf \'Authorization: Bearer %s\\n\' "$TOKEN" >"$W/h"',
    `  CODE=$(curl -sS --max-time 300${curlCa} -o "$W/answer" -w '%{http_code}' -H @"$W/h" -H 'Content-Type: application/json' --data-binary @"$W/doc" "$URL/api/v1/push")`,
    `  RC=$?; if [ $RC -ne 0 ]; then echo "jellyfish-agent: cannot reach $URL (curl exit $RC)" >&2; exit ${AGENT_EXIT.unreachable}; fi`,
    'elif command -v wget >/dev/null 2>&1; then',
    '  printf \'header = Authorization: Bearer %s\\n\' "$TOKEN" >"$W/wgetrc"',
    `  if WGETRC="$W/wgetrc" wget -q -T 300${wgetCa} --content-on-error -O "$W/answer" --header='Content-Type: application/json' --post-file="$W/doc" "$URL/api/v1/push"; then CODE=200; else CODE=$?; fi`,
    `  if [ "$CODE" = 4 ]; then echo "jellyfish-agent: cannot reach $URL (wget exit 4)" >&2; exit ${AGENT_EXIT.unreachable}; fi`,
    'else',
    `  echo "jellyfish-agent: neither curl nor wget is installed" >&2; exit ${AGENT_EXIT.noClient}`,
    'fi',
    `if [ "$CODE" = 200 ]; then exit ${AGENT_EXIT.accepted}; fi`,
    'echo "jellyfish-agent: the server refused the push (HTTP $CODE):" >&2',
    'cat "$W/answer" >&2 2>/dev/null',
    `exit ${AGENT_EXIT.refused}`,
    '',
  );
  return lines.join('\n');
}
