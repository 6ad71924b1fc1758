/**
 * One consult's media, in the browser: a Janus session opened with the join grant (its token opens
 * the videoroom plugin only), a publisher handle joined with the grant's feed id, pin and token
 * (publishing camera and microphone unless watching), and one subscriber handle per remote feed.
 * janus.js is npm's janus-gateway 1.1.4, whose API matches Debian's Janus 1.1.2.
 *
 * The camera and microphone are opened (openCamera) while the join grant is asked for and the Janus
 * session is set up, not after the room is joined: on a busy page (a wall loading its map) every
 * step of the call waits for the main thread, and each step taken off the chain is a wait saved.
 */
import Janus from 'janus-gateway';
import adapter from 'webrtc-adapter';
import type { ConsultGrant } from '@shared/consults-api';

type Handle = {
  getId(): number;
  send(o: { message: Record<string, unknown>; jsep?: unknown; success?: (r: unknown) => void; error?: (e: unknown) => void }): void;
  createOffer(o: Record<string, unknown>): void;
  createAnswer(o: Record<string, unknown>): void;
  handleRemoteJsep(o: { jsep: unknown }): void;
  replaceTracks(o: Record<string, unknown>): void;
  muteAudio(): void;
  unmuteAudio(): void;
  muteVideo(): void;
  unmuteVideo(): void;
  detach(o?: Record<string, unknown>): void;
  webrtcStuff: { pc?: RTCPeerConnection };
};
type JanusSession = { attach(o: Record<string, unknown>): void; destroy(o?: Record<string, unknown>): void };

let initialised: Promise<void> | null = null;
function init(): Promise<void> {
  initialised ??= new Promise((resolve) => {
    (Janus as unknown as { init(o: Record<string, unknown>): void }).init({
      debug: ["warn", "error"],
      dependencies: (Janus as unknown as { useDefaultDependencies(o: unknown): unknown }).useDefaultDependencies({ adapter }),
      callback: () => resolve(),
    });
  });
  return initialised;
}

/** The camera and microphone a talking side publishes, opened ahead of the call. */
export function openCamera(facing: 'environment' | 'user'): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: videoConstraints(facing) });
}

/** The scene sharp enough to read a sign, at a frame rate a phone on 4G and the wall's decoder keep up with. */
function videoConstraints(facing: 'environment' | 'user'): MediaTrackConstraints {
  return { facingMode: { ideal: facing }, width: { ideal: 960 }, height: { ideal: 540 }, frameRate: { ideal: 15, max: 20 } };
}

/** Stops the tracks of a camera opened ahead of a call that never took them (or failed to open it). */
export function releaseCamera(media: Promise<MediaStream> | null): void {
  void media?.then((s) => s.getTracks().forEach((t) => t.stop())).catch(() => {});
}

export interface RemoteFeed {
  feed: number;
  display: string;
  stream: MediaStream;
  framesDecoded: number;
  firstFrameAt: number | null;
}

export interface CallEvents {
  local(stream: MediaStream | null): void;
  remotes(feeds: RemoteFeed[]): void;
  error(message: string): void;
}

export class JanusCall {
  private session: JanusSession | null = null;
  private publisher: Handle | null = null;
  private readonly subscribers = new Map<number, Handle>();
  private readonly feeds = new Map<number, RemoteFeed>();
  private privateId: number | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private localStream: MediaStream | null = null;
  /** The camera opened ahead (openCamera), until the publisher's offer takes its tracks. */
  private media: Promise<MediaStream> | null;
  facing: 'environment' | 'user';

  constructor(private readonly grant: ConsultGrant, private readonly events: CallEvents, facing: 'environment' | 'user' = 'user', media: Promise<MediaStream> | null = null) {
    this.facing = facing;
    this.media = grant.publish ? (media ?? openCamera(facing)) : null;
    // Its failure is reported when the room is joined (publish), not as an unhandled rejection.
    this.media?.catch(() => {});
    if (!grant.publish) releaseCamera(media);
  }

  async start(): Promise<void> {
    if (this.closed) return;
    await init();
    const g = this.grant;
    await new Promise<void>((resolve, reject) => {
      this.session = new (Janus as unknown as new (o: Record<string, unknown>) => JanusSession)({
        server: g.url,
        token: g.token,
        iceServers: g.iceServers,
        success: () => resolve(),
        error: (e: unknown) => {
          if (!this.closed) this.events.error(String(e));
          reject(new Error(String(e)));
        },
      });
    });
    this.session!.attach({
      plugin: 'janus.plugin.videoroom',
      success: (h: Handle) => {
        this.publisher = h;
        h.send({ message: { request: 'join', ptype: 'publisher', room: g.room, pin: g.pin, token: g.token, id: g.feedId, display: g.display } });
      },
      error: (e: unknown) => this.events.error(String(e)),
      onmessage: (msg: Record<string, unknown>, jsep: unknown) => this.onPublisherMessage(msg, jsep),
      onlocaltrack: () => this.emitLocal(),
    });
    this.statsTimer = setInterval(() => void this.pollStats(), 500);
  }

  private emitLocal(): void {
    const pc = this.publisher?.webrtcStuff.pc;
    if (!pc) return;
    const tracks = pc.getSenders().map((s) => s.track).filter((t): t is MediaStreamTrack => !!t && t.kind === 'video');
    this.localStream = tracks.length ? new MediaStream(tracks) : null;
    this.events.local(this.localStream);
  }

