/**
 * One self-contained HTML page (no network, no external scripts, fonts or
 * images) for `headroom`, `plan` and `evacuate --format html`: a coloured
 * matrix with grouped, sortable, filterable rows, each with a detail line
 * (reasons, where domains go), readable at 1,000 rows and printable.
 *
 * The filter can be preset with `#filter=TEXT` in the URL (used by the
 * headless-browser test); the script writes how many rows are shown into
 * #shown so a DOM dump shows it ran.
 */
import { targetKind } from "../candidates/kinds/registry.js";
import type { HeadroomResult } from "../commands/headroom.js";
import type { Placement } from "../matching/evacuate.js";
import type { HostReport, PlanResult } from "../pipeline.js";
import type { Reason } from "../reasons.js";

export type Tone = "ok" | "warn" | "bad" | "none";

export interface Cell {
  /** HTML (already escaped) */
  html: string;
  tone?: Tone;
  /** sort key (number or text); defaults to the text */
  sort?: number | string;
  title?: string;
}

export interface Row {
  id: string;
  group: string;
  cells: Cell[];
  /** HTML shown under the row (details) */
  detail?: string;
  /** extra text the filter matches (domain names, reasons) */
  search?: string;
  attrs?: Record<string, string | number>;
  /** details shown from the start */
  open?: boolean;
}

export interface Matrix {
  id: string;
  caption: string;
  columns: { label: string; title?: string; numeric?: boolean }[];
  groups: { id: string; label: string; open: boolean }[];
  rows: Row[];
}

export interface Page {
  title: string;
  subtitle: string;
  cards: { label: string; value: string | number; tone?: Tone }[];
  /** HTML blocks before the matrix */
  before?: string[];
  matrix: Matrix;
  legend?: string;
}

export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const CSS = `
:root{--ok:#d7f0d9;--okb:#2e7d32;--warn:#fff1c2;--warnb:#a06800;--bad:#ffd6d3;--badb:#b3261e;--none:#f2f3f5;--line:#d9dce1;--ink:#1d2430;--dim:#5d6675}
*{box-sizing:border-box}
body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);margin:0;padding:16px 20px;background:#fff}
h1{font-size:20px;margin:0 0 2px}
h2{font-size:15px;margin:18px 0 6px}
.sub{color:var(--dim);margin-bottom:12px}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 12px}
.card{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:120px;background:var(--none)}
.card b{display:block;font-size:20px}
.card.ok{background:var(--ok)}.card.warn{background:var(--warn)}.card.bad{background:var(--bad)}
.tools{position:sticky;top:0;background:#fff;padding:6px 0;z-index:2;display:flex;gap:12px;align-items:center;border-bottom:1px solid var(--line)}
.tools input{font:inherit;padding:4px 8px;width:320px;border:1px solid #aab;border-radius:4px}
.tools button{font:inherit;padding:3px 10px}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef0f3;cursor:pointer;white-space:nowrap;position:sticky;top:38px;z-index:1}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
td.ok{background:var(--ok)}td.warn{background:var(--warn)}td.bad{background:var(--bad)}td.none{background:var(--none);color:var(--dim)}
tr.grp td{background:#e3e7ee;font-weight:600;cursor:pointer}
tr.grp td::before{content:"\\25BE  "}
tr.grp.closed td::before{content:"\\25B8  "}
tr.det td{background:#fbfbfc;border-top:none;padding:2px 6px 6px 18px}
tr.row{cursor:pointer}
tr.row:hover td{outline:1px solid #9aa4b5}
.hidden{display:none}
.flow{display:flex;flex-wrap:wrap;gap:4px 14px;margin:2px 0}
.flow span{white-space:nowrap}
.to{color:var(--okb);font-weight:600}
.str{color:var(--badb);font-weight:600}
ul.reasons{margin:2px 0 2px 0;padding-left:18px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;background:#eef0f3;padding:0 3px;border-radius:3px}
.legend{color:var(--dim);margin:6px 0}
.legend i{display:inline-block;width:12px;height:12px;vertical-align:-2px;border:1px solid var(--line);margin:0 3px 0 10px}
.small{color:var(--dim);font-size:12px}
@media print{
 .tools{display:none}
 th{position:static}
 tr.det.hidden,tr.row.hidden{display:table-row}
 tr.row.filtered,tr.det.filtered{display:none}
 body{padding:0;font-size:10px}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 tr{break-inside:avoid}
}
`;

