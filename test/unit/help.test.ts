import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/program.js';

/** What `--help` shows for every subcommand: no noise such as an empty list default. */
describe('--help', () => {
  const program = buildProgram();
  it.each(program.commands.map((c) => [c.name(), c] as const))('%s names no empty default and lists its options', (_name, command) => {
    const help = command.helpInformation();
    expect(help).not.toContain('(default: [])');
    expect(help).toMatch(/^Usage: nixcache /);
    for (const option of command.options) expect(help).toContain(option.flags.split(/[ ,]/)[0] as string);
  });
});
