/**
 * `npm start`: build the dashboard if needed, open the database (embedded PGlite in DATA_DIR unless
 * DATABASE_URL is set), migrate, seed the demo district into an empty database, then serve
 * everything on one port. Shuts down cleanly on SIGINT/SIGTERM.
 */
import { loadConfig, DEFAULT_DEMO_PASSWORD, type Config } from './platform/config';
import { checkStartup, type StartupFacts } from './platform/startup-checks';
import { openDb } from './platform/db';
import { sql } from './platform/db/sql';
import { migrate } from './platform/db/migrate';
import { build } from './app';
import { CLIENT_DIST, ensureClientBuild } from './platform/client-build';
import { countDemoPasswords } from './modules/auth/repository';
import { seedRegion } from '../seeds/seed';
import { progressBar } from '../seeds/progress';
import { buildOsmAndServer } from './modules/devices/routes';
import { Simulator } from './modules/simulator/simulator';
import { TicketSimulator } from './modules/simulator/tickets';
import { SosSimulator } from './modules/simulator/sos';
import { NoticeSimulator } from './modules/simulator/notices';
import { MobilisationSimulator } from './modules/simulator/mobilisation';
import { findOnPath, loadVideoConfig } from './modules/video/config';
import { RECORDING_TOOLS_INSTALL } from './modules/consults/recording';
import { JanusSupervisor } from './modules/video/janus';
import { seedDemoCamerasIfNone } from '../seeds/cameras';

const log = (msg: string) => console.error(`[gridline] ${msg}`);

/** Logs what the startup check found; false when the server must not start. */
function startupAllowed(config: Config, facts?: StartupFacts): boolean {
  const { errors, warnings } = checkStartup(config, facts);
  // The second check (with the database's facts) repeats the first one's warnings: say them once.
  if (!facts) for (const w of warnings) log(`Warning: ${w}`);
  for (const e of errors) log(`Refusing to start${config.production ? ' with NODE_ENV=production' : ''}: ${e}`);
  return errors.length === 0;
}

