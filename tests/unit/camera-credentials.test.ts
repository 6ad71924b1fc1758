/**
 * Camera source credentials, write-only in the editor: set into the URL the server keeps (encoded),
 * kept or removed on request, and split back out for Janus (rtsp_user / rtsp_pwd) with a URL that
 * carries none.
 */
import { describe, expect, it } from 'vitest';
import { withCredentials } from '../../server/modules/cameras/service';
import { redactSource, splitCredentials } from '../../server/modules/cameras/media';

describe('camera source credentials', () => {
  it('sets, keeps and removes credentials; demo sources have none', () => {
    const url = withCredentials('rtsp://10.0.0.21:554/Streaming/Channels/101', 'admin', 'p@ss:w0rd/1');
    expect(url).toBe('rtsp://admin:p%40ss%3Aw0rd%2F1@10.0.0.21:554/Streaming/Channels/101');
    expect(withCredentials(url, undefined, undefined)).toBe(url);
    expect(withCredentials(url, undefined, 'new')).toBe('rtsp://admin:new@10.0.0.21:554/Streaming/Channels/101');
    expect(withCredentials(url, '', '')).toBe('rtsp://10.0.0.21:554/Streaming/Channels/101');
    expect(withCredentials('demo:', 'a', 'b')).toBe('demo:');
  });

  it('splits them out for Janus and hides them from admins', () => {
    const url = withCredentials('rtsp://10.0.0.21:554/live?channel=1', 'admin', 'p@ss:w0rd/1');
    expect(splitCredentials(url)).toEqual({ url: 'rtsp://10.0.0.21:554/live?channel=1', user: 'admin', password: 'p@ss:w0rd/1' });
    expect(redactSource(url)).not.toContain('p%40ss');
    expect(redactSource(url)).toContain('rtsp://10.0.0.21:554/live');
  });
});
