import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { coverageFlags, doctorFlags, pathsFlags, serveMetricsFlags, UsageError } from './commands/flags.js';
import { parseDuration } from './host/hit-rate.js';
import { VERSION } from './version.js';

/**
 * A number of seconds within [MIN, MAX]: a timer past about 24 days overflows to 1 ms in Node, and a
 * deadline under a second could not even read nix.conf. Out of range is a usage error naming it.
 */
const seconds = (what: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${what} takes a number of seconds from ${min} to ${max}`);
  return n;
};
const collect = (value: string, previous: string[] = []) => [...previous, value];
const duration = (value: string) => {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('--since must be a duration such as 30m, 1h, 1d or 1h30m');
  return ms;
};
const ids = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function buildProgram(): Command {
  const program = new Command('nixcache')
    .description('Diagnose Nix binary caches: why builds compile instead of downloading, and what to change.')
    .version(VERSION, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} });

  program
    .command('doctor')
    .description('walk the troubleshooting steps for every configured cache and say what to fix')
    .option('--json', 'print one JSON document (schema: schema/doctor.schema.json) on stdout')
    .option('--report [file]', 'write a Markdown report for a support ticket to FILE (stdout when no FILE, or -)')
    .option('--conf <file>', 'read this nix.conf instead of discovering Nix’s configuration files')
    .option('--cache <url>', 'check only this cache (repeatable); keys and trust still come from nix.conf', collect)
    .option('--trusted-key <name:key>', 'add a trusted public key (repeatable)', collect)
    .option(
      '--sample <storepath>',
      'store path to look up in every cache (repeatable): the first a cache has is its signature and NAR sample; the coverage step checks them all',
      collect,
    )
    .option('--flake <dir>', 'the flake whose nixConfig the flake check reads (default: flake.nix in the working directory)')
    .addOption(
      new Option('--timeout <seconds>', 'time limit of each network operation').default(5).argParser(seconds('--timeout', 0.1, 3600)),
    )
    .addOption(new Option('--deadline <seconds>', 'time limit of the whole run').default(60).argParser(seconds('--deadline', 1, 86400)))
    .option('--strict', 'exit 1 on warnings too')
    .option('--only <ids>', 'run only these checks (comma-separated ids)', ids)
    .option('--skip <ids>', 'do not run these checks (comma-separated ids)', ids)
    .option('--server', 'also check this machine as a cache server (service, signing key, firewall)')
    .addOption(
      new Option('--port <n>', 'the cache server port (with --server; default: from the service, else 5000)').argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('--port must be a port number (1–65535)');
        return n;
      }),
    )
    .option('--secret-key-file <file>', 'the cache’s secret signing key file to check')
    .option('--plugin <module>', 'load extra checks from a module (repeatable)', collect)
    .option('--metrics <file>', 'also write the run as Prometheus metrics to FILE, replaced atomically (- for stdout)')
    .option('--access-log <file>', 'the cache server’s access log (nginx, nix-serve) for the hit-rate check')
    .addOption(new Option('--since <duration>', 'how far back the access log is read').default(3_600_000, '1h').argParser(duration))
    .option('-v, --verbose', 'show every check (no folded skips), its evidence, and stack traces of crashed checks')
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .action(async (opts: Record<string, unknown>) => {
      const flags = doctorFlags(opts);
      const { doctorCommand } = await import('./commands/doctor.js');
      process.exitCode = await doctorCommand(flags);
    });

  const jobs = (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('--jobs must be a whole number from 1 to 256');
    return n;
  };
  const pathsOptions = (command: Command, what: string) =>
    command
      .option('--json', `print one JSON document (schema: schema/${what}.schema.json) on stdout`)
      .option('--report [file]', 'write a Markdown report to FILE (stdout when no FILE, or -)')
      .option('--conf <file>', 'read this nix.conf instead of discovering Nix’s configuration files')
      .option('--cache <url>', 'look only in this cache (repeatable)', collect)
      .option('--trusted-key <name:key>', 'add a trusted public key (repeatable)', collect)
      .option('--store <store>', 'the Nix store paths are substituted into (default: the local store)')
      .addOption(new Option('--jobs <n>', 'connections per cache host').default(32).argParser(jobs))
      .addOption(
        new Option('--timeout <seconds>', 'time limit of each network operation').default(5).argParser(seconds('--timeout', 0.1, 3600)),
      )
      .addOption(new Option('--deadline <seconds>', 'time limit of the whole run').default(300).argParser(seconds('--deadline', 1, 86400)))
      .option('-v, --verbose', 'stack traces of crashes')
      .option('--no-color', 'no colours (also NO_COLOR=1)');

  pathsOptions(
    program
      .command('why')
      .description('for each path: is it in a cache, and will Nix use it? One verdict (valid, substitute, build) with the reason and fix')
      .argument('<paths...>', 'store paths, bare hash-names, .drv files or installables'),
    'why',
  ).action(async (args: string[], opts: Record<string, unknown>) => {
    const flags = pathsFlags(opts, args);
    const { whyCommand } = await import('./commands/why.js');
    process.exitCode = await whyCommand(flags);
  });

  pathsOptions(
    program
      .command('coverage')
      .description('how much of a closure each cache has, what Nix would download from where, and what no cache has')
      .argument('[paths...]', 'store paths, .drv files or installables (their closures)')
      .option('--no-closure', 'look up only the paths named, not their closures')
      .option('--system', 'the system closure: /run/current-system, else the default profile')
      .option('--paths-from <file>', 'read more paths from FILE, one a line (- for stdin)')
      .option('--metrics <file>', 'also write the coverage as Prometheus metrics to FILE, replaced atomically (- for stdout)'),
    'coverage',
  ).action(async (args: string[], opts: Record<string, unknown>) => {
    const flags = coverageFlags(opts, args);
    const { coverageCommand } = await import('./commands/coverage.js');
    process.exitCode = await coverageCommand(flags);
  });

  // The exporter runs the doctor with the doctor's own options (not its output ones).
  const doctor = program.commands.find((c) => c.name() === 'doctor');
  const serve = program
    .command('serve-metrics')
    .description('serve the doctor’s results as Prometheus metrics (/metrics) and /health')
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:9925')
    .addOption(
      new Option('--min-interval <seconds>', 'a scrape sooner than this after a run gets that run’s metrics')
        .default(60)
        .argParser(seconds('--min-interval', 1, 86400)),
    )
    .option('--coverage <path>', 'also measure the coverage of this store path’s closure on every run (repeatable)', collect);
  const output = new Set(['--json', '--report', '--strict', '--metrics', '--verbose', '--no-color']);
  for (const option of doctor?.options ?? []) if (option.long && !output.has(option.long)) serve.addOption(option);
  serve.action(async (opts: Record<string, unknown>) => {
    const flags = serveMetricsFlags(opts);
    const { serveMetricsCommand } = await import('./commands/serve-metrics.js');
    process.exitCode = await serveMetricsCommand(flags);
  });
  return program;
}

/** One line a person can act on, from commander's two-line messages. */
function oneLine(message: string): string {
  return message
    .replace(/^error:\s*/i, '')
    .replace(/\s*\n\s*\(Did you mean (.+)\?\)/, ' (did you mean $1?)')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length <= 2) {
      process.stdout.write(program.helpInformation());
      return 2;
    }
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      const message = `${oneLine(e.message)}${/unknown command/.test(e.message) ? " (try 'nixcache doctor')" : ''}`;
      process.stderr.write(`nixcache: ${message}\n`);
      return usageError(argv, message);
    }
    if (e instanceof UsageError) {
      process.stderr.write(`nixcache: ${e.message}\n`);
      return usageError(argv, e.message);
    }
    const error = e as Error;
    process.stderr.write(
      `nixcache: unexpected error: ${String(error?.message ?? error).split('\n')[0]}${argv.includes('-v') || argv.includes('--verbose') ? `\n${error?.stack ?? ''}` : ' (run with -v for details)'}\n`,
    );
    return 1;
  }
}

/**
 * Exit code 2, and with --json one JSON document on stdout all the same — the command's own, saying
 * that it did not run and why — so that a script reading it never gets nothing to parse.
 */
async function usageError(argv: readonly string[], message: string): Promise<number> {
  const args = argv.slice(2);
  const options = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (!options.includes('--json')) return 2;
  const { redactPatterns } = await import('./report/redact.js');
  const said = redactPatterns(message);
  let document: string | undefined;
  switch (options.find((a) => !a.startsWith('-'))) {
    case 'doctor': {
      const [{ crashReport }, { renderJsonChunks }] = await Promise.all([import('./report/model.js'), import('./report/json.js')]);
      const report = crashReport(new Error(said), false, { user: process.env.USER }, { fix: 'nixcache doctor --help' });
      document = [...renderJsonChunks(report)].join('');
      break;
    }
    case 'why':
      document = (await import('./report/paths-common.js')).renderDocument((await import('./commands/why.js')).usageDocument(said));
      break;
    case 'coverage':
      document = (await import('./report/paths-common.js')).renderDocument((await import('./commands/coverage.js')).usageDocument(said));
      break;
  }
  if (document !== undefined) process.stdout.write(document);
  return 2;
}
