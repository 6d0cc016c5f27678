// Moments on screen. Tables show them relative to now ("in 3 hours", "2 minutes ago"), refreshed every
// 15 s (a page of 1 000 keys has 2 000 of them); one key's detail counts its expiry down every second.
// The absolute time is in the title and in dateTime, for hover and screen readers.
import { memo } from "react";
import { absolute, countdown, fromNow } from "../lib/format.ts";
import { useNow } from "../lib/use-now.ts";

export const Clock = memo(function Clock({ at }: { at: string }) {
  const now = useNow(15_000);
  return (
    <time dateTime={at} title={absolute(at)}>
      {fromNow(at, now)}
    </time>
  );
});

/** An expiry relative to now ("in 29 days"), or "never". */
export const ExpiresIn = memo(function ExpiresIn({ at }: { at: string | null }) {
  if (!at) return <span className="never">never</span>;
  return <Clock at={at} />;
});

/** An expiry as a countdown by the second, or "never". */
export function Countdown({ at }: { at: string | null }) {
  const now = useNow(1_000);
  if (!at) return <span className="never">never</span>;
  return (
    <time dateTime={at} title={absolute(at)} className="countdown">
      {countdown(at, now)}
    </time>
  );
}
