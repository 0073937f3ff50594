import { Controller, Get, NotFoundException, Res } from '@nestjs/common';
import type { Response } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** docs/runbook.md beside dist/ (in the image and in a checkout): read once, at start. */
function readRunbook(): string | null {
  try {
    return readFileSync(join(__dirname, '../../../docs/runbook.md'), 'utf8');
  } catch {
    return null;
  }
}

@Controller()
export class RunbookController {
  private readonly text = readRunbook();

  /** The runbook the alerts' runbook_url points at (Prometheus external label runbook_base). */
  @Get('runbook')
  get(@Res() res: Response): void {
    if (this.text === null) throw new NotFoundException('docs/runbook.md is not installed beside this build');
    res.status(200).type('text/markdown; charset=utf-8').send(this.text);
  }
}
