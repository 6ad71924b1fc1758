// The part of janode (Meetecho's Node client for Janus, plain JavaScript) Gridline uses.
declare module 'janode' {
  import type { EventEmitter } from 'node:events';
  export interface JanodeHandle extends EventEmitter {
    id: number;
    message(body: Record<string, unknown>, jsep?: unknown): Promise<JanusResponse>;
    detach(): Promise<void>;
  }
  export interface JanodeSession extends EventEmitter {
    id: number;
    attach(plugin: { id: string; Handle: unknown }): Promise<JanodeHandle>;
    destroy(): Promise<void>;
  }
  export interface JanusResponse {
    janus: string;
    plugindata?: { plugin: string; data: Record<string, unknown> };
    data?: Record<string, unknown>;
    [key: string]: unknown;
  }
  export interface JanodeConnection extends EventEmitter {
    create(keepAliveS?: number): Promise<JanodeSession>;
    getInfo(): Promise<JanusResponse & { version_string?: string; version?: number }>;
    sendRequest(request: Record<string, unknown>): Promise<JanusResponse>;
    close(): Promise<void>;
  }
  const Janode: {
    connect(config: { is_admin?: boolean; address: { url: string; apisecret?: string; token?: string } | Array<{ url: string; apisecret?: string }>; retry_time_secs?: number; max_retries?: number }): Promise<JanodeConnection>;
    Logger: { setLevel(level: string): string };
    EVENT: Record<string, string>;
  };
  export default Janode;
}
declare module 'janode/plugins/videoroom' {
  const VideoRoomPlugin: { id: string; Handle: unknown; EVENT: Record<string, string> };
  export default VideoRoomPlugin;
}
declare module 'janode/handle' {
  const Handle: unknown;
  export default Handle;
}
