/**
 * Concurrency of live reads, tuned on hosts across a network
 * (scripts/bench-live.mjs --remote: 50 hosts x ~200 node devices behind a
 * 5 ms-per-direction proxy; docs/libvirt-versions.md has the figures). No
 * imports: the CLI reads these before anything else loads.
 *
 * - hosts: hosts read at once (`--concurrency`). A remote read is latency-bound
 *   (one round trip per node device XML), so many hosts in flight pay; 32 was
 *   within noise of 50 and costs fewer connections at once.
 * - callsPerHost: libvirt calls in flight on one connection. libvirtd handles at
 *   most max_client_requests (default 5, libvirtd.conf) calls of one client at
 *   a time; 4 stays below it.
 * - threadPool: UV_THREADPOOL_SIZE the CLI re-executes with for live targets:
 *   every call in flight holds a libuv thread (koffi async), hosts x calls.
 * - maxNativeCalls: calls handed to koffi at once; koffi refuses more than its
 *   max_async_calls (default 256: "Too many asynchronous calls are running").
 */
export const LIVE_DEFAULTS = {
  hosts: 32,
  callsPerHost: 4,
  threadPool: 128,
  maxNativeCalls: 200,
} as const;
