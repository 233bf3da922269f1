// Repeats each system's run, interleaved in shuffled order, and reports median/min/max with the
// ratio to the floor (the first system listed) and to Lightcone.

export interface Result {
  workload: string;
  system: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  ratioToFloor: number | null;
  ratioToLightcone: number | null;
}

/** Runs every system `reps` times (after one warm-up each) in shuffled order per round. */
export async function measure(workload: string, unit: string, reps: number, systems: Record<string, () => Promise<number>>): Promise<Result[]> {
  const names = Object.keys(systems);
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  for (const n of names) await systems[n]!(); // warm-up
  for (let r = 0; r < reps; r++) {
    for (const n of [...names].sort(() => Math.random() - 0.5)) samples.get(n)!.push(await systems[n]!());
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const floor = median(samples.get(names[0]!)!);
  const ours = samples.has('lightcone') ? median(samples.get('lightcone')!) : null;
  return names.map((n) => {
    const xs = samples.get(n)!;
    const med = median(xs);
    return {
      workload,
      system: n,
      unit,
      median: med,
      min: Math.min(...xs),
      max: Math.max(...xs),
      runs: xs.length,
      ratioToFloor: floor > 0 ? med / floor : null,
      ratioToLightcone: ours ? med / ours : null,
    };
  });
}
