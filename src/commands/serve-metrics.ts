import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CoverageReport } from '../report/coverage.js';
import { crashReport, type Report } from '../report/model.js';
import { redactPatterns } from '../report/redact.js';
import { displayText } from '../report/sanitize.js';
import { terminal } from '../system/terminal.js';
import { runDoctor, selectChecks } from './doctor.js';
import { Exporter, sleepFor } from './exporter.js';
import { type CoverageFlags, DEFAULT_JOBS, fileToRead, firstFileProblem, type ServeMetricsFlags, UsageError } from './flags.js';

/**
 * `nixcache serve-metrics`: a Prometheus exporter over doctor runs (each with a coverage run of the
 * --coverage paths beside it). `/metrics` answers with the last run's metrics (a new run starts
 * when they are older than --min-interval, never two at once), `/health` says the exporter is up.
 * Runs until SIGTERM or SIGINT; returns the exit code.
 */
export async function serveMetricsCommand(flags: ServeMetricsFlags, env: Readonly<NodeJS.ProcessEnv> = process.env): Promise<number> {
  const doctor = flags.doctor;
  const problem = firstFileProblem([
    fileToRead('--conf', doctor.conf),
    fileToRead('--secret-key-file', doctor.secretKeyFile, false),
    fileToRead('--access-log', doctor.accessLog),
  ]);
  if (problem) throw new UsageError(`${problem.argument}: ${problem.message}`);
  const checks = await selectChecks(doctor);
  const metrics = await import('../report/metrics.js');
  const coverageFlags = coverageFlagsOf(flags);
  const coverage = coverageFlags ? coverageRunner(coverageFlags, env) : undefined;

  const exporter = new Exporter({
    async run() {
      const doctorRun = (async () => {
        let report: Report;
        try {
          report = await runDoctor(doctor, checks, env);
        } catch (e) {
          report = crashReport(e, false, { user: env.USER });
        }
        return metrics.renderMetrics(report);
      })();
      // Beside the doctor, not after it: both end by the one deadline. A coverage run that fails is
      // nixcache_coverage_up 0; the doctor's metrics never depend on it.
      const [doctorText, coverageText] = await Promise.all([doctorRun, coverage ? coverage().catch(() => '') : '']);
      return doctorText + coverageText;
    },
    minIntervalMs: flags.minIntervalMs,
    deadlineMs: doctor.deadlineMs,
    now: () => performance.now(),
    sleep: sleepFor,
  });

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (path === '/health') return void res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
    if (path !== '/metrics')
      return void res
        .writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('nixcache serve-metrics: see /metrics and /health\n');
    const scrape = await exporter.scrape();
    if (scrape.kind === 'pending')
      return void res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' })
        .end('the first doctor run has not finished within the deadline\n');
    const self = await metrics.renderExporterMetrics({
      runs: exporter.runs,
      running: exporter.running,
      lastRunSeconds: Math.round(performance.timeOrigin / 1000 + scrape.snapshot.finishedAt / 1000),
    });
    res.writeHead(200, { 'content-type': metrics.METRICS_CONTENT_TYPE }).end(scrape.snapshot.text + self);
  };
  const server = createServer((req, res) => {
    answer(req, res).catch((e) => {
      terminal.stderr(`nixcache: serve-metrics: ${redactPatterns(String((e as Error)?.message ?? e).split('\n')[0] ?? '')}\n`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  // Bounded: slow or idle clients are cut off, requests stay small.
  server.headersTimeout = 10_000;
  server.requestTimeout = doctor.deadlineMs + 10_000;
  server.maxHeadersCount = 64;
  server.maxConnections = 256;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new UsageError(`--listen ${flags.host}:${flags.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`)),
    );
    server.listen(flags.port, flags.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : flags.port;
  const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
  terminal.stderr(`nixcache: serving metrics on http://${host}:${port}/metrics\n`);
  // The first run starts now, so the first scrape finds a result sooner.
  void exporter.refresh();

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

/** What every run measures with --coverage PATH…: those paths' closures, over the doctor's caches and settings. */
export function coverageFlagsOf(flags: ServeMetricsFlags): CoverageFlags | undefined {
  if (flags.coveragePaths.length === 0) return undefined;
  const { doctor } = flags;
  return {
    json: false,
    caches: doctor.caches,
    trustedKeys: doctor.trustedKeys,
    timeoutMs: doctor.timeoutMs,
    deadlineMs: doctor.deadlineMs,
    jobs: DEFAULT_JOBS,
    verbose: false,
    color: false,
    args: flags.coveragePaths,
    closure: true,
    system: false,
    ...(doctor.conf ? { conf: doctor.conf } : {}),
  };
}

/**
 * Coverage runs as metrics, each settled by the deadline whatever happens: a run that crashed, or
 * did not end a second after its deadline, is nixcache_coverage_up 0. Why a run measured nothing
 * goes to stderr (the service's journal), once until it changes.
 */
function coverageRunner(flags: CoverageFlags, env: Readonly<NodeJS.ProcessEnv>): () => Promise<string> {
  let said = '';
  return async () => {
    const { measureCoverage, failedCoverage } = await import('./coverage.js');
    const { renderCoverageMetrics } = await import('../report/coverage-metrics.js');
    const late = sleepFor(flags.deadlineMs + 1000);
    let report: CoverageReport;
    try {
      report = await Promise.race([
        measureCoverage(flags, env),
        late.promise.then(() => failedCoverage(flags, `the coverage run did not end within --deadline ${flags.deadlineMs / 1000} s`)),
      ]);
    } catch (e) {
      report = failedCoverage(flags, `nixcache coverage could not run: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    } finally {
      late.cancel();
    }
    const problems = [
      ...report.errors.map((e) => `${e.argument.startsWith('(') ? '' : `${e.argument}: `}${e.message}`),
      ...(report.complete ? [] : [`the run reached --deadline ${flags.deadlineMs / 1000} s before every path was looked up`]),
    ]
      .map((line) => `nixcache: serve-metrics: coverage: ${line}\n`)
      .join('');
    if (problems !== said) await terminal.stderr(displayText(redactPatterns(problems)));
    said = problems;
    return renderCoverageMetrics(report);
  };
}
