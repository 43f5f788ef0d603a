#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { OptionError, isUserError } from '../io/errors.js';
import { beginOutputs, commitOutputs, discardOutputs, removeTempFilesSync } from '../io/atomic.js';
import { removeSpillFilesSync } from '../io/spill.js';
import { BlowUpError } from '../models/iornn.js';
import { SCENARIOS } from '../models/simulate.js';
import { Sink, UsageError, err, setSink } from './io.js';
import { reportCommand } from './report-command.js';
import { registerSqlCommand } from './sql-command.js';
import { evaluateCommand, fitCommand, predictCommand } from './commands.js';
import { demoCommand, simulateCommand } from './scenario-commands.js';
import { INPUT_MODEL_NAMES } from '../learn/input-models.js';

/**
 * `gloree` command line (docs/method.md §8). Exit codes: 0 success, 1 a user error (one line on stderr),
 * 2 a usage error (bad flags). Stack traces only with GLOREE_DEBUG=1.
 */

function intArg(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[-+]?\d+(e\d+)?$/i.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${v}"`);
    }
    return n;
  };
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(sink?: Sink): Command {
  const program = new Command('gloree')
    .description('Learn recurrent neural networks by the method of moments (GLOREE): streaming moment passes, tensor decomposition, second-order refinement.')
    .version(version())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Set before adding subcommands: they copy the parent's output settings when created. Commander's own errors
  // ("error: …") get the one style of every gloree message: "gloree: …".
  program.configureOutput({
    ...(sink ? { writeOut: (t: string) => sink.out(t), writeErr: (t: string) => sink.err(t) } : {}),
    outputError: (t: string, write: (s: string) => void) => write(t.replace(/^error: /, 'gloree: ')),
  });

  const dataColumns = (c: Command): Command =>
    c
      .option('--x <cols>', 'comma-separated input columns (default: x1, x2, …)')
      .option('--y <cols>', 'comma-separated output columns (default: y1, y2, …)')
      .option('--seq <col>', 'sequence-id column (default: "seq" if present; without it the file is one sequence)')
      .addOption(new Option('--format <fmt>', 'data format: csv (also tsv, ;-separated), arrow (Arrow IPC file or stream) or parquet (default: from the file extension, else sniffed)').choices(['csv', 'arrow', 'parquet']));
  // predict reads inputs only: it does not offer --y.
  const inputColumns = (c: Command): Command =>
    c
      .option('--x <cols>', 'comma-separated input columns (default: x1, x2, …)')
      .option('--seq <col>', 'sequence-id column (default: "seq" if present; without it the file is one sequence)')
      .addOption(new Option('--format <fmt>', 'data format: csv (also tsv, ;-separated), arrow (Arrow IPC file or stream) or parquet (default: from the file extension, else sniffed)').choices(['csv', 'arrow', 'parquet']));

  program
    .command('demo')
    .description('the main job on a built-in scenario: simulate, fit, evaluate on held-out sequences, print a table')
    .addOption(new Option('--scenario <name|file>', `scenario (${Object.keys(SCENARIOS).join(', ')}, or a JSON file)`).default('default'))
    .option('--sequences <n>', 'training sequences (each of the scenario length)', intArg('--sequences', 1), 5000)
    .option('--seed <n>', 'data seed (the planted model comes from the scenario)', intArg('--seed'), 1)
    .option('--no-refine', 'skip the second-order refinement (spectral estimate + A2/b refit only)')
    .option('--out <model.json>', 'also write the fitted model')
    .action(async (o) => demoCommand(o));

  program
    .command('simulate')
    .description('write a data file (seq, x1.., y1..; CSV, Arrow or Parquet) from a planted model of a built-in or JSON scenario')
    .addOption(new Option('--scenario <name|file>', `scenario (${Object.keys(SCENARIOS).join(', ')}, or a JSON file)`).default('default'))
    .option('--sequences <n>', 'number of sequences (default: the scenario\'s, 5000)', intArg('--sequences', 1))
    .option('--seed <n>', 'data seed (default: the scenario\'s seed)', intArg('--seed'))
    .requiredOption('--out <data.csv|.arrow|.parquet>', 'output data file (format from the extension, or --format)')
    .addOption(new Option('--format <fmt>', 'output format').choices(['csv', 'arrow', 'parquet']))
    .option('--truth <model.json>', 'also write the planted (true) model')
    .action(async (o) => simulateCommand(o));

  dataColumns(
    program
      .command('fit')
      .description('fit an IO-RNN (or a bidirectional RNN) to a data file and write the model file')
      .argument('<data>', 'CSV, Arrow or Parquet with columns x1..x<dx>, y1..y<dy>, optional seq; or postgres://… with --table')
      .requiredOption('--hidden <k|auto>', 'hidden neurons (≤ dx and ≤ dy; BRNN: forward neurons with --backward, else the total), or "auto" to pick from the data (T2 spectrum; Hankel spectrum with --activation linear; order-2/3 score moments with tanh, sigmoid, softplus)')
      .addOption(new Option('--kind <kind>', 'model kind: iornn, or brnn (bidirectional)').choices(['iornn', 'brnn']).default('iornn'))
      .option('--backward <k2>', 'BRNN: number of backward neurons (without it the split is inferred from the data)', intArg('--backward', 0))
      .option('--activation <spec>', 'activation σ: z2, z3, coefficients c0,c1,c2,… (e.g. 0,0.1,0.5,1 = z³+0.5z²+0.1z), or a name: tanh, sigmoid, softplus, linear', 'z2')
      .addOption(new Option('--input-model <m>', 'input model fitted from the data: auto (Gaussian VAR(1) unless its residuals are clearly non-Gaussian, then mixture), var1, iid, mixture (VAR(1) with Gaussian-mixture innovations), or varp (Gaussian VAR(p), order by BIC; for coloured inputs)').choices([...INPUT_MODEL_NAMES]).default('auto'))
      .option('--input-order <p>', 'with --input-model varp: the VAR order (default: chosen by BIC up to 8)', intArg('--input-order', 0))
      .option('--no-standardise', 'linear/smooth activations: fit on the columns as given (default: standardise every input and output column inside the learner; the model is returned in the data units)')
      .option('--refine-iterations <n>', 'maximum refinement iterations (default: 50 Levenberg–Marquardt / 300 L-BFGS)', intArg('--refine-iterations', 1))
      .option('--no-refine', 'spectral estimate (+ A2/b refit) only, no second-order refinement')
      .option('--no-control-variate', 'do not use the control variate for the mixed moment')
      .option('--refine-max-rows <n>', 'rows (whole sequences, spread over the file) kept in memory for refinement', intArg('--refine-max-rows', 1))
      .option('--seed <n>', 'seed for every random choice', intArg('--seed'), 0)
      .option('--workers <n>', 'threads that parse the CSV file and run the passes that split by chunk (default: the available cores; 1 = serial); the model is the same for every value', intArg('--workers', 1))
      .requiredOption('--out <model.json>', 'output model file (written atomically)')
      .option('--report <report.html>', 'also write a self-contained HTML report of the fit')
      .option('--quiet', 'print nothing on success')
      .option('--json', 'print a JSON summary (learner, per-stage timings, warnings) instead of the text summary')
      .addOption(new Option('--engine <e>', 'what reads the rows: process (in-process readers), duckdb (embedded DuckDB reads the file), postgres (a postgres:// source); auto: postgres for a connection string, duckdb for a Parquet file ≥ 64 MiB, else process').choices(['auto', 'process', 'duckdb', 'postgres']).default('auto'))
      .option('--table <name>', 'with a postgres:// source: the table (or schema.table) holding the rows')
      .option('--time <col>', 'with an engine: the column that orders the steps of a sequence (required for a table)')
      .addOption(new Option('--sql-passes <when>', 'with an engine: run the moment passes as aggregate queries in the engine (on), or stream the rows for every pass (off: faster while the input statistics and the output layer read every row anyway)').choices(['on', 'off']).default('off')),
  ).action(async (data, o) => fitCommand(data, o));

  inputColumns(
    modelOnData(program, 'predict', 'predict outputs for every step of a data file (writes CSV: seq, t, yhat1..)', 'CSV, Arrow or Parquet with the model\'s input columns')
      .requiredOption('--out <pred.csv>', 'output CSV (seq, t, yhat1..)'),
  ).action(async (model, data, o) => predictCommand(model, data, o));

  dataColumns(
    modelOnData(program, 'evaluate', 'held-out NMSE of a model on a data file, next to the U = 0 model (and against a true model, with parameter errors)', 'CSV, Arrow or Parquet with inputs and outputs')
      .option('--truth <model.json>', 'true model: NMSE against its noise-free outputs, and parameter errors')
      .option('--json', 'print the results as JSON'),
  ).action(async (model, data, o) => evaluateCommand(model, data, o));

  dataColumns(
    modelOnData(program, 'report', 'write a self-contained HTML report: spectrum, conditioning, input diagnostics, predictions, weights', 'CSV, Arrow or Parquet with inputs and outputs (held-out data is best)')
      .requiredOption('--out <report.html>', 'output HTML file (written atomically)')
      .option('--truth <model.json>', 'true model: parameter errors and NMSE against its noise-free outputs'),
  ).action(async (model, data, o) => reportCommand(model, data, o));

  registerSqlCommand(program);
  // Help marks required options.
  for (const cmd of program.commands) {
    for (const opt of cmd.options) if (opt.mandatory) opt.description = `(required) ${opt.description}`;
  }
  return program;
}

