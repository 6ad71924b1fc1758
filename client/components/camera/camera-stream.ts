/**
 * One camera's live picture in the browser, from a play grant:
 * - WebRTC: a Janus session through the server's proxy with the grant as its token (redeemed once:
 *   the proxy swaps it for a Janus token and adds the mountpoint's pin), `watch` the mountpoint,
 *   answer Janus's offer receive-only; the track goes into the <video>.
 * - HLS: hls.js loads the same-origin playlist, sending the signed-in user's token with each request
 *   (the playlist and segments are served to the grant's viewer only).
 * Both report frames decoded (getStats / getVideoPlaybackQuality) so the player can say "live".
 */
import Janus from 'janus-gateway';
import adapter from 'webrtc-adapter';
import Hls from 'hls.js';
import type { PlayGrant, WebRtcGrant, HlsGrant } from '@shared/cameras-api';
import { currentToken } from '@client/api';

type Handle = {
  send(o: { message: Record<string, unknown>; jsep?: unknown }): void;
  createAnswer(o: Record<string, unknown>): void;
  detach(o?: Record<string, unknown>): void;
  webrtcStuff: { pc?: RTCPeerConnection };
};
type JanusSession = { attach(o: Record<string, unknown>): void; destroy(o?: Record<string, unknown>): void };

let initialised: Promise<void> | null = null;
function init(): Promise<void> {
  initialised ??= new Promise((resolve) => {
    (Janus as unknown as { init(o: Record<string, unknown>): void }).init({
      debug: import.meta.env.DEV ? 'all' : ['warn', 'error'],
      dependencies: (Janus as unknown as { useDefaultDependencies(o: unknown): unknown }).useDefaultDependencies({ adapter }),
      callback: () => resolve(),
    });
  });
  return initialised;
}

export interface StreamEvents {
  /** Frames shown so far (grows while the picture is live). */
  frames(n: number): void;
  error(message: string): void;
}

export interface CameraStream {
  close(): void;
}

export function startStream(grant: PlayGrant, video: HTMLVideoElement, events: StreamEvents): CameraStream {
  return grant.kind === 'webrtc' ? watchWebRtc(grant, video, events) : watchHls(grant, video, events);
}

function watchWebRtc(g: WebRtcGrant, video: HTMLVideoElement, outer: StreamEvents): CameraStream {
  let closed = false;
  // The first error says why (a refused grant, then the connection the proxy closes): keep that one.
  let failed = false;
  const events: StreamEvents = {
    frames: (n) => outer.frames(n),
    error: (message) => {
      if (failed) return;
      failed = true;
      outer.error(message);
    },
  };
  let session: JanusSession | null = null;
  let handle: Handle | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;
  const stream = new MediaStream();
  video.srcObject = stream;
  void init().then(() => {
    if (closed) return;
    session = new (Janus as unknown as new (o: Record<string, unknown>) => JanusSession)({
      server: g.url,
      token: g.token,
      iceServers: g.iceServers,
      success: () => {
        if (closed) return;
        session!.attach({
          plugin: 'janus.plugin.streaming',
          success: (h: Handle) => {
            handle = h;
            h.send({ message: { request: 'watch', id: g.mountpoint } });
          },
          error: (e: unknown) => events.error(String(e)),
          onmessage: (msg: Record<string, unknown>, jsep: unknown) => {
            if (msg.error) {
              events.error(String(msg.error));
              return;
            }
            if (jsep && handle) {
              const h = handle;
              h.createAnswer({
                jsep,
                tracks: [{ type: 'data' }],
                success: (answer: unknown) => h.send({ message: { request: 'start' }, jsep: answer }),
                error: (e: unknown) => events.error(String(e)),
              });
            }
          },
          onremotetrack: (track: MediaStreamTrack, _mid: string, on: boolean) => {
            if (track.kind !== 'video') return;
            for (const t of stream.getVideoTracks()) stream.removeTrack(t);
            if (on) stream.addTrack(track);
            video.srcObject = stream;
            void video.play().catch(() => {});
          },
        });
      },
      error: (e: unknown) => {
        if (!closed) events.error(String(e));
      },
    });
  });
  timer = setInterval(() => {
    const pc = handle?.webrtcStuff.pc;
    if (!pc) return;
    void pc.getStats().then((stats) => {
      stats.forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && typeof s.framesDecoded === 'number') events.frames(s.framesDecoded);
      });
    });
  }, 500);
  return {
    close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
      try {
        handle?.send({ message: { request: 'stop' } });
        handle?.detach();
        session?.destroy({ notifyDestroyed: false });
      } catch {
        // already gone
      }
      video.srcObject = null;
    },
  };
}

function watchHls(g: HlsGrant, video: HTMLVideoElement, events: StreamEvents): CameraStream {
  if (!Hls.isSupported()) {
    events.error('此浏览器不支持 HLS 播放（Media Source Extensions）');
    return { close() {} };
  }
  const hls = new Hls({
    lowLatencyMode: true,
    liveSyncDurationCount: 2,
    maxLiveSyncPlaybackRate: 1.5,
    xhrSetup: (xhr) => {
      const token = currentToken();
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    },
  });
  let fatal = 0;
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && fatal++ < 3) {
      hls.recoverMediaError();
      return;
    }
    events.error(data.response?.code === 403 ? '播放授权已失效' : `HLS: ${data.details}`);
  });
  hls.loadSource(g.playlist);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => {}));
  const timer = setInterval(() => {
    const q = video.getVideoPlaybackQuality?.();
    if (q) events.frames(q.totalVideoFrames);
  }, 500);
  return {
    close() {
      clearInterval(timer);
      hls.destroy();
      video.removeAttribute('src');
    },
  };
}
