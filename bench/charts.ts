// SVG bar charts of a bench/load.ts results file: req/s and p99 latency per
// scenario, one bar per peer. Hand-written SVG text, no dependencies.
//
//   deno run -A bench/charts.ts [results.json] [--out=bench/charts]
//
// Without a file it takes the newest bench/results/load-*.json. It writes
// rps.svg, p99.svg and cpu.svg (CPU per request; not for result files from
// before it was measured).
//
// Scenarios differ by two orders of magnitude (1 MiB responses against
// 128-byte ones), so one absolute axis would flatten most groups. Bars are
// therefore drawn relative to the baseline peer (Deno.serve when it ran) on
// one shared axis, and each bar's label gives the absolute figure.

/** Medians of one peer in one scenario, as bench/load.ts stores them. */
export interface SummaryRow {
  scenario: string;
  desc: string;
  peer: string;
  label: string;
  /** Rounds that produced figures. */
  rounds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Median server CPU per request in µs (NaN in files from before it was
   * measured). */
  cpu: number;
  /** Socket errors and non-2xx responses, summed over the rounds. */
  errors: number;
}

/** The results file bench/load.ts writes. */
export interface LoadResults {
  machine: string;
  command: string;
  note: string;
  options: unknown;
  skipped: { peer: string; reason: string }[];
  summary: SummaryRow[];
  runs: unknown[];
}

interface Metric {
  key: "rps" | "p99" | "cpu";
  file: string;
  title: string;
  /** Absolute figure shown next to a bar. */
  format: (v: number) => string;
}

const METRICS: Metric[] = [
  {
    key: "rps",
    file: "rps.svg",
    title: "Requests per second (longer bar is better)",
    format: (v) => v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0),
  },
  {
    key: "p99",
    file: "p99.svg",
    title: "p99 latency (shorter bar is better)",
    format: (v) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`,
  },
  {
    key: "cpu",
    file: "cpu.svg",
    title: "Server CPU time per request (shorter bar is better)",
    format: (v) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} µs`,
  },
];

const BASELINE = "deno";
/** Ratios above this run off the axis; their label still tells the value. */
const MAX_RATIO = 4;

// Layout in px.
const WIDTH = 860;
const LABEL_W = 150; // peer names left of the bars
const BAR_W = 520; // the axis
const BAR_H = 14;
const GAP = 3;
const GROUP_HEAD = 22; // scenario title above each group
const GROUP_GAP = 12;
const TOP = 84;

const COLORS: Record<string, string> = {
  ours: "#e8590c",
  deno: "#1c7ed6",
  hono: "#f59f00",
  "deno-node": "#5c940d",
  node: "#2b8a3e",
  bun: "#ae3ec9",
  "fetch-ours": "#ff922b",
  "hono-ours": "#ffd43b",
  nginx: "#0ca678",
  floor: "#495057",
};

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function text(
  x: number,
  y: number,
  s: string,
  attrs = "",
): string {
  return `<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`;
}

/** Scenarios in the order they ran, each with its rows in peer order. */
function groups(rows: SummaryRow[]): SummaryRow[][] {
  const byScenario = new Map<string, SummaryRow[]>();
  for (const r of rows) {
    byScenario.set(r.scenario, [...byScenario.get(r.scenario) ?? [], r]);
  }
  return [...byScenario.values()];
}

/** Ratio of each row to the baseline row of its group, NaN if unknown. */
function ratios(
  group: SummaryRow[],
  key: Metric["key"],
  base: string,
): number[] {
  const b = group.find((r) => r.peer === base)?.[key] ?? NaN;
  return group.map((r) => r[key] / b);
}

/** Axis end: the largest ratio rounded up to a half, at most MAX_RATIO. */
function axisMax(all: number[]): number {
  const finite = all.filter(Number.isFinite);
  const top = Math.max(1.5, ...finite);
  return Math.min(MAX_RATIO, Math.ceil(top * 2) / 2);
}

function axis(max: number, y0: number, y1: number): string[] {
  const out: string[] = [];
  const step = max > 2 ? 1 : 0.5;
  for (let t = 0; t <= max + 1e-9; t += step) {
    const x = LABEL_W + (t / max) * BAR_W;
    const stroke = t === 1
      ? 'stroke="#495057" stroke-dasharray="4 3"'
      : 'stroke="#dee2e6"';
    out.push(
      `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" ${stroke}/>`,
      text(x, y0 - 4, `${t}×`, 'text-anchor="middle" class="tick"'),
      text(x, y1 + 12, `${t}×`, 'text-anchor="middle" class="tick"'),
    );
  }
  return out;
}

