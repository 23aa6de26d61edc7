import type { CacheTarget, Discovery } from '../discover/types.js';
import { familiesFor } from '../host/firewall-judge.js';
import { warmDecoders } from '../nix/decompress.js';
import type { NarInfo } from '../nix/narinfo.js';
import { parseStorePath } from '../nix/store-path.js';
import { isHttpScheme, overNetwork } from '../nix/store-url.js';
import type { Evidence, Recorder } from '../system/evidence.js';
import type { Io } from '../system/io.js';
import type { Resolution } from '../system/net.js';
import { narInfoLookupOf, readCacheInfo, storeCandidates } from './cache.js';
import { probeNarinfo } from './credentials.js';
import { probeDaemonProxies, readDaemon } from './daemon.js';
import { type DiskCacheFact, readNixDiskCache } from './disk-cache.js';
import { readFlake } from './flake.js';
import { completesWithin, FactTable, recorderOnce } from './gather.js';
import { DEFAULT_SINCE_MS, type HitRateOptions, readHitRate } from './hit-rate.js';
import { readFirewall, readListeners, readSecretKey, readSystemdUnits } from './host.js';
import { NAR_BUDGET_OPERATIONS, narFileOf, narFileUnread, readNar } from './nar.js';
import { probePath, probePing, readNameservers } from './network.js';
import { fetchNarinfo, lookupDepsFor, lookupPath, type NarinfoAnswer, probeNar } from './path-lookups.js';
import { bulkOverHttp, cacheViewOf, headReader, type PathLookupFact, planFor } from './path-view.js';
import { readRoutes } from './routes.js';
import type { FactKind, Facts, NarInfoLookup, NixConfigView } from './types.js';

export interface FactsDeps {
  discovery: Discovery;
  /** Adapters that record into RECORD, bounded by the run's deadline. */
  io(record: Recorder): Io;
  /** Nix's view, started before discovery (it needs nothing discovery finds). */
  nixView: Promise<NixConfigView | undefined>;
  /** Registers a value that must never appear in any output. */
  secret(value: string): void;
  /** Aborted at the run's deadline: loops over many look-ups stop there. */
  deadline: AbortSignal;
  /** --access-log and --since, for the hit-rate fact. */
  hitRate?: HitRateOptions;
  /** Nix's narinfo disk cache read some other way (scripted worlds); else the database on this machine. */
  diskCache?: () => Promise<DiskCacheFact>;
}

export interface RunFacts {
  /** The facts as one check sees them: the evidence of every fact it reads is recorded into RECORD. */
  view(record: Recorder): Facts;
  /** Starts the facts the selected checks read, so that they overlap the checks before them. */
  prefetch(kinds: ReadonlySet<FactKind>): void;
}

/** Narinfo look-ups in flight at once per cache while searching for a sample. */
const SAMPLE_CONCURRENCY = 6;

