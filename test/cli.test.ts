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
