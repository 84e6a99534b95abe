// Children outlive a sluice that is SIGKILLed (each has a process group of its own, so a Ctrl-C in
// the terminal reaches sluice alone). A small bash process watches a pipe from sluice: it learns
// each child's group as it starts and ends, and when the pipe closes without a goodbye (sluice died)
// it stops the groups still listed: SIGTERM, then SIGKILL after the grace. The OOM killer or a
// `kill -9` therefore leaves no command running on, unaccounted, beside the next run's.
import { type ChildProcess, spawn } from 'node:child_process';

// Ignores INT and TERM: a Ctrl-C is sluice's to handle (it stops children itself, and says goodbye).
const SCRIPT = `
trap '' INT TERM HUP
declare -A groups
while read -r op pgid; do
  case "$op" in
    +) groups[$pgid]=1 ;;
    -) unset "groups[$pgid]" ;;
    bye) exit 0 ;;
  esac
done
[ \${#groups[@]} -eq 0 ] && exit 0
for g in "\${!groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
sleep "$1"
for g in "\${!groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
`;

export class Watchdog {
  readonly #child: ChildProcess;
  #closed = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  /** Starts the watchdog; undefined where there is no bash (children then outlive a killed sluice). */
  static start(graceMs: number): Watchdog | undefined {
    let child: ChildProcess;
    try {
      child = spawn('bash', ['-c', SCRIPT, 'sluice-watchdog', String(Math.ceil(graceMs / 1000))], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } catch {
      return undefined;
    }
    child.once('error', () => {}); // no bash: children simply are not watched
    child.stdin?.on('error', () => {});
    // Neither the watchdog nor its pipe keeps sluice running.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return new Watchdog(child);
  }

  add(pgid: number): void {
    this.#send(`+ ${pgid}`);
  }

  remove(pgid: number): void {
    this.#send(`- ${pgid}`);
  }

  /** sluice ends normally: the watchdog leaves without touching anything. */
  close(): void {
    this.#send('bye');
    this.#closed = true;
    this.#child.stdin?.end();
  }

  #send(line: string): void {
    if (this.#closed || !this.#child.stdin?.writable) return;
    this.#child.stdin.write(`${line}\n`);
  }
}
