import { interpolateBilinear, resizedSize, type DecodedImage, type ResizeRule } from '@lumen/data';
import sharp from 'sharp';

/**
 * A raw RGB24 video frame as network input: what @lumen/data's decodeImage makes of the same
 * pixels saved as a PNG (the resize rule's size; sharp's bilinear resize, or torchvision's on
 * the frame itself), so a frame gets the objects its extracted image gets.
 */
export async function resizeFrame(pixels: Buffer, width: number, height: number, rule: ResizeRule): Promise<DecodedImage> {
  const size = resizedSize(width, height, rule);
  const resized =
    rule.resize === 'torchvision'
      ? interpolateBilinear(pixels, width, height, size.width, size.height)
      : await sharp(pixels, { raw: { width, height, channels: 3 } }).resize(size.width, size.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  return { pixels: resized, width: size.width, height: size.height, scale: size.scale, originalWidth: width, originalHeight: height };
}