// Plain ES5-style script: filter box (and #filter=), click a group to fold it,
// a row to show its details, a header to sort within groups.
const JS = `
(function(){
var tbl=document.getElementById('matrix');var box=document.getElementById('filter');
var shown=document.getElementById('shown');
function rows(){return Array.prototype.slice.call(tbl.querySelectorAll('tr.row'));}
function apply(){
 var q=(box.value||'').toLowerCase().trim();var n=0;
 rows().forEach(function(r){
  var det=document.getElementById('d-'+r.getAttribute('data-id'));
  var hit=!q||r.getAttribute('data-search').indexOf(q)>=0;
  var g=tbl.querySelector('tr.grp[data-group="'+r.getAttribute('data-group')+'"]');
  var closed=g&&g.classList.contains('closed')&&!q;
  r.classList.toggle('filtered',!hit);if(det)det.classList.toggle('filtered',!hit);
  r.classList.toggle('hidden',!hit||closed);
  if(det)det.classList.toggle('hidden',!hit||closed||!r.classList.contains('open'));
  if(hit)n++;
 });
 Array.prototype.forEach.call(tbl.querySelectorAll('tr.grp'),function(g){
  var k=g.getAttribute('data-group');var c=0;
  rows().forEach(function(r){if(r.getAttribute('data-group')===k&&!r.classList.contains('filtered'))c++;});
  g.querySelector('.cnt').textContent=c;
 });
 shown.textContent=n;
}
tbl.addEventListener('click',function(e){
 var tr=e.target.closest('tr');if(!tr)return;
 if(tr.classList.contains('grp')){tr.classList.toggle('closed');apply();return;}
 if(tr.classList.contains('row')){tr.classList.toggle('open');apply();}
});
var dir={};
Array.prototype.forEach.call(tbl.querySelectorAll('th'),function(th,i){
 th.addEventListener('click',function(){
  dir[i]=-(dir[i]||-1);var d=dir[i];
  var groups=tbl.querySelectorAll('tbody');
  Array.prototype.forEach.call(groups,function(tb){
   var rs=Array.prototype.slice.call(tb.querySelectorAll('tr.row'));
   rs.sort(function(a,b){
    var x=a.children[i].getAttribute('data-sort'),y=b.children[i].getAttribute('data-sort');
    var nx=parseFloat(x),ny=parseFloat(y);
    if(!isNaN(nx)&&!isNaN(ny))return (nx-ny)*d;
    return (x<y?-1:x>y?1:0)*d;
   });
   rs.forEach(function(r){var det=document.getElementById('d-'+r.getAttribute('data-id'));tb.appendChild(r);if(det)tb.appendChild(det);});
  });
 });
});
box.addEventListener('input',apply);
document.getElementById('expand').addEventListener('click',function(){
 var open=this.getAttribute('data-open')!=='1';this.setAttribute('data-open',open?'1':'0');
 this.textContent=open?'Collapse all':'Expand all';
 rows().forEach(function(r){r.classList.toggle('open',open);});
 Array.prototype.forEach.call(tbl.querySelectorAll('tr.grp'),function(g){g.classList.toggle('closed',!open&&g.getAttribute('data-default')==='closed');});
 apply();
});
var m=/[#&]filter=([^&]*)/.exec(location.hash);if(m)box.value=decodeURIComponent(m[1]);
apply();
document.body.setAttribute('data-ready','1');
})();
`;

