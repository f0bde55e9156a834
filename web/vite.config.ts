import { defineConfig } from "vite";

// The console is served by `sluice console` / `sluice up` from web/dist at the site root.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1200, sourcemap: false },
});
