/**
 * Score a saved model file on a bench/real test record (free run, RMSE in the table's unit):
 *   node --import tsx bench/real/score-model.ts MODEL.json silverbox|tanks [--data DIR]
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeChunk } from '../../src/io/dataset.js';
import { loadModel } from '../../src/models/serialize.js';
import { predict } from '../../src/models/brnn.js';
import { loadCascadedTanks, loadSilverbox, rmse } from './data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const [file, which] = process.argv.slice(2);
const i = process.argv.indexOf('--data');
const cands = i >= 0 ? [process.argv[i + 1]] : [path.join(here, '..', '..', '..', 'shared', 'data'), path.join(here, '..', '..', '..', '..', 'shared', 'data')];
const dir = cands.find((c) => existsSync(c)) ?? cands[0];
const d = which === 'tanks' ? loadCascadedTanks(dir) : loadSilverbox(dir);
if (!d) throw new Error(`no data under ${dir}`);
const m = loadModel(file);
const yhat = predict(m.params, makeChunk(1, 1, Float64Array.from(d.test.u), Float64Array.from(d.test.y), [d.test.u.length]));
console.log(`${path.basename(file)}: ${d.name} test RMSE ${rmse(d, yhat).toFixed(d.unitFactor === 1000 ? 3 : 4)} ${d.unit}`);
