// cordon – many deny globs matched at once, one path segment at a time: a directory entry costs one map lookup, not one minimatch call per glob.
//
// Each glob is parsed by minimatch (same options as everywhere: dot files included) into its
// segment lists: literal strings, one-segment RegExps and `**`. A walk carries a *state*: the set of
// (segment list, position) pairs the path so far can be at, with `**` able to stay or move on. The
// states are interned, and each one indexes its literal segments in a Map, so stepping into an entry
// is a lookup plus a test of the (deduplicated) one-segment RegExps still in play. The automaton
// never rejects a path minimatch accepts; a path it accepts is confirmed with minimatch itself
// (`firstMatch`), so hits are exactly minimatch's. A glob that is not absolute (never one a compiled
// policy holds) is not walked but tried on every path with minimatch, as a single glob would be.
import { GLOBSTAR, Minimatch } from 'minimatch';

type Segment = string | RegExp | typeof GLOBSTAR | false;

/** Where a walk is: which globs the path so far could still match, and which it matches already. */
export interface GlobState {
  /** Indices (ascending) of the globs whose every segment is consumed: candidates for a hit. */
  readonly finals: readonly number[];
  /** Some glob could still match a path below this one (worth descending into). */
  readonly alive: boolean;
}

interface State extends GlobState {
  readonly ids: readonly number[];
  /** Literal next segment → states after consuming it. */
  readonly lit: Map<string, number[]>;
  /** One-segment patterns (deduplicated by source) → states after consuming a match. */
  readonly rx: Array<{ re: RegExp; next: number[] }>;
  /** `**` states: they stay where they are for any entry. */
  readonly star: readonly number[];
  /** The state after an entry that no literal or pattern of this state matches. */
  other?: State;
}

export class GlobSet {
  readonly globs: readonly string[];
  private readonly matchers: Minimatch[];
  /** Per state id: its glob, its segment (undefined at the end of the list). */
  private readonly globOf: number[] = [];
  private readonly segOf: Array<Segment | undefined> = [];
  private readonly interned = new Map<string, State>();
  private readonly start: State;
  /** Globs minimatch is asked about on every path (not absolute). */
  private readonly opaque: number[] = [];

  constructor(globs: readonly string[]) {
    this.globs = [...globs];
    this.matchers = this.globs.map((g) => new Minimatch(g, { dot: true }));
    const starts: number[] = [];
    this.matchers.forEach((m, gi) => {
      if (!this.globs[gi]!.startsWith('/')) {
        this.opaque.push(gi);
        return;
      }
      for (const segs of m.set as Segment[][]) {
        starts.push(this.globOf.length);
        for (const seg of segs) {
          this.globOf.push(gi);
          this.segOf.push(seg);
        }
        this.globOf.push(gi);
        this.segOf.push(undefined);
      }
    });
    this.start = this.intern(starts);
  }

  /** The state at an absolute directory path (its segments consumed from the root). */
  stateAt(dir: string): GlobState {
    let s = this.start;
    for (const seg of dir === '/' ? [''] : dir.split('/')) s = this.stepState(s, seg);
    return s;
  }

  /** The state after the entry `name` of the directory at `state`. */
  step(state: GlobState, name: string): GlobState {
    return this.stepState(state as State, name);
  }

  /** Index of the first glob (in the given order) that matches `p`, the path at `state`; -1 if none. */
  firstMatch(state: GlobState, p: string): number {
    const candidates = this.opaque.length ? [...new Set([...state.finals, ...this.opaque])].sort((a, b) => a - b) : state.finals;
    for (const gi of candidates) if ((this.matchers[gi] as Minimatch).match(p)) return gi;
    return -1;
  }

  /** Whether a glob could match something below `p`, the directory at `state`. */
  descends(state: GlobState, p: string): boolean {
    return state.alive || this.opaque.some((gi) => (this.matchers[gi] as Minimatch).match(p, true));
  }

  private stepState(s: State, name: string): State {
    const lit = s.lit.get(name);
    let rx: number[] | undefined;
    for (const r of s.rx) if (r.re.test(name)) (rx ??= []).push(...r.next);
    if (!lit && !rx) return (s.other ??= this.intern(s.star));
    return this.intern([...s.star, ...(lit ?? []), ...(rx ?? [])]);
  }

  /** The interned state for a set of ids, `**` positions closed over (each may also match nothing). */
  private intern(ids: readonly number[]): State {
    const all = new Set<number>();
    for (let id of ids) {
      all.add(id);
      while (this.segOf[id] === GLOBSTAR) all.add(++id);
    }
    const sorted = [...all].sort((a, b) => a - b);
    const key = sorted.join(',');
    const known = this.interned.get(key);
    if (known) return known;
    const finals = new Set<number>();
    const lit = new Map<string, number[]>();
    const rxBySource = new Map<string, { re: RegExp; next: number[] }>();
    const star: number[] = [];
    let alive = false;
    for (const id of sorted) {
      const seg = this.segOf[id];
      if (seg === undefined) {
        finals.add(this.globOf[id] as number);
        continue;
      }
      alive = true;
      if (seg === GLOBSTAR) star.push(id);
      else if (typeof seg === 'string') lit.set(seg, [...(lit.get(seg) ?? []), id + 1]);
      else if (seg instanceof RegExp) {
        // minimatch may give a segment a faster `test` of its own; its `_glob` names what it matches.
        const k = `${seg.flags}/${(seg as RegExp & { _glob?: string })._glob ?? seg.source}`;
        const r = rxBySource.get(k) ?? { re: seg, next: [] };
        r.next.push(id + 1);
        rxBySource.set(k, r);
      }
      // `false` (a segment minimatch could not compile) matches nothing.
    }
    const state: State = { ids: sorted, finals: [...finals].sort((a, b) => a - b), alive, lit, rx: [...rxBySource.values()], star };
    this.interned.set(key, state);
    return state;
  }
}