export function renderPage(p: Page): string {
  const m = p.matrix;
  const ncol = m.columns.length;
  const head = m.columns
    .map(
      (c) =>
        `<th${c.numeric ? ' class="num"' : ""}${c.title ? ` title="${esc(c.title)}"` : ""}>${esc(c.label)}</th>`,
    )
    .join("");
  const bodies = m.groups
    .map((g) => {
      const rs = m.rows.filter((r) => r.group === g.id);
      if (rs.length === 0) return "";
      const lines = [
        `<tbody data-group="${esc(g.id)}">`,
        `<tr class="grp${g.open ? "" : " closed"}" data-group="${esc(g.id)}" data-default="${g.open ? "open" : "closed"}"><td colspan="${ncol}">${esc(g.label)} (<span class="cnt">${rs.length}</span>)</td></tr>`,
      ];
      for (const r of rs) {
        const attrs = Object.entries(r.attrs ?? {})
          .map(([k, v]) => ` data-${k}="${esc(v)}"`)
          .join("");
        const search = esc(
          `${r.cells.map((c) => c.html.replace(/<[^>]*>/g, " ")).join(" ")} ${r.search ?? ""}`.toLowerCase(),
        );
        const cells = r.cells
          .map((c, i) => {
            const cls = [m.columns[i]?.numeric ? "num" : "", c.tone ?? ""].filter(Boolean).join(" ");
            const sort = c.sort ?? c.html.replace(/<[^>]*>/g, "");
            return `<td${cls ? ` class="${cls}"` : ""} data-sort="${esc(sort)}"${c.title ? ` title="${esc(c.title)}"` : ""}>${c.html}</td>`;
          })
          .join("");
        lines.push(
          `<tr class="row${r.open ? " open" : ""}${g.open ? "" : " hidden"}" data-id="${esc(r.id)}" data-group="${esc(g.id)}" data-search="${search}"${attrs}>${cells}</tr>`,
        );
        if (r.detail)
          lines.push(
            `<tr class="det hidden" id="d-${esc(r.id)}"><td colspan="${ncol}">${r.detail}</td></tr>`,
          );
      }
      lines.push("</tbody>");
      return lines.join("\n");
    })
    .join("\n");
  const cards = p.cards
    .map((c) => `<div class="card${c.tone ? ` ${c.tone}` : ""}">${esc(c.label)}<b>${esc(c.value)}</b></div>`)
    .join("");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(p.title)}</title>
