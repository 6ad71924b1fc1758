/**
 * `npm run dev`: the API (restarted on server changes) plus Vite's dev server with hot reload,
 * which proxies /api, /docs and /socket.io to the API (see vite.config.ts).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'vite';

const api = spawn(process.execPath, ['--import', 'tsx', '--watch', 'server/main.ts'], {
  stdio: 'inherit',
  env: { ...process.env, SERVE_CLIENT: '0' },
});
const vite = await createServer({ server: { port: Number(process.env.VITE_PORT ?? 5173), host: process.env.HOST || '127.0.0.1' } });
await vite.listen();
vite.printUrls();

const stop = async () => {
  api.kill('SIGTERM');
  await vite.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
api.on('exit', (code) => {
  if (code !== null && code !== 0) console.error(`[dev] API exited with ${code}`);
});
