// Debian's security tracker JSON (https://security-tracker.debian.org/tracker/data/json):
//   { SOURCE: { CVE-ID: { description, scope, debianbug, releases: { CODENAME: { status,
//     fixed_version, urgency, repositories } } } } }
// -> one audit per (source package, CVE), one bucket per release. Pure: a parsed member in, audit
// files, skips and errors out through the sink.
import {
  buildAudit, DEBIAN_UNSTABLE, debianTarget, DEFAULT_PRIORITY, fixedVersionError, packageNameError, priorityOfWord, unfixedIn, type Bucket,
} from './audit.js';
import { isObject, jsonPath, keepAudit, type FeedOptions, type FeedSink } from './feed-types.js';

/** The tracker's "not affected" marker for a resolved entry. */
const NOT_AFFECTED = '0';
const ID_RE = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;
const CODENAME_RE = /^[a-z][a-z0-9-]{0,39}$/;
const TRACKER = 'https://security-tracker.debian.org/tracker';

/** One source package's entries. `where` names the place in the input (file:line) for errors. */
export function readTrackerPackage(pkg: string, value: unknown, where: string, opts: FeedOptions, sink: FeedSink): void {
  const bad = (path: (string | number)[], reason: string) => { sink.error(`${where}: ${jsonPath([pkg, ...path])}`, reason); sink.skip('malformed'); };
  const nameError = packageNameError('dpkg', pkg);
  if (nameError) return bad([], nameError);
  if (!isObject(value)) return bad([], 'expected an object of CVE entries');
  for (const [id, entry] of Object.entries(value)) {
    if (!ID_RE.test(id)) { bad([id], `${JSON.stringify(id.slice(0, 80))} is not an advisory id (CVE-2024-1234, TEMP-...)`); continue; }
    if (!isObject(entry)) { bad([id], 'expected an object'); continue; }
    const releases = entry.releases;
    if (releases === undefined || (isObject(releases) && Object.keys(releases).length === 0)) { sink.skip('no-releases'); continue; }
    if (!isObject(releases)) { bad([id, 'releases'], 'expected an object of releases'); continue; }
    const buckets: Bucket[] = [];
    let priority = -1;
    for (const [codename, rel] of Object.entries(releases)) {
      const at = [id, 'releases', codename];
      if (!CODENAME_RE.test(codename)) { bad(at, `${JSON.stringify(codename.slice(0, 80))} is not a release codename`); continue; }
      if (DEBIAN_UNSTABLE.has(codename)) { sink.skip('unstable-release'); continue; }
      sink.sawRelease(codename);
      if (opts.releases && !opts.releases.has(codename)) { sink.skip('release-not-requested'); continue; }
      if (!isObject(rel)) { bad(at, 'expected an object'); continue; }
      const target = debianTarget(codename);
      if (rel.status === 'undetermined') { sink.skip('undetermined'); continue; }
      if (rel.status === 'resolved') {
        if (rel.fixed_version === NOT_AFFECTED) { sink.skip('not-affected'); continue; }
        const why = fixedVersionError('dpkg', rel.fixed_version);
        if (why) { bad([...at, 'fixed_version'], why); continue; }
        buckets.push({ target, verdict: { fixed: rel.fixed_version as string } });
      } else if (rel.status === 'open') {
        buckets.push({ target, verdict: { unfixed: true } });
      } else {
        bad([...at, 'status'], `expected "resolved", "open" or "undetermined", got ${JSON.stringify(rel.status)}`);
        continue;
      }
      priority = Math.max(priority, priorityOfWord(rel.urgency) ?? DEFAULT_PRIORITY);
    }
    if (buckets.length === 0) continue;
    const description = typeof entry.description === 'string' ? entry.description : '';
    const links: Record<string, string> = { [`Debian tracker: ${pkg}`]: `${TRACKER}/source-package/${encodeURIComponent(pkg)}` };
    if (/^CVE-\d{4}-\d+$/.test(id)) links.NVD = `https://nvd.nist.gov/vuln/detail/${id}`;
    if (typeof entry.debianbug === 'number' && Number.isSafeInteger(entry.debianbug) && entry.debianbug > 0) {
      links[`Debian bug #${entry.debianbug}`] = `https://bugs.debian.org/${entry.debianbug}`;
    }
    const scope = typeof entry.scope === 'string' && /^[a-z]+$/.test(entry.scope) ? `\n\nScope: ${entry.scope}.` : '';
    const name = `${id} ${pkg}`;
    const audit = buildAudit({
      name, id, pkg, summary: description, details: `${description}${scope}`,
      primaryLink: `${TRACKER}/${encodeURIComponent(id)}`, links, priority, buckets,
    });
    if (keepAudit(audit, opts, sink)) sink.file({ base: `${id}_${pkg}`, unfixed: unfixedIn(buckets).length > 0, audits: { [name]: audit } });
  }
}
