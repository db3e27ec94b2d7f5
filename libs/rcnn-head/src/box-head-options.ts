import { assertNumber, assertOptions, fail, isPositiveInteger } from '@lumen/core';

/** 'trainable': batch statistics in training (torch nn.BatchNorm2d); 'frozen': running statistics always (FrozenBatchNorm2d). */
export type BatchNormMode = 'frozen' | 'trainable';

export interface BoxHeadOptions {
  /** Channels C of the pooled features. */
  inChannels: number;
  /** [height, width] of the pooled features (7x7 for RoIAlign's usual output). */
  poolSize: [number, number];
  /** Width of the fully connected layers (torchvision's representation_size, 1024). */
  hidden?: number;
  /** `conv-fc` only: channels of each of its four 3x3 convolutions (256). */
  convChannels?: number;
  /** `conv-fc` only: its BatchNorm layers ('trainable', as torchvision's v2 head). */
  batchNorm?: BatchNormMode;
}

export const DEFAULT_MLP_HIDDEN = 1024;

/** The sizes every head with layers of its own reads. */
export interface HeadSizes {
  inChannels: number;
  poolSize: [number, number];
  hidden: number;
}

/** `inChannels`, `poolSize` and `hidden` checked, `hidden` defaulted; `fields` lists the head's options for the message. */
export function checkHeadSizes(fn: string, options: unknown, fields = 'inChannels, poolSize, hidden?'): HeadSizes {
  assertOptions(fn, options, fields);
  assertNumber(fn, 'inChannels', options.inChannels, 'a positive integer', isPositiveInteger);
  const size = options.poolSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => typeof v === 'number' && isPositiveInteger(v))) {
    fail(fn, `'poolSize' must be [height, width] (positive integers), but got ${JSON.stringify(size)}.`);
  }
  const hidden = options.hidden ?? DEFAULT_MLP_HIDDEN;
  assertNumber(fn, 'hidden', hidden, 'a positive integer', isPositiveInteger);
  return { inChannels: options.inChannels, poolSize: size as [number, number], hidden };
}
