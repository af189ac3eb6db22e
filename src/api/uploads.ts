/**
 * Multipart uploads: held in memory (bounded by the configured size and count), then sniffed by
 * their content. The client's file name and declared type are never trusted: only bytes that
 * sharp reads as an image, within the pixel limit, go on to the encoders.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import multer from 'multer';
import type { Config } from '../config.js';
import { createError, ParasolError } from '../errors.js';
import { checkImage } from '../services/images.js';

export type UploadedFile = Express.Multer.File;

/** The multipart parser for the given file fields; multer's errors become catalogued ones. */
export function multipart(config: Config, fields: multer.Field[]): RequestHandler {
  const parse = multer({
    storage: multer.memoryStorage(),
    limits: {
      fileSize: config.limits.uploadBytes,
      files: config.limits.uploadFiles,
      fieldSize: config.limits.jsonBytes,
      fields: 16,
      parts: config.limits.uploadFiles + 16,
    },
  }).fields(fields);
  return (req: Request, res: Response, next: NextFunction) => {
    parse(req, res, (error?: unknown) => next(error === undefined ? undefined : uploadError(error, config)));
  };
}

function uploadError(error: unknown, config: Config): ParasolError {
  if (error instanceof ParasolError) return error;
  if (error instanceof multer.MulterError) {
    switch (error.code) {
      case 'LIMIT_FILE_SIZE':
        return createError('PAYLOAD_TOO_LARGE', `${config.limits.uploadBytes} bytes per file`);
      case 'LIMIT_FILE_COUNT':
        return createError('PAYLOAD_TOO_LARGE', `${config.limits.uploadFiles} files`);
      case 'LIMIT_FIELD_VALUE':
        return createError('PAYLOAD_TOO_LARGE', `${config.limits.jsonBytes} bytes per field`);
      case 'LIMIT_PART_COUNT':
      case 'LIMIT_FIELD_COUNT':
        return createError('PAYLOAD_TOO_LARGE', 'the number of parts');
      case 'LIMIT_UNEXPECTED_FILE':
        return createError('BAD_REQUEST', `Unexpected file field "${error.field ?? ''}"`);
      default:
        return createError('BAD_REQUEST', `Malformed multipart body: ${error.message}`);
    }
  }
  // busboy's own errors: a truncated body, a missing boundary, a bad part header.
  return createError('BAD_REQUEST', `Malformed multipart body: ${(error as Error).message ?? 'unreadable'}`);
}

/** The files uploaded under one field name. */
export function filesOf(req: Request, field: string): UploadedFile[] {
  const files = req.files as Record<string, UploadedFile[]> | undefined;
  return files?.[field] ?? [];
}

/** Checks that an upload is an image sharp can decode within the pixel limit; returns its bytes. */
export async function sniffImage(file: UploadedFile, maxPixels: number): Promise<Buffer> {
  return checkImage(file.buffer, maxPixels);
}
