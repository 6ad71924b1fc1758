import path from 'node:path';
import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import { VitePWA } from 'vite-plugin-pwa';

const root = import.meta.dirname;
const alias = {
  '@client': path.join(root, 'client'),
  '@server': path.join(root, 'server'),
  '@shared': path.join(root, 'shared'),
};

export default defineConfig({
  root: path.join(root, 'client'),
  plugins: [
    vue(),
    // The grid worker's phone (/field) installs as an app and opens with no network: the service
    // worker precaches the built static files only (never an API answer, never the socket) and
    // answers page navigations with the app shell. The dashboards load through it too.
    VitePWA({
      registerType: 'autoUpdate',
      // A file (/registerSW.js), not an inline script: the CSP allows only 'self' scripts.
      injectRegister: 'script-defer',
      includeAssets: ['icons/apple-touch-icon.png'],
      manifest: {
        id: '/field',
        name: '网格通 · 网格员',
        short_name: '网格通',
        description: '网格员上班定位、上报、任务与一键报警',
        lang: 'zh-CN',
        start_url: '/field',
        scope: '/',
        display: 'standalone',
        orientation: 'portrait',
        background_color: '#030a16',
        theme_color: '#0b2a4a',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/maskable-192.png', sizes: '192x192', type: 'image/png', purpose: 'maskable' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,png,svg,ico,woff2,webmanifest}'],
        // The map libraries' chunks are a few MB each.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        navigateFallback: '/index.html',
        // Never the API, the socket, the device endpoints or the API docs.
        navigateFallbackDenylist: [/^\/api(\/|$)/i, /^\/socket\.io(\/|$)/, /^\/docs(\/|$)/],
        runtimeCaching: [],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  resolve: { alias },
  build: {
    outDir: path.join(root, 'dist/client'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2048,
    rolldownOptions: {
      output: {
        // One long-cached chunk per big library: an app change then re-downloads only app code.
        // Higher priority claims a module first (vue's runtime is imported by vue-echarts too).
        codeSplitting: {
          groups: [
            { name: 'vue', test: /node_modules[\\/](@vue|vue|vue-router|pinia|vue-i18n|@intlify)[\\/]/, priority: 40 },
            { name: 'maplibre', test: /node_modules[\\/](maplibre-gl|@maplibre|@mapbox|kdbush|gl-matrix|earcut|pbf)[\\/]/, priority: 30 },
            { name: 'deck', test: /node_modules[\\/](@deck\.gl|@luma\.gl|@math\.gl|@loaders\.gl|@probe\.gl|@arcgis)[\\/]/, priority: 20 },
            { name: 'echarts', test: /node_modules[\\/](echarts|zrender|vue-echarts|tslib)[\\/]/, priority: 10 },
          ],
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/docs': 'http://127.0.0.1:3000',
      '/socket.io': { target: 'ws://127.0.0.1:3000', ws: true },
    },
  },
  test: {
    root,
    projects: [
      { extends: true, test: { name: 'unit', root, include: ['tests/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'integration',
          root,
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/support/global-db.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // Each file gets its own database copied from one template; two at a time fit 2 cores.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          root,
          include: ['tests/e2e/**/*.test.ts'],
          globalSetup: ['tests/support/global-db.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          root,
          include: ['tests/faults/**/*.test.ts'],
          globalSetup: ['tests/support/global-db.ts'],
          // Each file starts the real server as a child process, kills it, restarts it (and, on a
          // PostgreSQL server, a private cluster): one file at a time, after everything else. A run
          // takes 10–150 s per file; PGlite starts slowly on a busy 2-core machine.
          testTimeout: 420_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
