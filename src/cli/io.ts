/**
 * Where the CLI writes. Defaults to the process streams; tests swap in buffers (capturing
 * process.stdout itself would also swallow the test runner's own output).
 */
export interface Sink {
  out(text: string): void;
  err(text: string): void;
}

/** A bad flag value: reported like commander's own usage errors (exit code 2, docs/method.md §8). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// A closed pipe (`gloree … | head -1`) is the reader's choice, not an error: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const processSink: Sink = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

let sink: Sink = processSink;

export function setSink(s: Sink | null): void {
  sink = s ?? processSink;
}

/** One line on stdout. */
export function out(line: string): void {
  sink.out(line + '\n');
}

/** Raw text on stderr. */
export function err(text: string): void {
  sink.err(text);
}

export function warnLine(message: string): void {
  sink.err(`gloree: warning: ${message}\n`);
}
