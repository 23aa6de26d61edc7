// --plugin checks that misbehave: one throws, one returns something that is not a finding.
export const checks = [
  {
    id: 'throws',
    title: 'A check that throws',
    scope: 'host',
    async run() {
      throw new Error('boom\nsecond line of the message');
    },
  },
  {
    id: 'returns-garbage',
    title: 'A check that returns garbage',
    scope: 'cache',
    async run() {
      return { verdict: 'fine' };
    },
  },
];
