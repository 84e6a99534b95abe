// Behaviour of the command line as a whole, beyond any one command.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finished, sluice, start } from './support/cli.js';

describe('command line', () => {
  it('stops quietly with exit 0 when its reader closes the pipe early (sluice … | head)', async () => {
    const child = start(['synth', '--help']);
    child.stdout?.destroy(); // the reader is gone before the first line is written
    const run = await finished(child);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|Error|at /);
  });

  it('lists every command in the help, and suggests the command a typo meant (commands load on demand)', async () => {
    const help = await sluice(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['ingest', 'status', 'report', 'synth', 'demo']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'), command);
    }
    const typo = await sluice(['reprot']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown command 'reprot'[\s\S]*Did you mean report\?/);
    const version = await sluice(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const one = await sluice(['help', 'status']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /Usage: sluice status/);
  });
});

describe('numeric and named options are bounded', () => {
  const cases: [string, string[], RegExp][] = [
    [
      '--threads 1000000',
      ['--threads', '1000000'],
      /--threads.*expected a whole number from 0 to \d+ \(4 per core/,
    ],
    ['--threads -1', ['--threads', '-1'], /--threads.*from 0 to/],
    ['--max-concurrency 100000', ['--max-concurrency', '100000'], /--max-concurrency.*from 1 to 4,096/],
    ['--concurrency 0', ['--concurrency', '0'], /--concurrency.*from 1 to 4,096/],
    ['--max-attempts 1000', ['--max-attempts', '1000'], /--max-attempts.*from 1 to 100/],
    [
      '--retry-delay 1e12',
      ['--retry-delay', '1e12'],
      /--retry-delay.*from 1 to 600,000 \(10 minutes at most\)/,
    ],
    ['--partition 0/1000000', ['--partition', '0/1000000'], /--partition.*at most 10,000 partitions/],
    [
      '--progress bogus',
      ['--progress', 'bogus'],
      /--progress.*'bogus' is invalid.*expected one of: bar, json, none/s,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ingest ${what} with exit 2, saying the bound`, async () => {
      const r = await sluice(['ingest', '.', '--store', '/nonexistent/never-opened.db', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
