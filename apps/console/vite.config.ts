// The console builds to dist/ with relative asset URLs: the server serves it at /console (and a proxy may
// serve the server under a prefix). `pnpm dev` here proxies the API to a server on :4000.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: { "/trpc": process.env.CAIRN_URL ?? "http://127.0.0.1:4000" },
  },
});
