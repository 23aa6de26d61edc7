import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { doctorFlags, UsageError } from './commands/flags.js';
import { VERSION } from './version.js';

const positive = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number of seconds`);
  return n;
};
const collect = (value: string, previous: string[]) => [...previous, value];
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
    .option('--report [file]', 'write a Markdown report for a support ticket to FILE (stdout when no FILE)')
    .option('--conf <file>', 'read this nix.conf instead of discovering Nix’s configuration files')
    .option('--cache <url>', 'check only this cache (repeatable); keys and trust still come from nix.conf', collect, [])
    .option('--trusted-key <name:key>', 'add a trusted public key (repeatable)', collect, [])
    .option('--sample <storepath>', 'store path whose .narinfo is fetched to check signatures')
    .addOption(new Option('--timeout <seconds>', 'time limit of each network operation').default(5).argParser(positive('--timeout')))
    .addOption(new Option('--deadline <seconds>', 'time limit of the whole run').default(60).argParser(positive('--deadline')))
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
    .option('--plugin <module>', 'load extra checks from a module (repeatable)', collect, [])
    .option('-v, --verbose', 'show evidence in the table and stack traces of crashed checks')
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .action(async (opts: Record<string, unknown>) => {
      const flags = doctorFlags(opts);
      const { doctorCommand } = await import('./commands/doctor.js');
      process.exitCode = await doctorCommand(flags);
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
      process.stderr.write(`nixcache: ${oneLine(e.message)}${/unknown command/.test(e.message) ? " (try 'nixcache doctor')" : ''}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`nixcache: ${e.message}\n`);
      return 2;
    }
    const error = e as Error;
    process.stderr.write(
      `nixcache: unexpected error: ${String(error?.message ?? error).split('\n')[0]}${argv.includes('-v') || argv.includes('--verbose') ? `\n${error?.stack ?? ''}` : ' (run with -v for details)'}\n`,
    );
    return 1;
  }
}
