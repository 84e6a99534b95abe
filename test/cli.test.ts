// Behaviour of the command line as a whole, beyond any one command.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finished, start } from './support/cli.js';

describe('command line', () => {
  it('stops quietly with exit 0 when its reader closes the pipe early (sluice … | head)', async () => {
    const child = start(['synth', '--help']);
    child.stdout?.destroy(); // the reader is gone before the first line is written
    const run = await finished(child);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|Error|at /);
  });
});
