import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { CaMaterial } from '../tls/certificate-authority';
import { INTERCEPTION_CA } from '../tls/tls.module';

/** The interception CA's certificate, for clients to trust: PEM, or DER with ?format=der. */
@Controller()
export class CaController {
  constructor(@Inject(INTERCEPTION_CA) private readonly ca: CaMaterial | null) {}

  @Get('ca.crt')
  caCert(@Query('format') format: string | undefined, @Res() res: Response): void {
    if (this.ca === null) {
      res.status(404).type('text/plain').send('no interception CA: INTERCEPT is off (or UPSTREAM_URL is set)\n');
      return;
    }
    if (format !== undefined && format !== 'pem' && format !== 'der') {
      res.status(400).type('text/plain').send('format is pem (the default) or der\n');
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    if (format === 'der') {
      res.status(200).type('application/pkix-cert').send(this.ca.certDer);
    } else {
      res.status(200).type('application/x-pem-file').send(this.ca.certPem);
    }
  }
}
