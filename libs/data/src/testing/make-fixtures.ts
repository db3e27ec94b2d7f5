/**
 * Writes the fixture datasets under libs/data/src/fixtures (committed; tests need no
 * generation):
 *
 *   npx tsx --tsconfig tools/tsconfig.json libs/data/src/testing/make-fixtures.ts
 *
 * Images are tiny and patterned (left half red, right half blue, top quarter green) so
 * orientation and flips show in the pixels. Each dataset has valid and broken files; the
 * comments say what each is for, and the specs count on exactly these contents.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const ROOT = join(__dirname, '..', 'fixtures');

/** RGB bytes of the pattern. */
export function pattern(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = x < width / 2 ? 220 : 20;
      data[o + 1] = y < height / 4 ? 200 : 30;
      data[o + 2] = x >= width / 2 ? 220 : 20;
    }
  }
  return data;
}

const raw = (width: number, height: number) => sharp(pattern(width, height), { raw: { width, height, channels: 3 } });

async function image(path: string, width: number, height: number, format: 'jpeg' | 'png' | 'webp', orientation?: number): Promise<void> {
  let s = raw(width, height);
  if (orientation != null) s = s.withMetadata({ orientation });
  const out = format === 'jpeg' ? s.jpeg({ quality: 95 }) : format === 'png' ? s.png() : s.webp({ lossless: true });
  writeFileSync(path, await out.toBuffer());
}

function write(path: string, text: string): void {
  writeFileSync(path, text);
}

function vocXml(filename: string, width: number | null, height: number | null, objects: string[]): string {
  const size = width == null ? '' : `  <size><width>${width}</width><height>${height}</height><depth>3</depth></size>\n`;
  return `<annotation>\n  <filename>${filename}</filename>\n${size}${objects.join('')}</annotation>\n`;
}

function object(name: string, box: (number | string)[] | null, difficult = 0): string {
  const bnd = box == null ? '' : `    <bndbox><xmin>${box[0]}</xmin><ymin>${box[1]}</ymin><xmax>${box[2]}</xmax><ymax>${box[3]}</ymax></bndbox>\n`;
  return `  <object>\n    <name>${name}</name>\n    <difficult>${difficult}</difficult>\n${bnd}  </object>\n`;
}

async function voc(): Promise<void> {
  const dir = join(ROOT, 'voc');
  for (const sub of ['JPEGImages', 'Annotations', 'ImageSets/Main']) mkdirSync(join(dir, sub), { recursive: true });
  const img = (name: string) => join(dir, 'JPEGImages', name);
  const ann = (id: string, text: string) => write(join(dir, 'Annotations', `${id}.xml`), text);
  // 000001: valid, two boxes (one difficult).
  await image(img('000001.jpg'), 64, 48, 'jpeg');
  ann('000001', vocXml('000001.jpg', 64, 48, [object('dog', [5, 6, 30, 40]), object('cat', [20, 10, 60, 45], 1)]));
  // 000002: PNG; one box clipped, one outside, one with x2 <= x1, one unknown when classes are given.
  await image(img('000002.png'), 48, 64, 'png');
  ann('000002', vocXml('000002.png', 48, 64, [object('person', [41, 51, 60, 64]), object('dog', [100, 100, 120, 120]), object('cat', [31, 10, 20, 20]), object('unicorn', [1, 1, 10, 10])]));
  // 000003: EXIF orientation 6: stored 64x32, displayed 32x64 (the annotation's size).
  await image(img('000003.jpg'), 64, 32, 'jpeg', 6);
  ann('000003', vocXml('000003.jpg', 32, 64, [object('dog', [1, 1, 16, 32])]));
  // 000004: not an image.
  write(img('000004.jpg'), 'this is not a JPEG\n');
  ann('000004', vocXml('000004.jpg', 64, 48, [object('cat', [1, 1, 10, 10])]));
  // 000005: malformed XML (a tag never closed, line 4).
  await image(img('000005.webp'), 40, 40, 'webp');
  write(join(dir, 'Annotations', '000005.xml'), '<annotation>\n  <filename>000005.webp</filename>\n  <size><width>40</width><height>40</height></size>\n  <object><name>dog</name>\n</annotation>\n');
  // 000006: no objects (kept, background only); no <size>: read from the WebP header.
  await image(img('000006.webp'), 40, 40, 'webp');
  ann('000006', vocXml('000006.webp', null, null, []));
  // 000007: listed, no annotation file.
  // 000008: annotation, no image.
  ann('000008', vocXml('000008.jpg', 64, 48, [object('dog', [1, 1, 10, 10])]));
  // 000009: NaN coordinate and an object without <bndbox>; one good box.
  await image(img('000009.jpg'), 64, 48, 'jpeg');
  ann('000009', vocXml('000009.jpg', 64, 48, [object('dog', ['abc', 1, 10, 10]), object('cat', null), object('person', [2, 3, 50, 40])]));
  // 000010: the annotation's size disagrees with the image (found when decoding).
  await image(img('000010.jpg'), 64, 48, 'jpeg');
  ann('000010', vocXml('000010.jpg', 48, 64, [object('dog', [1, 1, 10, 10])]));
  write(join(dir, 'ImageSets/Main/train.txt'), ['000001', '000002', '000003', '000004', '000005', '000006', '000007', '000008', '000009', '000010', '000001', ''].join('\n'));
  write(join(dir, 'ImageSets/Main/val.txt'), '000003\n000006\n');
  // No test.txt: the test split is missing.
}

