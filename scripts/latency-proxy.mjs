#!/usr/bin/env node
/**
 * A TCP proxy on 127.0.0.1 that adds a fixed delay to each direction
 * (latency, not bandwidth: chunks keep their order, many may be in flight).
 *
 *   node scripts/latency-proxy.mjs --target PORT [--delay-ms 5] [--max-seconds 900]
 *
 * Prints "listening PORT" once ready. Stops by itself when its stdin closes
 * (the parent is gone) or after --max-seconds. Loopback only.
 */
import { createServer, connect } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    "delay-ms": { type: "string", default: "5" },
    "max-seconds": { type: "string", default: "900" },
  },
});
const target = Number(values.target);
const delay = Number(values["delay-ms"]);
if (!Number.isInteger(target) || target <= 0 || !(delay >= 0)) {
  console.error("latency-proxy: --target PORT and --delay-ms N (>= 0) needed");
  process.exit(2);
}

/**
 * Every chunk of every connection waits in one FIFO queue: the delay is the
 * same for all, so arrival order is due order. One timer serves the whole
 * queue and the chunks due for one socket go out in one write (the proxy's
 * own cost must not be what the benchmark measures). Order per direction is
 * kept.
 */
const queue = [];
let timer = null;
function flush() {
  timer = null;
  const now = performance.now();
  const bySocket = new Map();
  let i = 0;
  while (i < queue.length && queue[i].due <= now + 0.5) {
    const e = queue[i++];
    const list = bySocket.get(e.to);
    if (list) list.push(e.chunk);
    else bySocket.set(e.to, [e.chunk]);
  }
  queue.splice(0, i);
  for (const [to, chunks] of bySocket) {
    if (to.destroyed) continue;
    const data = chunks.filter((c) => c !== END);
    if (data.length) to.write(data.length === 1 ? data[0] : Buffer.concat(data));
    if (data.length !== chunks.length) to.end();
  }
  if (queue.length) timer = setTimeout(flush, Math.max(0, queue[0].due - performance.now()));
}
const END = Symbol("end");
function enqueue(to, chunk) {
  queue.push({ due: performance.now() + delay, to, chunk });
  if (!timer) timer = setTimeout(flush, delay);
}

function pipeDelayed(a, b) {
  a.on("data", (chunk) => enqueue(b, chunk));
  a.on("end", () => enqueue(b, END));
  a.on("error", () => b.destroy());
}

const server = createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect({ host: "127.0.0.1", port: target });
  upstream.setNoDelay(true);
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
  upstream.on("close", () => client.destroy());
  client.on("close", () => upstream.destroy());
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
const stop = () => process.exit(0);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, Number(values["max-seconds"]) * 1000).unref();
