// The signed-in token lives in sessionStorage: it survives a reload of the tab, ends with the tab, and is
// never put in a URL (where it would reach history, logs and Referer headers).
const KEY = "cairn.console.token";

export const tokenStore = {
  read: (): string | null => sessionStorage.getItem(KEY),
  write: (token: string) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};
