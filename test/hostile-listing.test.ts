// A folder source with parts that cannot be read (a name that is not UTF-8, symbolic link loops,
// no permission), and sources and globs that name nothing: each is said, none stops the listing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { shellQuote } from '../src/cli/format.js';
import { FileSource, folderOf } from '../src/sources/file/index.js';
import type { ListingProblem } from '../src/sources/types.js';
import { CLI, sluice } from './support/cli.js';
import { azureRecord } from './support/records.js';

let dir: string;
let tree: string;
const GOOD = ['a/PT1H.json', 'c/d/PT1H.json'];
const root = process.getuid?.() === 0;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-hostile-listing-'));
  tree = path.join(dir, 'tree');
  for (const f of GOOD) {
    await mkdir(path.dirname(path.join(tree, f)), { recursive: true });
    await writeFile(path.join(tree, f), `${azureRecord()}\n`);
  }
  // A folder whose name is the bytes "bad-\xff": not UTF-8, so it cannot be opened by a decoded name.
  await mkdir(Buffer.concat([Buffer.from(`${tree}/bad-`), Buffer.from([0xff])]));
  await symlink('self', path.join(tree, 'self')); // ELOOP
  await symlink('..', path.join(tree, 'c', 'up')); // a loop back to the root
  if (!root) {
    await mkdir(path.join(tree, 'locked', 'x'), { recursive: true });
    await chmod(path.join(tree, 'locked'), 0o000);
  }
});
after(async () => {
  if (!root) await chmod(path.join(tree, 'locked'), 0o755).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('folders that cannot be listed', () => {
  it('are skipped and reported (to onProblem and listingProblems), and the rest is listed', async () => {
    const source = await FileSource.open(tree);
    const seen: ListingProblem[] = [];
    const ids: string[] = [];
    for await (const item of source.list({ onProblem: (p) => seen.push(p) })) ids.push(item.id);
    assert.deepEqual(ids, GOOD);
    const reasons = Object.fromEntries(seen.map((p) => [p.path, p.reason]));
    assert.equal(reasons['bad-\ufffd'], 'its name is not valid UTF-8');
    assert.equal(reasons.self, 'ELOOP');
    assert.match(reasons['c/up'] ?? '', /^a symbolic link loop back to /);
    if (!root) assert.equal(reasons.locked, 'EACCES');
    assert.equal(source.stats.unreadable, root ? 3 : 4);
    assert.deepEqual(source.listingProblems(), seen);
  });

  it('end an ingest with exit 1 that names them, after counting everything else', async () => {
    const store = path.join(dir, 'tree.db');
    const r = await sluice([
      'ingest',
      tree,
      '--store',
      store,
      '--progress',
      'none',
      '--include',
      '**/*.json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /could not be listed and were skipped: .*bad-\ufffd \(its name is not valid UTF-8\)/,
    );
    assert.match(r.stderr, /self \(ELOOP\)/);
    assert.match(r.stderr, /c\/up \(a symbolic link loop back to /);
    const report = JSON.parse((await sluice(['report', '--store', store, '--format', 'json'])).stdout);
    assert.equal(report.records, GOOD.length);
    assert.equal(report.items.done, GOOD.length);
  });
});

describe('sources and globs that name nothing', () => {
  for (const source of ['', 'file:', '  ']) {
    it(`refuses ${JSON.stringify(source)} with exit 2 instead of ingesting the current folder`, async () => {
      const r = await sluice(['ingest', source, '--store', path.join(dir, 'none.db')], { cwd: tree });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /no source folder given/);
    });
  }

  it('accepts a file:/// URL and refuses a file URL with a remote host', async () => {
    assert.equal(folderOf(pathToFileURL(tree).href), tree);
    const ok = await sluice([
      'ingest',
      pathToFileURL(tree).href,
      '--store',
      path.join(dir, 'url.db'),
      '--progress',
      'none',
    ]);
    assert.notEqual(ok.code, 2, ok.stderr);
    assert.match(ok.stderr, /done: 2 items/);
    const remote = await sluice(['ingest', 'file://elsewhere/logs', '--store', path.join(dir, 'url.db')]);
    assert.equal(remote.code, 2, remote.stderr);
    assert.match(remote.stderr, /not a local file URL/);
  });

  it('warns when --include matches nothing, saying how many files the listing saw and some of their names', async () => {
    const r = await sluice([
      'ingest',
      path.join(tree, 'c'),
      '--store',
      path.join(dir, 'glob.db'),
      '--progress',
      'none',
      '--include',
      '*.json',
    ]);
    assert.match(
      r.stderr,
      /warning: --include \\"\*\.json\\" matched none of the 1 files the listing saw under file:.*\/c \(such as d\/PT1H\.json\)/,
    );
  });
});

describe('commands printed for the user to copy', () => {
  it('quote paths and job names for a POSIX shell', () => {
    assert.equal(shellQuote('/data/sluice.db'), '/data/sluice.db');
    assert.equal(shellQuote("my job's db"), "'my job'\\''s db'");
    assert.equal(shellQuote('$(rm -rf ~)'), "'$(rm -rf ~)'");
    assert.equal(shellQuote(''), "''");
  });

  it('print a report hint that runs as printed, whatever the store path and job name hold', async () => {
    const store = path.join(dir, "a store; with 'quotes' $HOME.db");
    const job = 'job "one" $(echo pwned)';
    const r = await sluice([
      'ingest',
      path.join(tree, 'a'),
      '--store',
      store,
      '--job',
      job,
      '--progress',
      'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const hint = /"text":"report: (sluice report [^\n]*)"}/.exec(r.stderr)?.[1];
    assert.ok(hint, r.stderr);
    const command = JSON.parse(`"${hint}"`).replace(
      /^sluice /,
      `${shellQuote(process.execPath)} ${shellQuote(CLI)} `,
    );
    const out = execFileSync('sh', ['-c', `${command} --format json`], { encoding: 'utf8' });
    assert.equal(JSON.parse(out).job, job);
  });
});
