import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { CaMaterial, LeafCertificates, loadCa } from './certificate-authority';

/** The interception CA (null unless INTERCEPT is on in forward mode). */
export const INTERCEPTION_CA = Symbol('INTERCEPTION_CA');

/** Interception's certificates: the CA, loaded or generated before the data port opens, and the leaf cache. */
@Module({
  providers: [
    {
      provide: INTERCEPTION_CA,
      inject: [TIERCEL_CONFIG, LOGGER],
      useFactory: async (c: TiercelConfig, log: Logger): Promise<CaMaterial | null> =>
        c.tls.intercept && c.proxy.upstream === null ? loadCa(c.tls, c.cache.name, log) : null,
    },
    {
      provide: LeafCertificates,
      inject: [TIERCEL_CONFIG, INTERCEPTION_CA],
      useFactory: (c: TiercelConfig, ca: CaMaterial | null) => (ca === null ? null : new LeafCertificates(ca, c.tls.leafCacheSize)),
    },
  ],
  exports: [INTERCEPTION_CA, LeafCertificates],
})
export class TlsModule {}
