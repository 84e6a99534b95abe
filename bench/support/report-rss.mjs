// Preloaded into Node children when /usr/bin/time is missing: writes the peak RSS (KiB) on exit.
import { writeFileSync } from 'node:fs';

const file = process.env.SLUICE_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