<style>${CSS}</style></head>
<body>
<h1>${esc(p.title)}</h1>
<div class="sub">${p.subtitle}</div>
<div class="cards">${cards}</div>
${(p.before ?? []).join("\n")}
<h2>${esc(m.caption)}</h2>
${p.legend ? `<div class="legend">${p.legend}</div>` : ""}
<div class="tools"><input id="filter" type="search" placeholder="filter: host, domain, device type, reason code" aria-label="filter rows">
<span><span id="shown">${m.rows.length}</span> of ${m.rows.length} rows</span>
<button id="expand" type="button">Expand all</button><span class="small">click a row for details, a header to sort, a group to fold</span></div>
<table id="matrix"><thead><tr>${head}</tr></thead>
${bodies}
</table>
<script>${JS}</script>
</body></html>
`;
}

function reasonList(rs: Reason[]): string {
  if (rs.length === 0) return "";
  return `<ul class="reasons">${rs.map((r) => `<li><code>${esc(r.code)}</code> ${esc(r.message)}</li>`).join("")}</ul>`;
}

/** Where placeable domains go, grouped by destination, and the stranded ones with reasons. */
function flowHtml(placements: (Placement & { source?: string })[]): string {
  const byHost = new Map<string, string[]>();
  const stranded: string[] = [];
  for (const p of placements) {
    if (p.host === null) {
      stranded.push(
        `<div class="stranded" data-domain="${esc(p.domain)}"><span class="str">✗ ${esc(p.domain)}</span> <span class="small">(${p.devices} device(s)${p.source ? ` from ${esc(p.source)}` : ""}, ${p.feasibleHosts} host(s) feasible with nothing placed)</span>${reasonList(p.reasons)}</div>`,
      );
    } else {
      byHost.set(p.host, [...(byHost.get(p.host) ?? []), p.domain]);
    }
  }
  const flow = [...byHost.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([h, ds]) =>
        `<span class="placed">${ds.map((d) => `<span data-domain="${esc(d)}">${esc(d)}</span>`).join(", ")} <span class="to">→ ${esc(h)}</span></span>`,
    );
  return `${stranded.join("")}${flow.length ? `<div class="flow">${flow.join("")}</div>` : ""}`;
}

function num(n: number, tone: Tone, title?: string): Cell {
  return { html: String(n), sort: n, tone, ...(title ? { title } : {}) };
}

export function headroomToHtml(r: HeadroomResult): string {
  const domains = r.hosts.reduce((a, h) => a + h.domains, 0);
  const largest = new Map(r.summary.tightest.map((t) => [t.type, t.largestVm?.needs ?? 0]));
  const hostRow = new Map(r.hosts.map((h) => [h.host, h]));
  const columns: Matrix["columns"] = [
    { label: r.fail === 1 ? "host down" : "hosts down" },
    { label: "domains", numeric: true },
    { label: "stranded", numeric: true, title: "domains no other host can take" },
    ...r.types.map((t) => ({
      label: t,
      title: `${t}: free on the host / used by its domains / units its stranded domains need`,
    })),
  ];
  const rows: Row[] = r.simulations.map((s, i) => {
    const short = new Map<string, number>();
    const left = s.capacityLeft;
    const cells: Cell[] = [
      { html: esc(s.down.join(", ")), sort: s.down.join(",") },
      num(s.placements.length, "none"),
      num(s.stranded, s.stranded > 0 ? "bad" : s.placements.length > 0 ? "ok" : "none"),
    ];
    for (const p of s.placements) {
      if (p.host !== null) continue;
      const need = p.needs;
      for (const [t, n] of Object.entries(need)) short.set(t, (short.get(t) ?? 0) + n);
    }
    for (const t of r.types) {
      let free = 0;
      let used = 0;
      for (const k of s.down) {
        free += hostRow.get(k)?.free[t] ?? 0;
        used += hostRow.get(k)?.used[t] ?? 0;
      }
      const sh = short.get(t) ?? 0;
      const lt = left[t] ?? 0;
      const tone: Tone =
        sh > 0 ? "bad" : used > 0 && lt < (largest.get(t) ?? 0) ? "warn" : used > 0 ? "ok" : "none";
      cells.push({
        html: `${free} / ${used}${sh ? ` / <b>${sh}</b>` : ""}`,
        sort: sh * 1e6 + used,
        tone,
        title: `${t} on ${s.down.join(", ")}: ${free} free, ${used} used by its domains${sh ? `, ${sh} needed by stranded domains` : ""}; ${lt} left in the fleet after this loss`,
      });
    }
    const group = s.stranded > 0 ? "stranding" : s.placements.length > 0 ? "fine" : "empty";
    return {
      id: `s${i}`,
      group,
      cells,
      detail: s.placements.length
        ? flowHtml(s.placements)
        : '<span class="small">no domains with assigned devices to move</span>',
      search: s.placements
        .map((p) => `${p.domain} ${p.host ?? "stranded"} ${p.reasons.map((x) => x.code).join(" ")}`)
        .join(" "),
      attrs: { down: s.down.join(","), stranded: s.stranded, domains: s.placements.length },
      open: s.stranded > 0 && r.summary.stranding <= 50,
    };
  });
  const tight = r.summary.tightest
    .map((t) => {
      const slack = t.worstLeft - (t.largestVm?.needs ?? 0);
      const tone: Tone = t.strandedNeeding > 0 ? "bad" : slack < 0 ? "warn" : slack < 2 ? "warn" : "ok";
      return `<tr data-type="${esc(t.type)}"><td class="${tone}">${esc(t.type)}</td><td class="num">${t.free}</td><td>${t.largestVm ? `${t.largestVm.needs} <span class="small">(${esc(t.largestVm.domain)} on ${esc(t.largestVm.host)})</span>` : "-"}</td><td class="num">${t.worstLeft}</td><td>${esc(t.worstDown.join(", ") || "-")}</td><td class="num">${t.strandedNeeding}</td></tr>`;
    })
    .join("");
  const errors = r.hostErrors.length
    ? `<h2>Hosts that could not be read (the answer is incomplete)</h2><ul>${r.hostErrors.map((h) => `<li><b>${esc(h.host)}</b> <code>${esc(h.error.code)}</code> ${esc(h.error.message)}</li>`).join("")}</ul>`
    : "";
  return renderPage({
    title: "hdplan headroom",
    subtitle: `${r.hosts.length} hosts, ${domains} domains with assigned devices; ${r.fail} host(s) down at a time: ${r.simulated} of ${r.combinations} combination(s) simulated with evacuate's placement`,
    cards: [
      { label: "hosts", value: r.hosts.length },
      { label: "domains to protect", value: domains },
      { label: "losses that strand", value: r.summary.stranding, tone: r.summary.stranding ? "bad" : "ok" },
      {
        label: "stranded domains",
        value: r.summary.strandedDomains,
        tone: r.summary.strandedDomains ? "bad" : "ok",
      },
      { label: "hosts not read", value: r.hostErrors.length, tone: r.hostErrors.length ? "warn" : "ok" },
    ],
    before: [
      errors,
      `<h2>Tightest device types</h2><table id="tightest"><thead><tr><th>type</th><th class="num">free now</th><th>largest single VM needs</th><th class="num">fewest left after a loss</th><th>when down</th><th class="num">stranded domains needing it</th></tr></thead><tbody>${tight}</tbody></table>`,
    ],
    legend:
      'Cells: <b>free / used</b> on the host down (units of that type), then <b>needed by stranded domains</b> when there are any. <i style="background:var(--bad)"></i>strands domains needing it <i style="background:var(--warn)"></i>after the loss the fleet has fewer left than the largest VM needs <i style="background:var(--ok)"></i>its domains are placed <i style="background:var(--none)"></i>not used there',
    matrix: {
      id: "matrix",
      caption:
        r.fail === 1 ? "If this host fails" : `If these ${r.fail} hosts fail (combinations that strand)`,
      columns,
      groups: [
        { id: "stranding", label: "Loss strands domains", open: true },
        { id: "fine", label: "Every domain placed elsewhere", open: r.simulations.length <= 200 },
        { id: "empty", label: "No domains with assigned devices", open: false },
      ],
      rows,
    },
  });
}