function bar(
  r: SummaryRow,
  ratio: number,
  isBase: boolean,
  max: number,
  y: number,
  m: Metric,
): string[] {
  const value = r[m.key];
  const len = Number.isFinite(ratio) ? Math.min(ratio, max) / max * BAR_W : 0;
  let label = Number.isFinite(value) ? m.format(value) : "n/a";
  if (Number.isFinite(ratio) && !isBase) label += `  ${ratio.toFixed(2)}×`;
  if (r.errors > 0) label += `  (${r.errors} errors)`;
  const fill = COLORS[r.peer] ?? "#868e96";
  const out = [
    text(LABEL_W - 6, y + BAR_H - 3, r.label, 'text-anchor="end"'),
    `<rect x="${LABEL_W}" y="${y}" width="${len.toFixed(1)}" ` +
    `height="${BAR_H}" fill="${fill}"/>`,
    text(LABEL_W + len + 4, y + BAR_H - 3, label, 'class="value"'),
  ];
  // A white slash near the end marks a bar cut off at the axis end.
  if (ratio > max) {
    const x = LABEL_W + len - 10;
    out.push(
      `<path d="M${x} ${y + BAR_H}L${
        x + 5
      } ${y}" stroke="#fff" stroke-width="2"/>`,
    );
  }
  return out;
}

/** The command line without its --note, which has a line of its own. */
function commandOf(results: LoadResults): string {
  return results.command.replace(/ --note=.*?(?= --|$)/, "");
}

/** The whole SVG document of one metric. */
function chartSvg(results: LoadResults, m: Metric): string {
  // A scenario without any figure for this metric (latency of pipelined
  // requests) gets no group rather than a row of "n/a".
  const gs = groups(results.summary).filter((g) =>
    g.some((r) => Number.isFinite(r[m.key]))
  );
  const base = results.summary.some((r) => r.peer === BASELINE)
    ? BASELINE
    : results.summary[0]?.peer;
  const baseLabel = results.summary.find((r) => r.peer === base)?.label;
  const max = axisMax(gs.flatMap((g) => ratios(g, m.key, base)));
  const body: string[] = [];
  let y = TOP;
  for (const g of gs) {
    body.push(
      text(8, y + 14, `${g[0].scenario}: ${g[0].desc}`, 'class="group"'),
    );
    y += GROUP_HEAD;
    const rs = ratios(g, m.key, base);
    g.forEach((r, i) => {
      body.push(...bar(r, rs[i], r.peer === base, max, y, m));
      y += BAR_H + GAP;
    });
    y += GROUP_GAP;
  }
  const height = y + 48;
  const subtitle = `Bar length relative to ${baseLabel} (dashed line = 1×); ` +
    "labels give the median of the rounds.";
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    "<style>.title{font-size:16px;font-weight:600}.group{font-weight:600}" +
    ".tick,.meta{fill:#868e96;font-size:10px}.value{fill:#212529}" +
    ".note{fill:#c92a2a}</style>",
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(8, 20, m.title, 'class="title"'),
    text(8, 38, subtitle),
    text(8, 54, results.note, 'class="note"'),
    ...axis(max, TOP - 6, y - GROUP_GAP),
    ...body,
    text(8, height - 22, commandOf(results), 'class="meta"'),
    text(8, height - 10, results.machine, 'class="meta"'),
    "</svg>",
  ].join("\n") + "\n";
}

/** JSON has no NaN: a figure that was NaN comes back as null. */
function revive(results: LoadResults): LoadResults {
  const num = (v: number | null): number => v ?? NaN;
  results.summary = results.summary.map((r) => ({
    ...r,
    rps: num(r.rps),
    p50: num(r.p50),
    p99: num(r.p99),
    cpu: num(r.cpu),
  }));
  return results;
}

/** Writes one SVG per metric into `dir`; returns the paths. */
export async function renderCharts(
  results: LoadResults,
  dir: string,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const m of METRICS) {
    if (!results.summary.some((r) => Number.isFinite(r[m.key]))) continue;
    const file = `${dir}/${m.file}`;
    await Deno.writeTextFile(file, chartSvg(results, m));
    files.push(file);
  }
  return files;
}

async function newestResults(): Promise<string> {
  const dir = new URL("results/", import.meta.url).pathname;
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (/^load-.*\.json$/.test(e.name)) names.push(e.name);
  }
  if (names.length === 0) throw new Error(`no load-*.json in ${dir}`);
  return dir + names.sort().at(-1);
}

async function main(): Promise<void> {
  const file = Deno.args.find((a) => !a.startsWith("--")) ??
    await newestResults();
  const out = Deno.args.find((a) => a.startsWith("--out="))?.slice(6) ??
    new URL("charts", import.meta.url).pathname;
  const results = revive(JSON.parse(await Deno.readTextFile(file)));
  for (const f of await renderCharts(results, out)) console.log(f);
}

if (import.meta.main) await main();
