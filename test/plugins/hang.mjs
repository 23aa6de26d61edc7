// A --plugin check whose child process never ends: the run deadline must stop it, and kill it.
export default {
  id: 'hangs-forever',
  title: 'A check that runs a hanging program',
  scope: 'host',
  async run(facts) {
    await facts.command('sleep', [process.env.NIXCACHE_TEST_SLEEP ?? '987.654'], { timeoutMs: 600_000 });
    return { status: 'pass', summary: 'the program ended' };
  },
};
