import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATUS_PAGE_CSP } from './security-headers';

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'status.js': 'text/javascript; charset=utf-8',
  'status.css': 'text/css; charset=utf-8',
};

/**
 * src/admin/status-page/ beside dist/ (in a checkout, and in the image, which copies it):
 * plain files the browser runs as they are, read once at start.
 */
function readAssets(): Map<string, Buffer> | null {
  const dir = join(__dirname, '../../../src/admin/status-page');
  try {
    return new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(join(dir, name))]));
  } catch {
    return null;
  }
}

/**
 * The status page on the admin port: one read-only page that polls /stats and /admin/recent.
 * It holds no token and offers nothing that changes state.
 */
@Controller()
export class StatusPageController {
  private readonly assets = readAssets();

  @Get()
  page(@Res() res: Response): void {
    this.send('index.html', res);
  }

  @Get('status-page/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    if (file === 'index.html' || !Object.hasOwn(ASSETS, file)) throw new NotFoundException();
    this.send(file, res);
  }

  private send(name: string, res: Response): void {
    const body = this.assets?.get(name);
    if (body === undefined) throw new NotFoundException('the status page (src/admin/status-page/) is not installed beside this build');
    res.setHeader('content-security-policy', STATUS_PAGE_CSP);
    // Revalidated each load (the ETag makes that a 304): a new build is seen at once.
    res.setHeader('cache-control', 'no-cache');
    res.status(200).type(ASSETS[name]!).send(body);
  }
}
