// Launcher arguments and failure hints (src/distributed/launcher.ts), without launching anything.
import { describe, expect, it } from 'vitest';
import {
  launcherArgs,
  launcherFailureHint,
  launcherFlavour,
  processesWithMarker,
} from '../../src/distributed/launcher.js';
import { rankArgs, parseDistributedOptions } from '../../src/distributed/run.js';

describe('launcher', () => {
  it('recognises Open MPI and MPICH from --version', () => {
    expect(
      launcherFlavour(
        'mpirun (Open MPI) 4.1.4\n\nReport bugs to http://www.open-mpi.org/community/help/',
      ),
    ).toBe('openmpi');
    expect(launcherFlavour('HYDRA build details:\n    Version: 4.1.2')).toBe('mpich');
    expect(launcherFlavour('Intel(R) MPI Library')).toBe('unknown');
  });

  it('Open MPI: oversubscribed, unbound, --allow-run-as-root only as root; extra arguments passed through', () => {
    const om = { path: '/usr/bin/mpirun', flavour: 'openmpi' as const, version: '' };
    expect(launcherArgs(om, 4, ['--mca', 'btl', 'tcp,self'], false)).toEqual([
      '-np',
      '4',
      '--oversubscribe',
      '--bind-to',
      'none',
      '--mca',
      'btl',
      'tcp,self',
    ]);
    expect(launcherArgs(om, 2, [], true)).toContain('--allow-run-as-root');
    expect(launcherArgs({ ...om, flavour: 'mpich' }, 3, ['-hosts', 'a,b'], true)).toEqual([
      '-n',
      '3',
      '-hosts',
      'a,b',
    ]);
  });

  it("names the setting when Open MPI's single copy fails", () => {
    expect(launcherFailureHint('Read -1, expected 8388608, errno = 1')).toMatch(
      /OMPI_MCA_btl_vader_single_copy_mechanism=none/,
    );
    expect(launcherFailureHint('some other failure')).toBe('');
  });

  it('the rank command line carries the options and the marker', () => {
    const o = parseDistributedOptions({
      ranks: 3,
      totalTokens: ['1K'],
      causal: true,
      heads: 4,
      kvHeads: 2,
      runs: 2,
      launcherArgs: '--mca btl self,vader',
    });
    expect(o.launcherArgs).toEqual(['--mca', 'btl', 'self,vader']);
    expect(o.layouts).toEqual(['zigzag', 'plain']);
    const a = rankArgs(o, 1024, '/tmp/x.json', 'marker-1');
    expect(a.join(' ')).toBe(
      '--implementation ring --batch 1 --heads 4 --kv-heads 2 --seq-len 1024 --head-dim 64 --seed 42 --iterations 2 --warmup 1 --layouts zigzag,plain --check auto --output /tmp/x.json --run-id marker-1 --causal',
    );
  });

  it('ring-dilated: the rank command line carries the implementation and the pairs; plain chunks also when causal', () => {
    const o = parseDistributedOptions({
      implementations: 'ring-dilated',
      ranks: 2,
      totalTokens: ['2K'],
      causal: true,
      segmentLengths: '1K,2K',
      dilationRates: '1,2',
    });
    expect(o.layouts).toEqual(['plain']);
    const a = rankArgs(o, 2048, '/tmp/x.json', 'marker-2');
    expect(a.slice(0, 2)).toEqual(['--implementation', 'ring-dilated']);
    expect(a.join(' ')).toContain('--layouts plain');
    expect(a.join(' ')).toContain('--segment-lengths 1024,2048 --dilation-rates 1,2');
  });

  it('finds processes by a marker on their command line', () => {
    expect(processesWithMarker(`no-such-marker-${process.pid}-${Date.now()}`)).toEqual([]);
  });
});