export function createFacts(deps: FactsDeps): RunFacts {
  const { discovery, io } = deps;
  const { env, config, targets, run, host } = discovery;
  const netrc = config.netrc.entries;

  const resolutions = new FactTable<string, Resolution>();
  for (const [name, r] of discovery.resolutions) resolutions.seed(name, r, [dnsEvidence(name, r)]);
  const paths = new FactTable<string, Awaited<ReturnType<typeof probePath>>>();
  const pings = new FactTable<string, Awaited<ReturnType<typeof probePing>>>();
  const tls = new FactTable<string, Awaited<ReturnType<Io['net']['tlsHandshake']>>>();
  const cacheInfos = new FactTable<CacheTarget, Awaited<ReturnType<typeof readCacheInfo>>>();
  const narinfoAnswers = new FactTable<string, NarinfoAnswer>();
  const narinfos = new FactTable<string, NarInfoLookup>();
  const nars = new FactTable<string, Awaited<ReturnType<typeof readNar>>>();
  const flakes = new FactTable<'', Awaited<ReturnType<typeof readFlake>>>();
  // The xz decoder's WebAssembly compiles while the first nix-cache-info is on the wire (idle time),
  // not at start (busy loading the program) nor when the first NAR arrives (on every cache's path).
  let warmDecodersWhenIdle = false;
  const warmOnce = () => {
    if (!warmDecodersWhenIdle) return;
    warmDecodersWhenIdle = false;
    setImmediate(() => warmDecoders().catch(() => {}));
  };
  const routes = new FactTable<'', Awaited<ReturnType<typeof readRoutes>>>();
  const readRoutesOnce = () => routes.get('', (r) => readRoutes(io(r)));
  const daemons = new FactTable<'', Awaited<ReturnType<typeof readDaemon>>>();
  const daemonProxies = new FactTable<'', Awaited<ReturnType<typeof probeDaemonProxies>>>();
  const daemon = () => daemons.get('', (r) => readDaemon(io(r), config, process.env, env.root));
  const narinfoProbes = new FactTable<CacheTarget, Awaited<ReturnType<typeof probeNarinfo>>>();
  const single = {
    nameservers: new FactTable<'', string[]>(),
    candidates: new FactTable<'', string[]>(),
    firewall: new FactTable<'', Awaited<ReturnType<typeof readFirewall>>>(),
    systemd: new FactTable<'', Awaited<ReturnType<typeof readSystemdUnits>>>(),
    listeners: new FactTable<'', Awaited<ReturnType<typeof readListeners>>>(),
  };
  const unitFiles = new FactTable<string, string | undefined>();
  const journals = new FactTable<string, string | undefined>();
  const secretKeys = new FactTable<string, Awaited<ReturnType<typeof readSecretKey>>>();
  const hitRates = new FactTable<'', Awaited<ReturnType<typeof readHitRate>>>();
  const diskCaches = new FactTable<string, DiskCacheFact>();
  const pathLookups = new FactTable<string, PathLookupFact>();

  const resolve = (name: string) => resolutions.get(name, (r) => io(r).net.resolve(name));
  const path = (cache: CacheTarget) => {
    const { host: name, port } = cache.url;
    if (!name || port === undefined || !overNetwork(cache.url)) return undefined;
    return paths.get(`${name}:${port}`, async (r) => probePath(io(r), name, port, await recorderOnce(r)(resolve(name))));
  };
  const ping = (cache: CacheTarget) => {
    const name = cache.url.host;
    if (!name || !overNetwork(cache.url)) return undefined;
    return pings.get(name, async (r) => probePing(io(r), name, await recorderOnce(r)(resolve(name))));
  };
  const firewall = () =>
    single.firewall.get('', (r) =>
      // ip6tables is read only when some local cache may be reached over IPv6.
      readFirewall(
        io(r),
        targets.some((c) => c.local && familiesFor(c.url.host).includes('ipv6')),
        host,
      ),
    );
  const systemd = () => single.systemd.get('', (r) => readSystemdUnits(io(r)));
  const listeners = () => single.listeners.get('', (r) => readListeners(io(r)));
  /** `<hash>.narinfo` of CACHE, requested once whichever check reads it: signature and nar as narinfo(), coverage as pathLookup(). */
  const narinfoAnswer = (cache: CacheTarget, hashPart: string) =>
    narinfoAnswers.get(`${cache.index}\u0000${hashPart}`, (r) => {
      const adapters = io(r);
      return fetchNarinfo({ http: bulkOverHttp(adapters.http, run.timeoutMs), fs: adapters.fs, netrc }, cache, hashPart);
    });
  const narinfo = (cache: CacheTarget, storePath: string) =>
    narinfos.get(`${cache.index}\u0000${storePath}`, async (r): Promise<NarInfoLookup> => {
      const parsed = parseStorePath(storePath, env.storeDir);
      if (!parsed.ok) return { kind: 'error', path: storePath, message: parsed.error.message };
      return narInfoLookupOf(storePath, await recorderOnce(r)(narinfoAnswer(cache, parsed.value.hashPart)), env.storeDir);
    });
  const candidates = () => single.candidates.get('', (r) => storeCandidates(io(r), env.storeDir, host));
  const nixView = deps.nixView;
  const cacheInfo = (cache: CacheTarget) => cacheInfos.get(cache, (r) => readCacheInfo(io(r), cache, netrc));
  // The budget is the download's, not its reader's: the signature check may start the download the nar check judges.
  const narBudget = { timeoutMs: run.timeoutMs, totalMs: run.timeoutMs * NAR_BUDGET_OPERATIONS };
  const nar = (cache: CacheTarget, info: NarInfo) =>
    nars.get(`${cache.index}\u0000${info.url}`, (r) => readNar(io(r), cache, info, netrc, narBudget));

  const hashPartOf = (storePath: string) => {
    const parsed = parseStorePath(storePath, env.storeDir);
    return parsed.ok ? parsed.value.hashPart : '';
  };
  const readDisk = (r: Recorder, hashParts: readonly string[]) =>
    deps.diskCache ? deps.diskCache() : readNixDiskCache(io(r).fs, discovery, process.env, targets, hashParts);
  /** The rows of the paths the checks sample (--sample, else the store candidates), read once. */
  const diskCache = () =>
    diskCaches.get('', async (r) => {
      const paths = run.samples.length > 0 ? run.samples : await recorderOnce(r)(candidates());
      return readDisk(r, [...new Set(paths.map(hashPartOf).filter(Boolean))].sort());
    });
  /** The rows of HASHPART: those of the samples when it is one of them, else its own read. */
  const diskCacheFor = async (r: Recorder, hashPart: string) => {
    const shared = await recorderOnce(r)(diskCache());
    if (!hashPart || shared.kind !== 'read' || !shared.hashParts || shared.hashParts.has(hashPart)) return shared;
    return recorderOnce(r)(diskCaches.get(`#${hashPart}`, (rr) => readDisk(rr, [hashPart])));
  };
  const lookupDepsOver = lookupDepsFor(discovery);
  /** `why`'s look-up of one path in one cache, through this check's recording adapters. */
  const pathLookup = (cache: CacheTarget, storePath: string) =>
    pathLookups.get(`${cache.index}\u0000${storePath}`, async (r) => {
      const use = recorderOnce(r);
      const hashPart = hashPartOf(storePath);
      // Nix's disk cache first: a cache it remembers is opened from that row, whatever nix-cache-info says now.
      const disk = await diskCacheFor(r, hashPart);
      const plan = planFor(discovery, cache, await use(cacheInfo(cache)), disk);
      const adapters = io(r);
      const lookupDeps = lookupDepsOver({
        http: bulkOverHttp(adapters.http, run.timeoutMs),
        fs: adapters.fs,
        narinfo: (c, hashPart) => use(narinfoAnswer(c, hashPart)),
        readHead: headReader(adapters.http, run.timeoutMs),
      });
      const lookup = await lookupPath(lookupDeps, plan, storePath);
      const nar =
        lookup.narinfo === 'present' && lookup.narUrl ? await probeNar(lookupDeps, plan, lookup.narUrl, lookup.compression) : null;
      // What the server serves now, so that a remembered narinfo that differs is told apart.
      const served = lookup.narinfo === 'present' ? lookup.narHash : lookup.narinfo === 'missing' ? null : undefined;
      const verdict = disk.kind === 'read' && hashPart ? disk.judge(cache.url.raw, hashPart, served) : undefined;
      return {
        path: storePath,
        hashPart,
        lookup,
        nar,
        disk: verdict,
        view: cacheViewOf(plan, lookup, nar, disk, verdict),
        ...(disk.kind === 'read' ? { diskCachePath: disk.path } : {}),
      } satisfies PathLookupFact;
    });

  return {
    prefetch(kinds) {
      const network = targets.filter((c) => overNetwork(c.url));
      if (kinds.has('path')) for (const c of network) path(c);
      if (kinds.has('ping')) for (const c of network) ping(c);
      const localHttp = targets.some((c) => c.local && isHttpScheme(c.url.scheme));
      if (kinds.has('firewall') && env.root && localHttp) firewall();
      if (kinds.has('systemd') && targets.some((c) => c.local)) systemd();
      if (kinds.has('listeners') && targets.some((c) => c.local)) listeners();
      if (kinds.has('daemon')) daemon();
      if (kinds.has('routes') && targets.some((c) => overNetwork(c.url))) readRoutesOnce();
      if (kinds.has('nar') && targets.some((c) => c.url.httpBase)) warmDecodersWhenIdle = true;
    },
    view(record) {
      const use = recorderOnce(record);
      const facts: Facts = {
        env,
        config,
        caches: targets,
        run,
        nixView: () => nixView,
        resolve: (name) => use(resolve(name)),
        path: (cache) => {
          const fact = path(cache);
          return fact && use(fact);
        },
        ping: (cache) => {
          const fact = ping(cache);
          return fact && use(fact);
        },
        tls: (address, port, servername) =>
          use(tls.get(`${address}\u0000${port}\u0000${servername}`, (r) => io(r).net.tlsHandshake(address, port, servername))),
        nameservers: () => use(single.nameservers.get('', (r) => readNameservers(io(r)))),
        stat: (p) => io(record).fs.stat(p),
        writable: (p) => io(record).fs.canWrite(p),
        cacheInfo: (cache) => {
          const fact = use(cacheInfo(cache));
          // The narinfo probe goes out beside nix-cache-info (its evidence goes only to a check that reads it).
          narinfoProbes.get(cache, (r) => probeNarinfo(io(r), cache, netrc));
          warmOnce();
          return fact;
        },
        sampleCandidates: async () => (run.samples.length > 0 ? [...run.samples] : use(candidates())),
        storeCandidates: () => use(candidates()),
        narinfo: (cache, storePath) => use(narinfo(cache, storePath)),
        async findNarInfos(cache, list, want) {
          const tried: NarInfoLookup[] = [];
          let next = 0;
          const hits = () => tried.filter((t) => t.kind === 'hit' || t.kind === 'corrupt');
          const worker = async () => {
            while (next < list.length && hits().length < want && !deps.deadline.aborted) {
              const storePath = list[next++] as string;
              tried.push(await facts.narinfo(cache, storePath));
              // Three transport errors in a row: the cache is failing, not missing paths.
              if (tried.length >= 3 && tried.slice(-3).every((t) => t.kind === 'error')) return;
            }
          };
          await Promise.all(Array.from({ length: Math.min(SAMPLE_CONCURRENCY, list.length) }, worker));
          const order = (p: string) => list.indexOf(p);
          return { hits: hits().sort((a, b) => order(a.path) - order(b.path)), tried };
        },
        async narFile(cache, info) {
          const unread = narFileUnread(info);
          if (unread) return { kind: 'unread', why: unread };
          const fact = nar(cache, info);
          // The signature check waits for the download as long as one request of its own would take.
          if (!(await completesWithin(fact, run.timeoutMs)))
            return { kind: 'unread', why: `not downloaded within ${(run.timeoutMs / 1000).toFixed(1)} s` };
          return narFileOf(await use(fact));
        },
        narinfoProbe: (cache) => use(narinfoProbes.get(cache, (r) => probeNarinfo(io(r), cache, netrc))),
        nar: (cache, info) => use(nar(cache, info)),
        diskCache: () => use(diskCache()),
        pathLookup: (cache, storePath) => use(pathLookup(cache, storePath)),
        flake: () => use(flakes.get('', (r) => readFlake(io(r), run.flakeDir, process.env))),
        routes: () => use(readRoutesOnce()),
        daemon: () => use(daemon()),
        daemonProxies: () =>
          use(
            daemonProxies.get('', async (r) => {
              const d = await recorderOnce(r)(daemon());
              const urls = targets.flatMap((c) => (c.url.httpBase && c.url.scheme !== 's3' ? [c.url.httpBase] : []));
              return d.env ? probeDaemonProxies(urls, d.env, run.timeoutMs, deps.deadline, r) : [];
            }),
          ),
        firewall: () => use(firewall()),
        systemd: () => use(systemd()),
        unitFile: (unit) =>
          use(
            unitFiles.get(unit, async (r) => {
              const cat = await io(r).exec('systemctl', ['cat', unit, '--no-pager']);
              return cat.exitCode === 0 ? cat.stdout : undefined;
            }),
          ),
        journal: (unit) =>
          use(
            journals.get(unit, async (r) => {
              const j = await io(r).exec('journalctl', ['-u', unit, '-n', '20', '--no-pager']);
              return j.exitCode === 0 ? j.stdout.trim() : undefined;
            }),
          ),
        listeners: () => use(listeners()),
        secretKey: (p) => use(secretKeys.get(p, (r) => readSecretKey(io(r), p, deps.secret))),
        hitRate: () =>
          use(
            hitRates.get('', (r) =>
              readHitRate(io(r), deps.hitRate ?? { sinceMs: DEFAULT_SINCE_MS }, {
                targets,
                server: run.server,
                systemd: () => recorderOnce(r)(systemd()),
                listeners: () => recorderOnce(r)(listeners()),
                now: Date.now,
              }),
            ),
          ),
        command: (file, args, options) =>
          io(record).exec(file, [...args], options?.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        readFile: (p, maxBytes) => io(record).fs.readText(p, maxBytes),
      };
      return facts;
    },
  };
}

function dnsEvidence(host: string, r: Resolution): Evidence {
  return { kind: 'dns', host, addresses: r.ok ? r.addresses : [], durationMs: r.durationMs, ...(r.ok ? {} : { error: r.message }) };
}