  private onPublisherMessage(msg: Record<string, unknown>, jsep: unknown): void {
    const g = this.grant;
    if (msg.error) {
      this.events.error(String(msg.error));
      return;
    }
    if (msg.videoroom === 'joined') {
      this.privateId = msg.private_id as number;
      if (g.publish && this.media) this.publish(this.media);
    }
    const publishers = msg.publishers as Array<{ id: number; display?: string }> | undefined;
    if (publishers) for (const p of publishers) this.subscribe(p.id, p.display ?? '');
    const gone = (msg.unpublished ?? msg.leaving) as number | string | undefined;
    if (typeof gone === 'number') this.dropFeed(gone);
    if (jsep) this.publisher!.handleRemoteJsep({ jsep });
  }

  /** Offers the camera opened ahead (its tracks go to janus.js, which stops them when the call ends). */
  private publish(media: Promise<MediaStream>): void {
    const failed = (e: unknown) => this.events.error(`camera/microphone: ${String((e as Error)?.message ?? e)}`);
    media.then(
      (stream) => {
        this.media = null;
        if (this.closed || !this.publisher) {
          stream.getTracks().forEach((t) => t.stop());
          return;
        }
        this.publisher.createOffer({
          tracks: [
            { type: 'audio', capture: stream.getAudioTracks()[0] ?? true, recv: false },
            { type: 'video', capture: stream.getVideoTracks()[0] ?? videoConstraints(this.facing), recv: false },
          ],
          success: (offer: unknown) => this.publisher!.send({ message: { request: 'configure', audio: true, video: true }, jsep: offer }),
          error: failed,
        });
      },
      (e: unknown) => {
        this.media = null;
        if (!this.closed) failed(e);
      },
    );
  }

  private subscribe(feed: number, display: string): void {
    if (this.closed || feed === this.grant.feedId || this.subscribers.has(feed)) return;
    const g = this.grant;
    const stream = new MediaStream();
    this.feeds.set(feed, { feed, display, stream, framesDecoded: 0, firstFrameAt: null });
    this.session!.attach({
      plugin: 'janus.plugin.videoroom',
      success: (h: Handle) => {
        this.subscribers.set(feed, h);
        h.send({ message: { request: 'join', ptype: 'subscriber', room: g.room, pin: g.pin, token: g.token, streams: [{ feed }], private_id: this.privateId } });
      },
      error: (e: unknown) => this.events.error(String(e)),
      onmessage: (msg: Record<string, unknown>, jsep: unknown) => {
        const h = this.subscribers.get(feed);
        if (!h) return;
        if (msg.error) {
          this.events.error(String(msg.error));
          return;
        }
        if (jsep) {
          h.createAnswer({
            jsep,
            tracks: [{ type: 'data' }],
            success: (answer: unknown) => h.send({ message: { request: 'start', room: g.room }, jsep: answer }),
            error: (e: unknown) => this.events.error(String(e)),
          });
        }
      },
      onremotetrack: (track: MediaStreamTrack, _mid: string, on: boolean) => {
        const f = this.feeds.get(feed);
        if (!f) return;
        if (on) {
          for (const t of f.stream.getTracks()) if (t.kind === track.kind) f.stream.removeTrack(t);
          f.stream.addTrack(track);
        } else {
          f.stream.removeTrack(track);
        }
        this.emitRemotes();
      },
    });
    this.emitRemotes();
  }

  private dropFeed(feed: number): void {
    this.subscribers.get(feed)?.detach();
    this.subscribers.delete(feed);
    this.feeds.delete(feed);
    this.emitRemotes();
  }

  private emitRemotes(): void {
    this.events.remotes([...this.feeds.values()].map((f) => ({ ...f })));
  }

  /** framesDecoded of each remote video, from each subscriber PeerConnection's getStats(). */
  private async pollStats(): Promise<void> {
    let changed = false;
    for (const [feed, h] of this.subscribers) {
      const pc = h.webrtcStuff.pc;
      const f = this.feeds.get(feed);
      if (!pc || !f) continue;
      const stats = await pc.getStats();
      stats.forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && typeof s.framesDecoded === 'number' && s.framesDecoded !== f.framesDecoded) {
          f.framesDecoded = s.framesDecoded;
          if (f.firstFrameAt === null && s.framesDecoded > 0) f.firstFrameAt = Date.now();
          changed = true;
        }
      });
    }
    if (changed) this.emitRemotes();
  }

  setMuted(muted: boolean): void {
    if (muted) this.publisher?.muteAudio();
    else this.publisher?.unmuteAudio();
  }

  setCameraOff(off: boolean): void {
    if (off) this.publisher?.muteVideo();
    else this.publisher?.unmuteVideo();
  }

  /** Front ↔ rear camera (the phone opens on the rear one: the worker shows the scene). */
  switchCamera(): void {
    this.facing = this.facing === 'environment' ? 'user' : 'environment';
    this.publisher?.replaceTracks({
      tracks: [{ type: 'video', mid: '1', capture: videoConstraints(this.facing) }],
      success: () => this.emitLocal(),
      error: (e: unknown) => this.events.error(String(e)),
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    releaseCamera(this.media);
    this.media = null;
    try {
      this.publisher?.send({ message: { request: 'leave' } });
    } catch {
      // The session may be gone already.
    }
    this.session?.destroy({ cleanupHandles: true, notifyDestroyed: false });
    this.session = null;
  }
}
