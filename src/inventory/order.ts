// The order hosts are dispatched in (pure). Production first, because a run that hits its
// deadline should have spent its time where it matters most.
import type { InventoryHost } from './host.js';

export type Order = 'stale-first' | 'shuffle' | 'file';

export function shuffle<T>(items: T[], random: () => number = Math.random): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/** lastSuccess: label -> epoch ms of the host's last successful collection. */
export function orderHosts(
  hosts: InventoryHost[],
  order: Order,
  lastSuccess: Map<string, number>,
  random: () => number = Math.random,
): InventoryHost[] {
  if (order === 'file') return hosts.slice();
  const prod = hosts.filter((h) => h.isProd);
  const rest = hosts.filter((h) => !h.isProd);
  if (order === 'shuffle') return [...shuffle(prod, random), ...rest];
  // stale-first: never collected (-Infinity) first, then oldest success; a shuffle before the
  // stable sort breaks ties randomly so one slow host cannot always shadow the same neighbours.
  const byAge = (group: InventoryHost[]): InventoryHost[] =>
    shuffle(group, random).sort((a, b) => (lastSuccess.get(a.label) ?? -Infinity) - (lastSuccess.get(b.label) ?? -Infinity));
  return [...byAge(prod), ...byAge(rest)];
}
