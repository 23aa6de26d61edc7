/** Where a cache's priority comes from, in the order Nix lets them override each other. */
export type PrioritySource = 'url' | 'cache-info' | 'default';

/** Nix's `StoreConfig::priority` default: a cache that says nothing is tried first. */
export const DEFAULT_PRIORITY = 0;

export function resolvePriority(urlPriority?: number, cacheInfoPriority?: number): { priority: number; source: PrioritySource } {
  if (urlPriority !== undefined) return { priority: urlPriority, source: 'url' };
  if (cacheInfoPriority !== undefined) return { priority: cacheInfoPriority, source: 'cache-info' };
  return { priority: DEFAULT_PRIORITY, source: 'default' };
}

/**
 * The order Nix tries substituters in: `getDefaultSubstituters` drops repeated URLs, then sorts
 * by priority with a stable sort, so equal priorities keep nix.conf order.
 */
export function effectiveOrder<T extends { priority: number }>(items: readonly T[]): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => a.item.priority - b.item.priority || a.index - b.index)
    .map(({ item }) => item);
}
