// Stage 5 of runSuite: the sampled rows summarised for the file: plugin rows annotated, each row
// placed on the roofline of a matching peak, and the suite's finalize per side (projections,
// derived fields), as in a one-side run.
import type {
  NativeBinding,
  NativeImplementationInfo,
  SimdLevelName,
} from '../../native/binding.js';
import { computesExactDense } from '../../implementations/descriptors.js';
import { attachRooflines, matchingGpuPeak } from '../../roofline/index.js';
import type { StoredGpuPeak, StoredPeak } from '../../roofline/peak-store.js';
import type { ResultFile, ResultRow } from '../../results/types.js';
import { sameSide, type RunSide } from '../sides.js';

export type CpuPeak = NonNullable<ResultFile['environment']['peak']>;

/**
 * The stored peaks the rows may be placed against: CPU rows only against a peak measured on the
 * same threads and SIMD level, CUDA rows only against a GPU peak measured on a GPU of the same name.
 * An unreadable peak file means no roofline, never a failed run.
 */
export async function matchingPeaks(
  loadPeak: (() => Promise<StoredPeak | null>) | undefined,
  threads: number,
  simdLevel: SimdLevelName,
  gpuName: string | undefined,
): Promise<{ peak?: CpuPeak; gpuPeak?: StoredGpuPeak }> {
  try {
    const stored = loadPeak ? await loadPeak() : null;
    let peak: CpuPeak | undefined;
    if (stored && stored.threads === threads && stored.simdLevel === simdLevel) {
      peak = {
        fmaGflops: stored.fmaGflops,
        streamGBps: stored.streamGBps,
        threads: stored.threads,
        simdLevel,
        ...(stored.fmaGflopsRange && stored.streamGBpsRange
          ? {
              fmaGflopsRange: stored.fmaGflopsRange,
              streamGBpsRange: stored.streamGBpsRange,
              repeats: stored.repeats,
            }
          : {}),
        ...(stored.measuredBy ? { measuredBy: stored.measuredBy } : {}),
      };
    }
    return { peak, gpuPeak: matchingGpuPeak(stored?.gpu, gpuName) };
  } catch {
    return {};
  }
}

/**
 * Plugin annotation, rooflines and the suite's finalize. `measuredRows` are the rows as measured
 * (before finalize adds projections); `rows` what the file holds.
 */
export function summariseRows(
  sampled: ResultRow[],
  x: {
    binding: NativeBinding;
    catalogue: NativeImplementationInfo[];
    sides: RunSide[];
    peaks: { peak?: CpuPeak; gpuPeak?: StoredGpuPeak };
    finalize: (rows: ResultRow[]) => ResultRow[];
  },
): { measuredRows: ResultRow[]; rows: ResultRow[] } {
  annotatePluginRows(sampled, x.catalogue, x.binding);
  const measuredRows = attachRooflines(sampled, { cpu: x.peaks.peak, gpu: x.peaks.gpuPeak });
  // several sides: the suite finalizes each side's rows on their own, as in a one-side run
  const rows =
    x.sides.length > 1
      ? x.sides.flatMap((s) => x.finalize(measuredRows.filter((r) => sameSide(r, s))))
      : x.finalize(measuredRows);
  return { measuredRows, rows };
}

/** Plugin rows: origin, where the counts come from, and `unvalidated` for an unknown function. */
export function annotatePluginRows(
  rows: ResultRow[],
  catalogue: NativeImplementationInfo[],
  binding: NativeBinding,
): void {
  for (const row of rows) {
    const d = catalogue.find((i) => i.name === row.implementation);
    if (!d || (d.origin !== 'plugin' && d.origin !== 'python')) continue;
    row.origin = d.origin;
    row.function = d.function ?? null;
    row.exactDense = computesExactDense(row.implementation, row.causal, binding);
    if (d.countsSource && d.countsSource !== 'kernel') row.countsSource = d.countsSource;
    // Python allocates outside dilbench's memory pool: nothing measured, so nothing reported
    if (d.origin === 'python') row.peakMemoryBytes = null;
    if (!d.function) {
      row.unvalidated = true;
      row.warnings = [
        ...(row.warnings ?? []),
        `unvalidated: plugin '${row.implementation}' declares no function dilbench knows, so its output was not checked`,
      ];
    }
  }
}
