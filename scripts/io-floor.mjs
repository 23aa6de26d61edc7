// A reference figure for `npm run bench`: the input and output one healthy doctor run cannot do
// without, done by Node with nothing else — no nix.conf reading, no parsing, no checks, no report.
// The bench writes the plan from a real run (the programs its evidence names, its TCP probes, and
// the requests the cache servers logged); this file's wall time is the floor under the doctor's on
// the same machine. Usage: node io-floor.mjs PLAN.json
//   PLAN: { programs: string[][], tcp: [host, port][], origins: { [origin]: string[] } }
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect } from 'node:net';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const agent = new Agent({ keepAlive: true });

/** Every program at once, as the doctor starts them before its checks need them. */
const programs = plan.programs.map(
  ([file, ...args]) => new Promise((resolve) => execFile(file, args, { timeout: 10_000 }, () => resolve())),
);
const probes = plan.tcp.map(
  ([host, port]) =>
    new Promise((resolve) => {
      const socket = connect(port, host, () => socket.destroy());
      socket.on('close', resolve);
      socket.on('error', resolve);
    }),
);
/** One origin's requests one after the other (each of the doctor's depends on the one before), the origins side by side. */
const requests = Object.entries(plan.origins).map(async ([origin, paths]) => {
  for (const path of paths)
    await new Promise((resolve) => {
      const request = get(`${origin}${path}`, { agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', resolve);
      });
      request.on('error', resolve);
      request.on('timeout', () => request.destroy());
    });
});
await Promise.all([...programs, ...probes, ...requests]);
agent.destroy();