function targetText(t: HostReport["assignments"][number]["target"]): string {
  return targetKind(t).targetCell(t);
}

/** plan / check: hosts x the VM's devices, with reasons. */
export function planToHtml(r: PlanResult): string {
  const columns: Matrix["columns"] = [
    { label: "rank", numeric: true },
    { label: "host" },
    { label: "status" },
    { label: "devices", numeric: true },
    ...r.devices.map((d) => ({ label: d.id, title: d.summary })),
  ];
  const rows: Row[] = r.hosts.map((h, i) => {
    const cells: Cell[] = [
      { html: h.rank === null ? "-" : String(h.rank), sort: h.rank ?? 1e9 },
      { html: esc(h.host) },
      {
        html: esc(h.status),
        tone: h.status === "full" ? "ok" : h.status === "partial" ? "warn" : "bad",
      },
      { html: `${h.compatible}/${h.total}`, sort: h.compatible },
    ];
    for (const d of r.devices) {
      const a = h.assignments.find((x) => x.device === d.id);
      const u = h.unassigned.find((x) => x.device === d.id);
      if (a) cells.push({ html: esc(targetText(a.target)), tone: "ok" });
      else if (u)
        cells.push({
          html: `<code>${esc([...new Set(u.reasons.map((x) => x.code))].join(", "))}</code>`,
          tone: "bad",
          title: u.reasons.map((x) => x.message).join("\n"),
        });
      else cells.push({ html: h.status === "error" ? "" : "-", tone: "none" });
    }
    const detail = [
      h.error ? reasonList([h.error]) : "",
      ...h.unassigned.map((u) => `<div><b>${esc(u.device)}</b>${reasonList(u.reasons)}</div>`),
      h.warnings.length ? `<div class="small">warnings:</div>${reasonList(h.warnings)}` : "",
    ].join("");
    return {
      id: `h${i}`,
      group: h.status === "full" ? "full" : h.status === "error" ? "error" : "other",
      cells,
      detail: detail || '<span class="small">every device has a target</span>',
      search: [...h.unassigned.flatMap((u) => u.reasons.map((x) => x.code)), h.error?.code ?? ""].join(" "),
      attrs: { host: h.host, status: h.status },
    };
  });
  const full = r.hosts.filter((h) => h.status === "full").length;
  return renderPage({
    title: `hdplan plan: ${r.domain.name}`,
    subtitle: `${esc(r.domain.name)} (${esc(r.domain.uuid)}) from ${esc(r.source.host ?? "?")}: best host <b>${esc(r.best ?? "none")}</b>`,
    cards: [
      { label: "hosts", value: r.hosts.length },
      { label: "take every device", value: full, tone: full ? "ok" : "bad" },
      { label: "best", value: r.best ?? "none", tone: r.best ? "ok" : "bad" },
      { label: "devices", value: r.devices.length },
    ],
    before: r.warnings.length ? [`<h2>Warnings</h2>${reasonList(r.warnings)}`] : [],
    matrix: {
      id: "matrix",
      caption: "Hosts × devices",
      columns,
      groups: [
        { id: "full", label: "Take every device", open: true },
        { id: "other", label: "Cannot take every device", open: true },
        { id: "error", label: "Could not be read", open: true },
      ],
      rows,
    },
  });
}

