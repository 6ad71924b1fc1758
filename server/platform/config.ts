/**
 * Configuration from the environment, read once. Every variable is documented in the README's
 * configuration table; defaults make `npm start` work with nothing set.
 */
export interface Config {
  port: number;
  host: string;
  /** PostgreSQL + PostGIS server; unset → embedded PGlite in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  production: boolean;
  /** Password of the seeded demo accounts. */
  demoPassword: string;
  /** HMAC secret for login tokens (JWT_SECRET). Production needs it or jwtSecretFile; elsewhere unset → a key file in dataDir. */
  jwtSecret: string | undefined;
  /** A file holding the HMAC secret (JWT_SECRET_FILE), e.g. a mounted secret. */
  jwtSecretFile: string | undefined;
  /** Login token lifetime in seconds. */
  tokenTtlS: number;
  /** Region seeded into an empty database at start ('' disables). */
  seedRegion: string;
  /** Serve the built dashboard (dist/client) from the same port. */
  serveClient: boolean;
  logLevel: string;
  /** Run the simulated work force (SIMULATE=0 turns it off; in production it runs only with SIMULATE=1). */
  simulate: boolean;
  /** Seconds between a simulated worker's reports. */
  simulateIntervalS: number;
  /** Simulated tickets: filed by the simulated work force and centre, handled by simulated workers and desks. */
  simulateTickets: boolean;
  /** Multiplier on the published filing rhythm (1 ≈ 30 tickets/h for Yingze's 853 grids; 0 files none). */
  simulateTicketRate: number;
  /** Seconds a simulated desk waits before acting on a simulated ticket (a person can act first). */
  simulateDeskGraceS: number;
  /** Simulated SOS alarms per hour across the district (0: none); nothing simulated acknowledges them. */
  simulateSosRate: number;
  /** A worker with no position for this long turns offline, ms. */
  offlineAfterMs: number;
  /** Tick of live deltas to dashboards, ms (50: a fix waits at most one tick, so device→dashboard p99 stays under 100 ms). */
  tickMs: number;
  /** Extra port for OsmAnd devices (Traccar's default 5055); 0 disables. */
  osmandPort: number;
  /** A device fix older than this is refused (POSITION_TOO_OLD), days. */
  fixMaxAgeDays: number;
  /** Fixes waiting for the database at most; beyond them ingest answers 503 SERVICE_UNAVAILABLE with Retry-After. */
  writerMaxQueue: number;
  /** Fixes one device-stream socket may send per second (beyond: RATE_LIMITED). */
  streamMaxFixesPerS: number;
  /** Optional raster basemap URL template ({z}/{x}/{y}) for deployments with internet. */
  basemapUrl: string | null;
  /** An offered task not accepted or declined within this long goes to the next candidate, s (0: never). */
  dispatchOfferTimeoutS: number;
  /** A worker whose newest position is older than this is not recommended, s. */
  dispatchMaxFixAgeS: number;
  /** A worker holding this many open tasks (dispatched, accepted, in progress) is not recommended. */
  dispatchMaxOpenTasks: number;
  /** Failed logins allowed per account (username, lower-cased) per login window. */
  loginLimitPerAccount: number;
  /** Failed logins allowed per client address per login window. */
  loginLimitPerAddress: number;
  /** The window those failures are counted in, s. */
  loginLimitWindowS: number;
  /** Password hashes (19 MiB each) computed at once. */
  passwordHashConcurrency: number;
  /** Password hashes that may wait for a slot; beyond them a login gets 503 SERVICE_UNAVAILABLE. */
  passwordHashQueue: number;
  /** `workers.resync` requests one socket may make per minute. */
  resyncLimitPerMinute: number;
  /** Position history kept, days: older daily partitions of worker_positions are dropped whole. */
  positionRetentionDays: number;
  /** Consecutive fixes further apart than this split a track into segments (never bridged), s. */
  trackGapS: number;
  /** Trips and stops, Traccar's rules: a trip covers at least this distance, m… */
  tripMinDistanceM: number;
  /** …or lasts at least this long, s. */
  tripMinDurationS: number;
  /** Standing still this long makes a stop, s. */
  tripMinParkingS: number;
  /** No fix for this long ends a trip, s. */
  tripMaxNoDataS: number;
  /** Moving means a speed above this, knots. */
  tripSpeedThresholdKn: number;
}

