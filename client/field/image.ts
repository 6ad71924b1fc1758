/**
 * Photos are made smaller on the phone before they are queued: a camera's 12-megapixel JPEG
 * becomes about 1600 px on its longest side (a few hundred KB), which uploads over a weak signal
 * and fits the queue. Anything the browser cannot decode is kept as it was (the server checks it).
 */

/** Longest side after resizing, px. */
export const PHOTO_LONGEST_PX = 1600;
const QUALITY = 0.82;

function canvasBlob(canvas: HTMLCanvasElement): Promise<Blob | null> {
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
}

/** The photo as a JPEG at most `longest` px on its longest side (never enlarged). */
export async function resizePhoto(file: Blob, longest = PHOTO_LONGEST_PX): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    // Honour the camera's EXIF rotation, so portrait photos stay upright.
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return file;
  }
  try {
    const scale = Math.min(1, longest / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (!ctx) return file;
    // JPEG has no transparency: a transparent PNG gets a white ground, not a black one.
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0, width, height);
    return (await canvasBlob(canvas)) ?? file;
  } finally {
    bitmap.close();
  }
}
