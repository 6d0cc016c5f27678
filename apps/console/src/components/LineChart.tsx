// A small line chart in SVG: one line per series over the same intervals, gaps where a value is null.
// Figures stay readable without it: the overview lists the same numbers in a table.

export interface Series {
  label: string;
  values: (number | null)[];
}

const COLORS = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"];
const WIDTH = 600;
const HEIGHT = 150;

export function seriesColor(index: number): string {
  return COLORS[index % COLORS.length] ?? "#444";
}

export function LineChart({ title, series, unit }: { title: string; series: Series[]; unit: string }) {
  const length = Math.max(1, ...series.map((line) => line.values.length));
  const max = niceMax(
    Math.max(0, ...series.flatMap((line) => line.values.filter((v): v is number => v !== null))),
  );
  const x = (i: number) => (length === 1 ? 0 : (i / (length - 1)) * WIDTH);
  const y = (v: number) => HEIGHT - (max === 0 ? 0 : (v / max) * HEIGHT);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`-40 -10 ${WIDTH + 50} ${HEIGHT + 30}`}
        role="img"
        aria-label={`${title}: ${series.length} procedures, highest ${round(max)} ${unit}`}
      >
        <line x1={0} y1={HEIGHT} x2={WIDTH} y2={HEIGHT} className="axis" />
        <line x1={0} y1={0} x2={WIDTH} y2={0} className="grid" />
        <line x1={0} y1={HEIGHT / 2} x2={WIDTH} y2={HEIGHT / 2} className="grid" />
        <text x={-6} y={4} textAnchor="end" className="tick">
          {round(max)}
        </text>
        <text x={-6} y={HEIGHT / 2 + 4} textAnchor="end" className="tick">
          {round(max / 2)}
        </text>
        <text x={-6} y={HEIGHT + 4} textAnchor="end" className="tick">
          0
        </text>
        <text x={0} y={HEIGHT + 18} className="tick">
          15 min ago
        </text>
        <text x={WIDTH} y={HEIGHT + 18} textAnchor="end" className="tick">
          now
        </text>
        {series.map((line, index) => (
          <g key={line.label} stroke={seriesColor(index)} fill={seriesColor(index)}>
            <path d={pathOf(line.values, x, y)} className="line" />
            {/* An interval between two without calls has no line to be on: a dot shows it. */}
            {line.values.map((value, i) =>
              value !== null && line.values[i - 1] == null && line.values[i + 1] == null ? (
                <circle key={i} cx={x(i)} cy={y(value)} r={3} />
              ) : null,
            )}
          </g>
        ))}
      </svg>
    </figure>
  );
}

function pathOf(values: (number | null)[], x: (i: number) => number, y: (v: number) => number): string {
  let path = "";
  let drawing = false;
  values.forEach((value, i) => {
    if (value === null) {
      drawing = false;
      return;
    }
    path += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
    drawing = true;
  });
  return path;
}

/** 1, 2 or 5 times a power of ten, at least the value. */
function niceMax(value: number): number {
  if (value <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].map((step) => step * power).find((step) => step >= value) ?? 10 * power) as number;
}

function round(value: number): string {
  return value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2);
}