/** A command that runs a model file on a data file (predict, evaluate, report). */
function modelOnData(program: Command, name: string, description: string, dataHelp: string): Command {
  return program.command(name).description(description).argument('<model>', 'model file (JSON)').argument('<data>', dataHelp);
}

/** Levenshtein distance (small strings: option names). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/**
 * Unknown options are reported before anything else (commander checks required options first, so `--hiden 4`
 * would say that --hidden is missing), with the nearest known option suggested.
 */
function checkUnknownOptions(program: Command, args: string[]): void {
  const cmd = program.commands.find((c) => c.name() === args[0]);
  if (!cmd) return;
  const known = new Set<string>(['--help', '-h']);
  for (const o of cmd.options) {
    if (o.long) known.add(o.long);
    if (o.short) known.add(o.short);
    if (o.negate && o.long) known.add(o.long);
  }
  for (const a of args.slice(1)) {
    if (a === '--') break;
    if (!a.startsWith('-') || /^-\d/.test(a) || a === '-') continue;
    const name = a.split('=')[0];
    if (known.has(name)) continue;
    const longs = [...known].filter((k) => k.startsWith('--'));
    let best = '', bd = Infinity;
    for (const k of longs) {
      const dd = distance(name, k);
      if (dd < bd) [best, bd] = [k, dd];
    }
    const hint = bd <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean ${best}?)` : '';
    throw new UsageError(`unknown option '${name}' for 'gloree ${cmd.name()}'${hint}; run gloree ${cmd.name()} --help for the options`);
  }
}

export async function main(argv: string[], sink?: Sink): Promise<number> {
  setSink(sink ?? null);
  const program = buildProgram(sink);
  // Every output of one command is renamed into place only after all of them were written: a failure part-way
  // leaves earlier files (e.g. yesterday's model) untouched.
  beginOutputs();
  try {
    checkUnknownOptions(program, argv.slice(2));
    await program.parseAsync(argv);
    await commitOutputs();
    return 0;
  } catch (e) {
    discardOutputs();
    if (e instanceof CommanderError) {
      // Help and --version exit 0; everything else commander rejects is a usage error.
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof UsageError) {
      err(`gloree: ${oneLine(e.message)}\n`);
      return 2;
    }
    if (e instanceof OptionError) {
      err(`gloree: ${oneLine(e.render(flagName))}\n`);
    } else if (isUserError(e) || e instanceof BlowUpError) {
      err(`gloree: ${oneLine(e.message)}\n`);
    } else {
      const x = e as Error;
      // An unexpected failure: still one line, plus the stack on request.
      err(`gloree: error: ${oneLine(x?.message ?? String(e))}${process.env.GLOREE_DEBUG ? '' : ' (set GLOREE_DEBUG=1 for a stack trace)'}\n`);
      if (process.env.GLOREE_DEBUG) err(`${x?.stack ?? ''}\n`);
    }
    return 1;
  } finally {
    setSink(null);
  }
}

/**
 * The flag that sets a library option (OptionError.option). The BRNN learner's `total` and `forward` are both
 * given as --hidden (the total, or the forward count next to --backward).
 */
export function flagName(option: string): string {
  if (option === 'total' || option === 'forward') return '--hidden';
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

// Run when executed directly (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(^|[\\/])(main\.(js|ts)|gloree)$/.test(invoked)) {
  installSignalCleanup();
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}

/**
 * On SIGINT, SIGTERM and SIGHUP remove this process's temporary outputs and spill files, then exit with the
 * conventional status 128 + signal number. (Spill files are already unlinked where the OS allows it, so even
 * SIGKILL leaves nothing behind there; see src/io/spill.ts.)
 */
function installSignalCleanup(): void {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  for (const sig of Object.keys(numbers) as NodeJS.Signals[]) {
    process.once(sig, () => {
      removeTempFilesSync();
      removeSpillFilesSync();
      process.exit(128 + numbers[sig]);
    });
  }
}