/** evacuate: each domain, where it goes or why it is stranded, and the flow per destination. */
export function evacuateToHtml(e: {
  source: string;
  placements: Placement[];
  unplaced: number;
  hostErrors: { host: string; error: Reason }[];
}): string {
  const columns: Matrix["columns"] = [
    { label: "domain" },
    { label: "devices", numeric: true },
    { label: "feasible hosts", numeric: true },
    { label: "destination" },
  ];
  const rows: Row[] = e.placements.map((p, i) => ({
    id: `p${i}`,
    group: p.host ? "placed" : "stranded",
    cells: [
      { html: esc(p.domain) },
      { html: String(p.devices), sort: p.devices },
      { html: String(p.feasibleHosts), sort: p.feasibleHosts, tone: p.feasibleHosts === 0 ? "bad" : "none" },
      p.host ? { html: esc(p.host), tone: "ok" } : { html: "stranded", tone: "bad" },
    ],
    detail: p.host
      ? `<div class="flow">${p.assignments.map((a) => `<span>${esc(a.device)} <span class="to">→ ${esc(targetText(a.target))}</span></span>`).join("")}</div>`
      : flowHtml([p]),
    search: p.reasons.map((x) => x.code).join(" "),
    attrs: { domain: p.domain, host: p.host ?? "" },
  }));
  const placed = e.placements.length - e.unplaced;
  return renderPage({
    title: `hdplan evacuate ${e.source}`,
    subtitle: `${e.placements.length} domains with assigned devices on ${esc(e.source)}`,
    cards: [
      { label: "domains", value: e.placements.length },
      { label: "placed", value: placed, tone: "ok" },
      { label: "stranded", value: e.unplaced, tone: e.unplaced ? "bad" : "ok" },
      { label: "hosts not read", value: e.hostErrors.length, tone: e.hostErrors.length ? "warn" : "ok" },
    ],
    before: [`<h2>Where they go</h2>${flowHtml(e.placements)}`],
    matrix: {
      id: "matrix",
      caption: "Domains",
      columns,
      groups: [
        { id: "stranded", label: "Stranded", open: true },
        { id: "placed", label: "Placed", open: true },
      ],
      rows,
    },
  });
}