export const DEFAULT_DEMO_PASSWORD = 'gridline-demo';

function int(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function nonNegative(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

function atLeastOne(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const value = int(name, fallback, env);
  if (value < 1) throw new Error(`${name} must be at least 1, got "${env[name]}"`);
  return value;
}

/** Simulated workers and tickets: on by default, but never in production unless SIMULATE=1 asks. */
function simulate(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production' ? env.SIMULATE === '1' : env.SIMULATE !== '0';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int('PORT', 3000, env),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR || './data',
    production: env.NODE_ENV === 'production',
    demoPassword: env.DEMO_PASSWORD || DEFAULT_DEMO_PASSWORD,
    jwtSecret: env.JWT_SECRET || undefined,
    jwtSecretFile: env.JWT_SECRET_FILE || undefined,
    tokenTtlS: int('TOKEN_TTL_S', 12 * 3600, env),
    seedRegion: env.SEED_REGION ?? 'yingze',
    serveClient: env.SERVE_CLIENT !== '0',
    logLevel: env.LOG_LEVEL || 'info',
    simulate: simulate(env),
    simulateIntervalS: int('SIMULATE_INTERVAL_S', 10, env),
    // Needs the patrolling work force: on by default wherever SIMULATE is.
    simulateTickets: simulate(env) && env.SIMULATE_TICKETS !== '0',
    simulateTicketRate: nonNegative('SIMULATE_TICKET_RATE', 1, env),
    simulateDeskGraceS: int('SIMULATE_DESK_GRACE_S', 120, env),
    simulateSosRate: nonNegative('SIMULATE_SOS_RATE', 0, env),
    offlineAfterMs: int('OFFLINE_AFTER_S', 300, env) * 1000,
    tickMs: int('TICK_MS', 50, env),
    osmandPort: int('OSMAND_PORT', 5055, env),
    fixMaxAgeDays: atLeastOne('FIX_MAX_AGE_DAYS', 7, env),
    writerMaxQueue: atLeastOne('WRITER_MAX_QUEUE', 50_000, env),
    streamMaxFixesPerS: atLeastOne('STREAM_MAX_FIXES_PER_S', 20_000, env),
    basemapUrl: env.BASEMAP_URL || null,
    dispatchOfferTimeoutS: int('DISPATCH_OFFER_TIMEOUT_S', 180, env),
    dispatchMaxFixAgeS: int('DISPATCH_MAX_FIX_AGE_S', 180, env),
    dispatchMaxOpenTasks: atLeastOne('DISPATCH_MAX_OPEN_TASKS', 1, env),
    loginLimitPerAccount: atLeastOne('LOGIN_LIMIT_PER_ACCOUNT', 10, env),
    loginLimitPerAddress: atLeastOne('LOGIN_LIMIT_PER_ADDRESS', 30, env),
    loginLimitWindowS: atLeastOne('LOGIN_LIMIT_WINDOW_S', 15 * 60, env),
    passwordHashConcurrency: atLeastOne('PASSWORD_HASH_CONCURRENCY', 4, env),
    passwordHashQueue: int('PASSWORD_HASH_QUEUE', 16, env),
    resyncLimitPerMinute: atLeastOne('RESYNC_LIMIT_PER_MINUTE', 6, env),
    positionRetentionDays: atLeastOne('POSITION_RETENTION_DAYS', 180, env),
    trackGapS: atLeastOne('TRACK_GAP_S', 300, env),
    tripMinDistanceM: nonNegative('TRIP_MIN_DISTANCE_M', 500, env),
    tripMinDurationS: int('TRIP_MIN_DURATION_S', 300, env),
    tripMinParkingS: int('TRIP_MIN_PARKING_S', 300, env),
    tripMaxNoDataS: atLeastOne('TRIP_MAX_NO_DATA_S', 3600, env),
    tripSpeedThresholdKn: nonNegative('TRIP_SPEED_THRESHOLD_KN', 0.01, env),
  };
}
