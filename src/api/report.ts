/** gloree/report — the self-contained HTML report. Loads @observablehq/plot and linkedom (kept out of `gloree`). */
export { renderReport } from '../report/html.js';
export type { ReportInput, ReportHeldOut, HeldOutNMSE, RankSummary } from '../report/html.js';
