/** gloree/io — data files (CSV, Arrow IPC, Parquet) as streaming sources, writers, atomic file writes. */
export { openDataSource, writeDataFile, formatFromExtension, DATA_FORMATS } from '../io/open.js';
export type { DataFormat, OpenDataOptions, DataFileSource } from '../io/open.js';
export { openCSVSource, readCSV, writeCSV, writePredictionsCSV, DataCSVWriter, PredictionCSVWriter } from '../io/csv.js';
export type { CSVOptions, CSVSource, CSVChunk } from '../io/csv.js';
export { makeChunk, memorySource, splitChunk, sliceSequences } from '../io/dataset.js';
export type { SequenceChunk, DataSource } from '../io/dataset.js';
export { SpillSource } from '../io/spill.js';
export { parallelCSVSource } from '../io/csv-parallel.js';
export type { ParallelCSVOptions, ParallelPassInfo } from '../io/csv-parallel.js';
export { writeFileAtomic, AtomicWriter } from '../io/atomic.js';
