/**
 * Where the CLI writes. Defaults to the process streams; tests swap in buffers (capturing
 * process.stdout itself would also swallow the test runner's own output).
 */
export interface Sink {
  out(text: string): void;
  err(text: string): void;
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
