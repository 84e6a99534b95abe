// `sluice demo`: the whole main job on generated data, with no set-up: synthesize, ingest with
// progress, report, and check the report against the generator's truth.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { compareReports } from '../../report/compare.js';
import { bytes, count } from '../format.js';
import { PROGRESS_MODES } from '../progress.js';
import { DEFAULT_INCLUDE, runIngest } from './ingest.js';
import { formatOf, positiveInt, size as sizeOption } from './options.js';
import { loadReport, renderReport } from './report.js';
import { runSynth } from './synth.js';

interface DemoOptions {
  dir: string;
  size?: number;
  days?: number;
  seed: number;
  azure?: boolean;
  progress?: string;
}

/** Starts Azurite in memory on a free loopback port and uploads the dataset into container `logs`. */
async function azureCopy(
  data: string,
  err: NodeJS.WriteStream,
): Promise<{ location: string; connectionString: string; stop: () => Promise<void> }> {
  // Loaded only for --azure: the SDK and the emulator are large.
  const [{ BlobServiceClient }, { uploadFolder }, { DEV_ACCOUNT, startAzurite }] = await Promise.all([
    import('@azure/storage-blob'),
    import('../../sources/azure/upload.js'),
    import('../../emulator/azurite.js'),
  ]);
  const emulator = await startAzurite();
  try {
    err.write(
      `Azure path: started Azurite (in memory) at ${emulator.blobEndpoint}; uploading the dataset as append blobs ...\n`,
    );
    const container = BlobServiceClient.fromConnectionString(emulator.connectionString).getContainerClient(
      'logs',
    );
    let last = 0;
    const { blobs, bytes: size } = await uploadFolder(data, container, {
      include: (id) => id.endsWith('PT1H.json'),
      onProgress: (n, b) => {
        if (!err.isTTY || Date.now() - last < 200) return;
        last = Date.now();
        err.write(`\r\x1b[2Kupload ${count(n)} blobs · ${bytes(b)}`);
      },
    });
    if (err.isTTY) err.write('\r\x1b[2K');
    err.write(`  ${count(blobs)} blobs, ${bytes(size)} in container logs\n`);
    return {
      location: `azure://${DEV_ACCOUNT}/logs`,
      connectionString: emulator.connectionString,
      stop: emulator.stop,
    };
  } catch (error) {
    await emulator.stop();
    throw error;
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary('run the whole main job on generated data, no set-up needed')
    .description(
      'Generates a realistic Azure OpenAI log dataset (a few hundred MB by default), ingests it with ' +
        "progress, prints the report, checks it against the dataset's truth.json, and says where the " +
        'state and the reports are. Re-running reuses the dataset and ingests it afresh.',
    )
    .option('--dir <path>', 'working folder for data, store and reports', 'sluice-demo')
    .option('--size <bytes>', 'dataset size, e.g. 50MB, 1GB (default 300MB; 50MB with --azure)', sizeOption)
    .option('--days <n>', 'days of hourly blobs (default 60; 14 with --azure)', positiveInt)
    .option('--seed <n>', 'dataset seed', positiveInt, 1)
    .option(
      '--azure',
      'go through the real Azure path: an Azure Storage emulator (Azurite) that sluice starts itself',
    )
    .option(
      '--progress <mode>',
      'bar | json | none (default: bar on a terminal, JSON lines otherwise)',
      formatOf(PROGRESS_MODES),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sluice demo\n  sluice demo --size 50MB --dir /tmp/sluice-demo\n  sluice demo --azure --size 50MB',
    )
    .action(async (opts: DemoOptions) => {
      const dir = path.resolve(opts.dir);
      const data = path.join(dir, 'data');
      const marker = path.join(dir, 'dataset.json');
      // The emulator is far slower than a real account: a smaller, shorter dataset by default.
      const size = opts.size ?? (opts.azure ? 50_000_000 : 300_000_000);
      const days = opts.days ?? (opts.azure ? 14 : 60);
      const wanted = JSON.stringify({ size, days, seed: opts.seed });
      const err = process.stderr;
      await mkdir(dir, { recursive: true });
      const existing = await readFile(marker, 'utf8').catch(() => '');
      if (existing !== wanted) {
        await rm(data, { recursive: true, force: true });
        err.write(`generating a ${bytes(size)} Azure OpenAI log dataset (${days} days) in ${data} ...\n`);
        const s = await runSynth(data, { seed: opts.seed, size, days });
        await writeFile(marker, wanted);
        err.write(`  ${count(s.blobs)} blobs, ${count(s.records)} records, ${bytes(s.bytes)}\n`);
      } else {
        err.write(`reusing the dataset in ${data}\n`);
      }
      const store = path.join(dir, 'sluice.db');
      for (const f of [store, `${store}-wal`, `${store}-shm`]) await rm(f, { force: true });
      const azure = opts.azure ? await azureCopy(data, err) : undefined;
      let ran: Awaited<ReturnType<typeof runIngest>>;
      try {
        ran = await runIngest(azure?.location ?? data, {
          store,
          job: 'demo',
          include: DEFAULT_INCLUDE,
          maxAttempts: 4,
          retryDelay: 1000,
          maxConcurrency: 256,
          memoryThreshold: 75,
          leaseTtl: 60,
          ...(azure ? { connectionString: azure.connectionString } : {}),
          ...(opts.progress ? { progress: opts.progress } : {}),
        });
      } finally {
        await azure?.stop();
      }
      const { code, job } = ran;
      const loaded = await loadReport(store, job);
      const { report } = loaded;
      const outputs: Record<string, string> = {};
      for (const format of ['text', 'json', 'csv'] as const) {
        const file = path.join(dir, `report.${format === 'text' ? 'txt' : format}`);
        await writeFile(file, renderReport(loaded, format));
        outputs[format] = file;
      }
      process.stdout.write(`\n${renderReport(loaded, 'text')}\n`);
      const truth = JSON.parse(await readFile(path.join(data, 'truth.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const diffs = compareReports(report as unknown as Record<string, unknown>, truth);
      if (diffs.length === 0) {
        process.stdout.write(
          "check: the report equals the dataset's truth.json on every contract key (percentiles within 1 %).\n",
        );
      } else {
        process.stdout.write(
          `check: ${diffs.length} differences from truth.json:\n${diffs
            .slice(0, 20)
            .map((d) => `  ${d}`)
            .join('\n')}\n`,
        );
        process.exitCode = 1;
      }
      process.stdout.write(
        [
          '',
          `data:    ${data}`,
          `state:   ${store}`,
          `reports: ${outputs.text}, ${outputs.json}, ${outputs.csv}`,
          '',
          'next:',
          `  sluice status --store ${path.relative(process.cwd(), store) || store}`,
          `  sluice report --store ${path.relative(process.cwd(), store) || store} --format json`,
          ...(opts.azure
            ? []
            : [
                `  sluice ingest ${path.relative(process.cwd(), data) || data} --store ${path.relative(process.cwd(), store) || store} --job demo   # finished: nothing new`,
              ]),
          '',
        ].join('\n'),
      );
      if (code !== 0) process.exitCode = code;
    });
}