async function main(): Promise<void> {
  const config = loadConfig();
  // Before anything is built or opened: a missing secret needs no database to be found.
  if (!startupAllowed(config)) process.exit(1);
  if (config.serveClient) await ensureClientBuild(log);

  const started = Date.now();
  log(config.databaseUrl
    ? 'Connecting to the PostgreSQL + PostGIS server (DATABASE_URL)…'
    : `Opening embedded PostGIS in ${config.dataDir} (the first start creates it: about 30 s)…`);
  const db = await openDb(config, { warn: (message) => log(message) });
  await migrate(db, log);
  log(`Database ready (${db.engine}) in ${((Date.now() - started) / 1000).toFixed(1)} s.`);

  const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM regions`);
  if ((rows[0]?.n ?? 0) === 0 && config.seedRegion) {
    log(`Empty database: seeding the demo district (${config.seedRegion})…`);
    const summary = await seedRegion(db, config.seedRegion, {
      demo: true,
      demoPassword: config.demoPassword,
      history: { offerTimeoutS: config.dispatchOfferTimeoutS },
      progress: progressBar(),
    });
    const t = summary.tickets;
    log(`Seeded ${Object.values(summary.regions).reduce((a, b) => a + b, 0)} regions and ${Object.values(summary.workers).reduce((a, b) => a + b, 0)} workers` +
      (t ? `, and 30 days of tickets: ${t.tickets} received, ${t.closed} closed, ${t.open} still open.` : '.'));
  }

  const demoInUse = await countDemoPasswords(db);
  // A demo database seeded before cameras existed gets the demo cameras (视频监控) once.
  if (demoInUse > 0) {
    const cameras = await seedDemoCamerasIfNone(db);
    if (cameras > 0) log(`Seeded ${cameras} demo cameras.`);
  }
  if (!startupAllowed(config, { demoAccounts: demoInUse })) {
    await db.close();
    process.exit(1);
  }

  // Video consults: Janus as a child process when installed (or JANUS_URL); without it, everything else works.
  const videoConfig = loadVideoConfig(process.env, config.dataDir, config.host);
  const janus = videoConfig.mode === 'off' ? undefined : new JanusSupervisor(videoConfig, log);
  if (janus) {
    // In the background: the server does not wait for video (health says 'unavailable' meanwhile).
    void janus.start().then((up) => log(up
      ? `Video: Janus ${janus.control.health().janus ?? ''} ${videoConfig.mode === 'child' ? `running (pid ${janus.pid ?? '?'})` : `at ${videoConfig.controlUrl}`}; browsers reach it through /api/video/janus.`
      : `Video: Janus did not answer (${janus.control.health().reason ?? 'unknown'}); consults stay unavailable until it does.`));
    if (videoConfig.recording) {
      log(findOnPath('janus-pp-rec') && findOnPath('ffmpeg')
        ? `Video: consults are recorded (CONSULT_RECORDING=1) into ${videoConfig.recordingsDir}.`
        : `Video: consults are recorded (CONSULT_RECORDING=1) but cannot be converted until janus-pp-rec and ffmpeg are installed: ${RECORDING_TOOLS_INSTALL}`);
    }
  } else {
    log(`Video consults unavailable: ${videoConfig.offReason ?? ''}`);
  }

  const app = await build({ db, config, clientDir: config.serveClient ? CLIENT_DIST : undefined, logger: { level: config.logLevel }, video: janus?.control });
  await app.listen({ port: config.port, host: config.host });
  const url = `http://${config.host}:${config.port}`;
  log(`Gridline is running at ${url}  (API docs: ${url}/docs)`);
  if (demoInUse > 0) {
    const shown = config.demoPassword === DEFAULT_DEMO_PASSWORD ? config.demoPassword : '(DEMO_PASSWORD)';
    log(`Demo accounts admin, leader, operator, dispatcher, worker — password: ${shown}`);
  }

  // Traccar's default port for OsmAnd devices, beside the same endpoint at /api/osmand.
  // Same logger and same error handling as the app: stable codes, never internal text.
  const deviceServer = await buildOsmAndServer(app.ingest, app.log.child({ server: 'osmand' }));
  if (config.osmandPort > 0) {
    try {
      await deviceServer.listen({ port: config.osmandPort, host: config.host });
      log(`OsmAnd devices: http://${config.host}:${config.osmandPort}/?id=…&lat=…&lon=… (or ${url}/api/osmand)`);
    } catch (error) {
      log(`OsmAnd port ${config.osmandPort} unavailable (${(error as Error).message}); devices can use ${url}/api/osmand.`);
    }
  }

  let simulator: Simulator | undefined;
  let ticketSimulator: TicketSimulator | undefined;
  let noticeSimulator: NoticeSimulator | undefined;
  let mobilisationSimulator: MobilisationSimulator | undefined;
  let sosSimulator: SosSimulator | undefined;
  if (!config.simulate && config.production) log('Simulator off (NODE_ENV=production; SIMULATE=1 turns it on).');
  if (config.simulate) {
    const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    simulator = new Simulator(db, app.ingest, app.clock, { baseUrl, intervalS: config.simulateIntervalS });
    const n = await simulator.load();
    simulator.start();
    log(`Simulator: ${n} grid workers patrolling (${simulator.onDuty()} on duty now), reporting every ${config.simulateIntervalS} s. SIMULATE=0 turns it off.`);
    if (config.simulateTickets) {
      // Tickets go through the API like everyone's: the simulator's own accounts, tokens from the app's signer.
      ticketSimulator = new TicketSimulator(db, app.clock, simulator, {
        baseUrl,
        sign: (user) => app.issueToken(user),
        rate: config.simulateTicketRate,
        deskGraceS: config.simulateDeskGraceS,
        offerTimeoutS: config.dispatchOfferTimeoutS,
        warn: (message) => app.log.warn(message),
      });
      await ticketSimulator.load();
      await ticketSimulator.start();
      log(ticketSimulator.describe());
    }
    // Simulated phones read the notices sent to them (and reply when asked), through the API.
    noticeSimulator = new NoticeSimulator(db, app.clock, simulator, { baseUrl, sign: (user) => app.issueToken(user), warn: (message) => app.log.warn(message) });
    await noticeSimulator.load();
    await noticeSimulator.start();
    log(noticeSimulator.describe());
    // In an emergency the simulated party members and workers answer the call-up and report in at their grids, through the API.
    mobilisationSimulator = new MobilisationSimulator(db, app.clock, simulator, { baseUrl, sign: (user) => app.issueToken(user), warn: (message) => app.log.warn(message) });
    await mobilisationSimulator.load();
    await mobilisationSimulator.start();
    log(mobilisationSimulator.describe());
    // The rare SOS (SIMULATE_SOS_RATE): through the OsmAnd endpoint; people acknowledge it.
    sosSimulator = new SosSimulator(simulator, app.clock, { baseUrl, ratePerHour: config.simulateSosRate });
    sosSimulator.start();
    log(sosSimulator.describe());
  }

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log(`${signal}: shutting down…`);
    await ticketSimulator?.stop();
    await noticeSimulator?.stop();
    await mobilisationSimulator?.stop();
    sosSimulator?.stop();
    simulator?.stop();
    await deviceServer.close();
    await app.close();
    await janus?.stop();
    await db.close();
    process.exit(0);
  };
  // The last line of defence: every handler catches its own errors, but a promise someone forgot
  // must be logged, not end the centre's server (Node's default is to exit).
  process.on('unhandledRejection', (reason) => app.log.error({ err: reason }, 'unhandled promise rejection'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('[gridline] failed to start:', error);
  process.exit(1);
});