async function coco(): Promise<void> {
  const dir = join(ROOT, 'coco');
  mkdirSync(join(dir, 'annotations'), { recursive: true });
  mkdirSync(join(dir, 'train'), { recursive: true });
  await image(join(dir, 'train', 'a.jpg'), 64, 48, 'jpeg');
  await image(join(dir, 'train', 'b.png'), 48, 64, 'png');
  await image(join(dir, 'train', 'c.jpg'), 32, 32, 'jpeg');
  const train = {
    info: { description: 'lumen fixture' },
    images: [
      { id: 1, file_name: 'a.jpg', width: 64, height: 48 },
      { id: 2, file_name: 'b.png', width: 48, height: 64 },
      { id: 3, file_name: 'missing.jpg', width: 10, height: 10 },
      { id: 4, file_name: 'c.jpg' }, // no size: read from the header
      { id: 1, file_name: 'a.jpg', width: 64, height: 48 }, // duplicate id
    ],
    categories: [
      { id: 3, name: 'dog' },
      { id: 1, name: 'cat' },
      { id: 7, name: 'bird' },
    ],
    annotations: [
      { id: 10, image_id: 1, category_id: 3, bbox: [4, 5, 20, 30], iscrowd: 0 },
      { id: 11, image_id: 1, category_id: 1, bbox: [30, 10, 30.5, 20], iscrowd: 1 },
      { id: 12, image_id: 1, category_id: 7, bbox: [10, 10, 0, 5], iscrowd: 0 }, // w = 0
      { id: 13, image_id: 2, category_id: 3, bbox: [1, 2, 'x', 4], iscrowd: 0 }, // NaN
      { id: 14, image_id: 99, category_id: 3, bbox: [1, 2, 3, 4], iscrowd: 0 }, // no image 99
      { id: 15, image_id: 2, category_id: 42, bbox: [1, 2, 3, 4], iscrowd: 0 }, // unknown category
      { id: 16, image_id: 2, category_id: 1, bbox: [40, 50, 20, 20], iscrowd: 0 }, // clipped to 48x64
      { id: 17, image_id: 2, category_id: 7, bbox: [2, 2, 10, 12], iscrowd: 0 },
      { id: 18, image_id: 2, category_id: 7, bbox: [1, 2, 3] }, // malformed
    ],
  };
  write(join(dir, 'annotations', 'instances_train.json'), `${JSON.stringify(train, null, 1)}\n`);
  // val: malformed JSON (line 3).
  write(join(dir, 'annotations', 'instances_val.json'), '{\n "images": [],\n "categories": [ {"id": 1 "name": "cat"} ]\n}\n');
  // No instances_test.json.
}

async function csv(): Promise<void> {
  const dir = join(ROOT, 'csv');
  mkdirSync(join(dir, 'train'), { recursive: true });
  await image(join(dir, 'a.jpg'), 64, 48, 'jpeg');
  await image(join(dir, 'b.png'), 48, 64, 'png');
  await image(join(dir, 'train', 'c.jpg'), 32, 32, 'jpeg');
  write(join(dir, 'broken.jpg'), 'not an image\n');
  write(
    join(dir, 'train.csv'),
    [
      'image_id,xmin,ymin,xmax,ymax,label', // 1: header
      'a.jpg,4,5,24,35,dog', // 2
      'a.jpg,30,10,60.5,30,cat', // 3
      'b,40,50,60,70,cat', // 4: no extension (b.png); clipped to 48x64
      'c.jpg,,,,,', // 5: image without boxes (train/c.jpg)
      'missing.jpg,1,2,3,4,dog', // 6: no such image
      'a.jpg,1,2', // 7: too few columns
      'b,1,x,5,6,dog', // 8: NaN
      'b,10,10,5,20,dog', // 9: x2 <= x1
      'broken.jpg,1,1,5,5,dog', // 10: unreadable image
      '',
    ].join('\n'),
  );
  // val: no header; the last row opens a quote never closed.
  write(join(dir, 'val.csv'), ['a.jpg,1,1,20,20,bird', 'b.png,2,2,30,30,dog', '"c.jpg,1,1,5,5,cat', ''].join('\n'));
}

async function images(): Promise<void> {
  const dir = join(ROOT, 'images');
  mkdirSync(dir, { recursive: true });
  await image(join(dir, 'pattern.jpg'), 40, 30, 'jpeg');
  await image(join(dir, 'pattern.png'), 40, 30, 'png');
  await image(join(dir, 'pattern.webp'), 40, 30, 'webp');
  await image(join(dir, 'rotated.jpg'), 40, 20, 'jpeg', 6); // displayed 20x40
  // Grey, RGBA and 16-bit PNGs.
  writeFileSync(join(dir, 'grey.png'), await sharp(Buffer.alloc(16 * 8, 100), { raw: { width: 16, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer());
  writeFileSync(join(dir, 'rgba.png'), await sharp(Buffer.alloc(16 * 8 * 4, 150), { raw: { width: 16, height: 8, channels: 4 } }).png().toBuffer());
  const deep = new Uint16Array(16 * 8 * 3).fill(40000);
  writeFileSync(join(dir, 'deep.png'), await sharp(deep, { raw: { width: 16, height: 8, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
  const jpeg = await raw(40, 30).jpeg().toBuffer();
  writeFileSync(join(dir, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
}

async function main(): Promise<void> {
  rmSync(ROOT, { recursive: true, force: true });
  await Promise.all([voc(), coco(), csv(), images()]);
  console.log(`fixtures written to ${ROOT}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
