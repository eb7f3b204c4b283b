/**
 * A value kept on an object itself, for data that lives as long as one
 * host's objects (its RawHost, its inventory) and no longer.
 *
 * Why not a WeakMap: V8's young-generation collector (the scavenger) keeps
 * every value of a WeakMap entry alive, whether or not its key is, until
 * the next full mark-compact. A WeakMap from each host's RawHost to its
 * inventory (src/cache/inventory.ts) and from each inventory to its host
 * index (src/candidates/hostindex.ts) kept every host's inventory and
 * index through the scavenges that follow, moved them to the old
 * generation and left them to the mark-compacts: ~100 MB over a cold plan
 * of 1,000 hosts on one thread, sampled by V8's heap profiler as objects
 * "collected by a major GC". As values of a property of the host's own
 * objects they die with them, young. Measured (docs/benchmarks.md
 * "Nineteenth session"): a cold plan of 1,000 `all` hosts on two threads
 * 1.63-1.73 -> 1.49-1.60 s, peak RSS 212-228 -> 172-176 MiB; an evacuation
 * of 40 VMs onto them 2.13-2.32 -> 1.98-2.14 s.
 *
 * The property has a symbol of its own for a name and is not enumerable:
 * `Object.keys`, `for...in`, JSON, spread copies and structured clones (a
 * worker's message) leave it out, so a copy of the object has no value,
 * as a copy had no WeakMap entry. test/slots.test.ts checks both that and
 * the collector's behaviour.
 */
export class Slot<K extends object, V> {
  private readonly key: symbol;

  constructor(name: string) {
    this.key = Symbol(name);
  }

  /** The value set on `o` (not on a copy of it), or undefined. */
  get(o: K): V | undefined {
    return (o as Record<symbol, V | undefined>)[this.key];
  }

  /** Set the value of `o`, replacing any before. */
  set(o: K, v: V): void {
    Object.defineProperty(o, this.key, { value: v, writable: true, configurable: true, enumerable: false });
  }
}
