// The current time, ticking: countdowns and "3 minutes ago" stay true while a page stays open. One timer
// per period for the whole page, however many cells show a time (a page of 1 000 keys has 2 000).
import { useSyncExternalStore } from "react";

interface Ticker {
  now: number;
  listeners: Set<() => void>;
  timer?: ReturnType<typeof setInterval> | undefined;
}

const tickers = new Map<number, Ticker>();

function tickerOf(everyMs: number): Ticker {
  let ticker = tickers.get(everyMs);
  if (!ticker) {
    ticker = { now: Date.now(), listeners: new Set() };
    tickers.set(everyMs, ticker);
  }
  return ticker;
}

function subscribe(everyMs: number, listener: () => void): () => void {
  const ticker = tickerOf(everyMs);
  ticker.listeners.add(listener);
  ticker.timer ??= setInterval(() => {
    ticker.now = Date.now();
    for (const notify of ticker.listeners) notify();
  }, everyMs);
  return () => {
    ticker.listeners.delete(listener);
    if (ticker.listeners.size === 0) {
      clearInterval(ticker.timer);
      ticker.timer = undefined;
    }
  };
}

export function useNow(everyMs = 1_000): number {
  return useSyncExternalStore(
    (listener) => subscribe(everyMs, listener),
    () => tickerOf(everyMs).now,
  );
}
