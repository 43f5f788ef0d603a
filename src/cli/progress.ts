import cliProgress from 'cli-progress';
import type { PassProgress } from '../learn/passes.js';

/**
 * Progress bars for every stage that can take more than a few seconds on a large file (moment passes, the
 * refinement's iterations, predict / evaluate / report passes, simulate's writing), drawn on stderr and only when both stdout and stderr are
 * terminals (so piped or redirected output, CI logs and tests stay clean).
 */
export class PassProgressBar {
  private bar: cliProgress.SingleBar | null = null;
  private stage = '';
  private readonly enabled: boolean;

  constructor(enabled = Boolean(process.stdout.isTTY && process.stderr.isTTY) && !process.env.CI) {
    this.enabled = enabled;
  }

  update = (p: PassProgress & { unit?: string }): void => {
    if (!this.enabled) return;
    if (p.stage !== this.stage) {
      this.stop();
      this.stage = p.stage;
      const total = p.totalRows ?? 0;
      this.bar = new cliProgress.SingleBar(
        {
          format: total > 0 ? `  ${p.stage.padEnd(14)} [{bar}] {percentage}% | {value}/{total} ${p.unit ?? 'rows'}` : `  ${p.stage.padEnd(14)} {value} ${p.unit ?? 'rows'}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0);
    }
    this.bar?.update(p.rows);
  };

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
