// A moment shown relative to now ("in 3 hours", "2 minutes ago"), with the absolute time on hover and for
// screen readers.
import { absolute, countdown, fromNow } from "../lib/format.ts";
import { useNow } from "../lib/use-now.ts";

export function Clock({ until, at }: { until?: string; at?: string }) {
  const now = useNow(until ? 1_000 : 15_000);
  const iso = until ?? at ?? "";
  return (
    <time dateTime={iso} title={absolute(iso)}>
      {fromNow(iso, now)}
    </time>
  );
}

/** Expiry: a countdown, or "never". */
export function Expiry({ at }: { at: string | null }) {
  const now = useNow();
  if (!at) return <span className="never">never</span>;
  return (
    <time dateTime={at} title={absolute(at)} className="countdown">
      {countdown(at, now)}
    </time>
  );
}
