// A real --plugin module, as a user would write one: a host check that reads the Nix store's
// free space through the doctor's facts (the command's evidence is recorded like any other), and
// a cache check that reads another check's result, declared in `needs`.
export const checks = [
  {
    id: 'store-free-space',
    title: 'Free space under the Nix store',
    scope: 'host',
    async run(facts) {
      const r = await facts.command('df', ['-Pk', facts.env.storeDir]);
      if (r.missing) return { status: 'skip', summary: "'df' is not installed", reason: 'no df' };
      const line = r.stdout.trim().split('\n').pop() ?? '';
      const availableKb = Number(line.split(/\s+/)[3]);
      if (!Number.isFinite(availableKb)) return { status: 'fail', summary: `df printed something unexpected: ${line}` };
      const min = Number(process.env.NIXCACHE_TEST_MIN_FREE_KB ?? 1);
      return availableKb >= min
        ? { status: 'pass', summary: `${Math.round(availableKb / 1024)} MiB free`, data: { availableKb } }
        : { status: 'fail', summary: `only ${availableKb} kB free`, fix: 'nix-collect-garbage -d', data: { availableKb } };
    },
  },
  {
    id: 'cache-info-latency',
    title: 'nix-cache-info answers quickly',
    scope: 'cache',
    needs: ['cache-info'],
    async run(_facts, cache, results) {
      const info = results.get('cache-info', cache);
      return { status: 'pass', summary: `cache-info was ${info?.status} in ${info?.durationMs} ms`, data: { seen: info?.status ?? null } };
    },
  },
];
