// Error categories: one readable table of rules, first match wins. Each rule says what the error
// is, how bad, and what a person can do about it. Users add their own with `--rules <file>`.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

export const CATEGORIES = [
  'gpu',
  'memory',
  'disk',
  'network',
  'auth',
  'data',
  'model',
  'database',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Rule {
  /** Short name shown with counts. */
  name: string;
  category: Category;
  severity: Severity;
  pattern: RegExp;
  advice: string;
}

const row = (
  category: Category,
  severity: Severity,
  name: string,
  pattern: RegExp,
  advice: string,
): Rule => ({
  name,
  category,
  severity,
  pattern,
  advice,
});

/** The built-in rules, in the order they are tried. */
export const RULES: Rule[] = [
  // gpu
  row(
    'gpu',
    'critical',
    'CUDA out of memory',
    /CUDA out of memory|CUDA_ERROR_OUT_OF_MEMORY|OOM when allocating tensor|ResourceExhaustedError|\(GPU_\d+_bfc\) ran out of memory/i,
    'Lower the batch size, enable gradient checkpointing or mixed precision, or free cached memory (torch.cuda.empty_cache()) between runs.',
  ),
  row(
    'gpu',
    'critical',
    'NCCL failure',
    /\bNCCL\b.*(?:error|timeout|fail)|ProcessGroupNCCL|ncclInternalError|ncclSystemError/i,
    'Check that every rank reached the collective (look for a rank that crashed first), set NCCL_DEBUG=INFO, and check the GPU interconnect and NCCL_SOCKET_IFNAME.',
  ),
  row(
    'gpu',
    'high',
    'CUDA error',
    /CUDA error|cudaError|CUDNN_STATUS_\w+|cuDNN error|CUBLAS_STATUS_\w+|device-side assert/i,
    'Run with CUDA_LAUNCH_BLOCKING=1 to find the failing kernel; a device-side assert usually means an index (labels, embeddings) out of range.',
  ),
  row(
    'gpu',
    'high',
    'GPU unavailable',
    /no CUDA-capable device|CUDA driver version is insufficient|Could not load dynamic library 'libcu|GPU (?:is )?(?:lost|fallen off the bus)|Xid \d+/i,
    'Check nvidia-smi and the driver/CUDA versions the framework was built for; a lost GPU (Xid) needs the node drained and checked.',
  ),
  // memory
  row(
    'memory',
    'critical',
    'out of memory',
    /OutOfMemoryError|Out of memory|Cannot allocate memory|MemoryError|oom-kill|Killed process \d+|std::bad_alloc|JavaScript heap out of memory/i,
    'Give the process more memory (heap size, container limit) or make it use less (smaller batches, streaming instead of loading everything); check for a leak if usage keeps growing.',
  ),
  row(
    'memory',
    'high',
    'worker killed',
    /DataLoader worker \(pid \d+\) is killed|worker .* killed by signal|exited with code 137|signal 9\b|SIGKILL/i,
    'The process was killed, usually by the OOM killer: lower num_workers or the batch size, or raise the memory limit; `dmesg` shows the kill.',
  ),
  row(
    'memory',
    'medium',
    'GC overhead',
    /GC overhead limit exceeded|allocation failure.*heap|heap space/i,
    'The JVM spends its time collecting garbage: raise -Xmx or reduce what is kept in memory.',
  ),
  // disk
  row(
    'disk',
    'critical',
    'disk full',
    /No space left on device|ENOSPC|Disk quota exceeded|EDQUOT|disk (?:is )?full/i,
    'Free space on the volume (old checkpoints, logs, caches) or write to a larger one; watch for checkpoints that are never cleaned up.',
  ),
  row(
    'disk',
    'high',
    'file system error',
    /Read-only file system|EROFS|I\/O error|EIO\b|Input\/output error|Too many open files|EMFILE/i,
    'A read-only or failing volume, or too many open files: check the mount and dmesg, and raise `ulimit -n` if files are leaking.',
  ),
  row(
    'disk',
    'medium',
    'file not found',
    /No such file or directory|File does not exist|FileNotFoundError|ENOENT|NoSuchFileException|FileNotFoundException/i,
    'A path the program expects is missing: check the working directory, the configured paths and that the step producing the file ran first.',
  ),
  // auth
  row(
    'auth',
    'high',
    'access denied',
    /\b(?:401|403)\b.*(?:Unauthorized|Forbidden)|Unauthorized|Forbidden|Permission denied|EACCES|AccessDenied|authentication failed|invalid (?:token|credentials|api key)|token (?:has )?expired|not authorized/i,
    'Check the credentials in use (expired token, wrong key, missing role) and the permissions on the resource; rotate the secret if it leaked.',
  ),
  row(
    'auth',
    'medium',
    'certificate problem',
    /certificate (?:verify failed|has expired)|SSL(?:Error| routines)|x509:|CERT_HAS_EXPIRED|self[- ]signed certificate/i,
    'Renew the expired certificate or install the CA the client needs; do not turn verification off.',
  ),
  // database
  row(
    'database',
    'high',
    'database error',
    /deadlock detected|Deadlock found|database is locked|SQLITE_BUSY|too many (?:connections|clients)|could not connect to server|connection to .*database.* failed|PSQLException|SQLException|OperationalError|IntegrityError|duplicate key value|relation ".*" does not exist|Lock wait timeout/i,
    'Check the database: connections in use against its limit (use a pool), long transactions holding locks, and the schema the code expects.',
  ),
  // network
  row(
    'network',
    'high',
    'connection failure',
    /Connection refused|ECONNREFUSED|Connection reset|ECONNRESET|Broken pipe|EPIPE|No route to host|EHOSTUNREACH|Network is unreachable|ENETUNREACH|Connection broken|connection (?:was )?(?:closed|lost|aborted)|(?:error|failed|unable|could not) (?:in |to )?(?:contact|connect)(?:ing)?\b/i,
    'The other side is down or dropped the connection: check that the service is up and reachable (port, firewall), and retry with backoff.',
  ),
  row(
    'network',
    'medium',
    'timeout',
    /timed? ?out|ETIMEDOUT|DeadlineExceeded|deadline exceeded|SocketTimeoutException|ReadTimeout|ConnectTimeout|504 Gateway/i,
    'Find which call is slow (the service, DNS, the network) and raise the timeout only if the work is legitimately slow; add retries with backoff.',
  ),
  row(
    'network',
    'medium',
    'name resolution',
    /Name or service not known|getaddrinfo|ENOTFOUND|EAI_AGAIN|UnknownHostException|Temporary failure in name resolution|nodename nor servname/i,
    'Check the host name and the DNS configuration of the machine or container.',
  ),
  row(
    'network',
    'medium',
    'rate limited',
    /\b429\b|Too Many Requests|rate limit|throttl/i,
    'Slow down: honour Retry-After, lower the concurrency, or ask for a higher quota.',
  ),
  row(
    'network',
    'high',
    'service unavailable',
    /\b50[23]\b|Bad Gateway|Service Unavailable|upstream (?:prematurely closed|timed out)/i,
    'An upstream service failed: check its health and logs; retry idempotent calls with backoff.',
  ),
  // model
  row(
    'model',
    'critical',
    'NaN or inf loss',
    /(?:\b|_)loss\b.*\b(?:nan|inf)\b|NaN (?:or Inf )?(?:loss|found)|Loss is nan|non-finite loss|detected NaN/i,
    'The training diverged: lower the learning rate, add gradient clipping, check the inputs for NaN, and use loss scaling with mixed precision.',
  ),
  row(
    'model',
    'high',
    'shape mismatch',
    /shape mismatch|size mismatch|Incompatible shapes|mat1 and mat2 shapes|expected (?:input|shape)\b.*(?:got|but)|ValueError: Input \d+ of layer/i,
    "The tensors do not fit the model: compare the input pipeline's shapes with the model's and check the checkpoint matches the architecture.",
  ),
  row(
    'model',
    'high',
    'checkpoint problem',
    /Error\(s\) in loading state_dict|Missing key\(s\) in state_dict|Unexpected key\(s\)|checkpoint.*(?:corrupt|not found|failed)|unable to load weights/i,
    'The checkpoint does not match the model or is damaged: load it with the same code version, or with strict=False only if you know which keys differ.',
  ),
  row(
    'model',
    'medium',
    'gradient problem',
    /gradient overflow|exploding gradient|vanishing gradient|Gradient overflow/i,
    'Clip the gradients, lower the learning rate, or check the loss scaler.',
  ),
  // data
  row(
    'data',
    'medium',
    'bad input data',
    /JSONDecodeError|Unexpected token .* in JSON|UnicodeDecodeError|invalid (?:utf-8|byte sequence)|malformed|parse error|ParseException|NumberFormatException|could not convert string|invalid literal for int|KeyError|IndexError: list index out of range|schema mismatch|corrupt(?:ed)? (?:record|file|data)/i,
    'Find the record that broke (the example shows where), validate the input before it reaches this step, and decide whether bad records are skipped or fatal.',
  ),
  row(
    'data',
    'low',
    'empty data',
    /empty (?:dataset|batch|input)|no (?:data|records|samples) found|num_samples=0/i,
    'The input is empty: check the paths, filters and the step that should have produced the data.',
  ),
];

/** The fallback for errors no rule knows. */
export const OTHER: Rule = row(
  'other',
  'medium',
  'uncategorised error',
  /$^/,
  'Read the examples: add a rule (--rules) for errors that recur so they get a category and advice.',
);

/** The first rule matching `message`, or OTHER. */
export function categorise(message: string, rules: readonly Rule[]): Rule {
  for (const rule of rules) if (rule.pattern.test(message)) return rule;
  return OTHER;
}

/**
 * Reads user rules: a JSON array of `{category, pattern, severity?, advice?, name?, flags?}`, or the
 * simple text format, one rule a line, fields separated by `|`:
 * `category | severity | regular expression | advice` (blank lines and `#` comments ignored).
 */
export async function loadRules(file: string): Promise<Rule[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read the rules file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  return parseRules(text, file);
}

export function parseRules(text: string, where: string): Rule[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let rows: unknown;
    try {
      rows = JSON.parse(trimmed);
    } catch (error) {
      throw new UsageError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(rows)) throw new UsageError(`${where}: expected a JSON array of rules`);
    return rows.map((r, i) => {
      const o = (r ?? {}) as Record<string, unknown>;
      return makeRule(
        { ...o, pattern: String(o.pattern ?? ''), flags: typeof o.flags === 'string' ? o.flags : 'i' },
        `${where} rule ${i + 1}`,
      );
    });
  }
  const rules: Rule[] = [];
  trimmed.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    const [category, severity, pattern, ...advice] = line.split('|').map((f) => f.trim());
    rules.push(
      makeRule(
        { category, severity, pattern: pattern ?? '', advice: advice.join('|'), flags: 'i' },
        `${where}:${i + 1}`,
      ),
    );
  });
  return rules;
}

function makeRule(o: Record<string, unknown>, where: string): Rule {
  const category = String(o.category ?? '');
  if (!(CATEGORIES as readonly string[]).includes(category)) {
    throw new UsageError(`${where}: category "${category}" is not one of ${CATEGORIES.join(', ')}`);
  }
  const severity = String(o.severity || 'medium');
  if (!(SEVERITIES as readonly string[]).includes(severity)) {
    throw new UsageError(`${where}: severity "${severity}" is not one of ${SEVERITIES.join(', ')}`);
  }
  const source = String(o.pattern ?? '');
  if (source === '') throw new UsageError(`${where}: the rule has no pattern`);
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, String(o.flags ?? 'i'));
  } catch (error) {
    throw new UsageError(`${where}: bad regular expression: ${(error as Error).message}`);
  }
  return {
    name: String(o.name || source.slice(0, 40)),
    category: category as Category,
    severity: severity as Severity,
    pattern,
    advice: String(o.advice || OTHER.advice),
  };
}
